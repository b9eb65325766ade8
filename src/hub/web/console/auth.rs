//! The organiser's login: one password per hub (an Argon2id hash in the hub's data
//! directory, set with `badge-kiosk hub passwd`), sessions in memory behind an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` over HTTPS), a per-session token on every form,
//! per-address limits on login attempts, and a Host check against DNS rebinding.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use thiserror::Error;

/// The file, in the hub's data directory, holding the organiser password's Argon2id hash.
pub const PASSWORD_FILE: &str = crate::datadir::CONSOLE_PASSWORD_FILE;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "bk_console";
/// A session lasts a show day; the organiser logs in again the next morning.
pub const SESSION_MS: i64 = 14 * 3_600_000;
/// Failed logins allowed per address within [`LOGIN_WINDOW_MS`].
pub const LOGIN_ATTEMPTS: usize = 5;
pub const LOGIN_WINDOW_MS: i64 = 15 * 60_000;
/// The shortest password `hub passwd` accepts.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Sessions and rate-limited addresses kept at most (oldest dropped first).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Error)]
pub enum PasswordError {
    #[error(
        "the organiser password must have at least {MIN_PASSWORD_CHARS} characters: choose a longer one and run the command again"
    )]
    TooShort,
    #[error("cannot write the organiser password to {path}: {failure} (check that the hub's data directory exists and is writable)")]
    Write { path: PathBuf, failure: std::io::Error },
    #[error("cannot read the organiser password file {path}: {failure}")]
    Read { path: PathBuf, failure: std::io::Error },
    #[error("the organiser password file {0} is damaged: set the password again with `badge-kiosk hub passwd`")]
    Damaged(PathBuf),
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Hashes `password` (Argon2id, random salt) and writes it to `data_dir`, mode 0600,
/// replacing any earlier password. Sessions already open stay open until they expire or
/// the hub restarts.
pub fn set_password(data_dir: &Path, password: &str) -> Result<PathBuf, PasswordError> {
    let password = password.trim_end_matches(['\r', '\n']);
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|failure| PasswordError::Hash(failure.to_string()))?
        .to_string();
    let path = data_dir.join(PASSWORD_FILE);
    let write = |failure| PasswordError::Write {
        path: path.clone(),
        failure,
    };
    std::fs::create_dir_all(data_dir).map_err(write)?;
    // Written beside, then renamed: a crash never leaves half a hash (and no password).
    let temporary = data_dir.join(format!("{PASSWORD_FILE}.new"));
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(write)?;
        file.write_all(format!("{hash}\n").as_bytes()).map_err(write)?;
        file.sync_all().map_err(write)?;
    }
    std::fs::rename(&temporary, &path).map_err(write)?;
    Ok(path)
}

/// The stored hash, or None when no password was set.
pub fn stored_hash(data_dir: &Path) -> Result<Option<String>, PasswordError> {
    let path = data_dir.join(PASSWORD_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let hash = text.trim().to_owned();
            PasswordHash::new(&hash).map_err(|_| PasswordError::Damaged(path.clone()))?;
            Ok(Some(hash))
        }
        Err(failure) if failure.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(failure) => Err(PasswordError::Read { path, failure }),
    }
}

/// Checks `password` against a stored hash (slow on purpose: run it on a blocking thread).
pub fn verify_password(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// Compares two secrets in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.ct_eq(b))
}

fn random_hex() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An open organiser session: its form token and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub csrf: String,
    pub expires_ms: i64,
}

/// Open sessions by cookie value, kept in memory: a restart of the hub logs everyone out.
#[derive(Debug, Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session; returns (cookie value, session).
    pub fn open(&self, now_ms: i64) -> (String, Session) {
        let id = random_hex();
        let session = Session {
            csrf: random_hex(),
            expires_ms: now_ms + SESSION_MS,
        };
        if let Ok(mut open) = self.open.lock() {
            open.retain(|_, session| session.expires_ms > now_ms);
            if open.len() >= MAX_ENTRIES {
                if let Some(oldest) = open
                    .iter()
                    .min_by_key(|(_, session)| session.expires_ms)
                    .map(|(id, _)| id.clone())
                {
                    open.remove(&oldest);
                }
            }
            open.insert(id.clone(), session.clone());
        }
        (id, session)
    }

    /// The live session of this cookie value, if any.
    pub fn find(&self, id: &str, now_ms: i64) -> Option<Session> {
        let open = self.open.lock().ok()?;
        open.iter()
            .find(|(candidate, _)| constant_time_eq(candidate.as_bytes(), id.as_bytes()))
            .map(|(_, session)| session.clone())
            .filter(|session| session.expires_ms > now_ms)
    }

    pub fn close(&self, id: &str) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(id);
        }
    }
}

/// Login attempts allowed across all addresses within [`LOGIN_WINDOW_MS`], so that many
/// addresses (a botnet, or one laptop cycling through addresses) cannot guess faster than
/// this per window. Loopback is exempt: the organiser at the hub machine itself can always
/// log in while someone guesses from the network.
pub const LOGIN_ATTEMPTS_ALL_ADDRESSES: usize = 100;
/// Argon2 checks run at once (each takes ~19 MiB and one core for a moment).
pub const CONCURRENT_PASSWORD_CHECKS: usize = 2;
/// How long a login waits for a free check before it is told to try again.
pub const PASSWORD_CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why a login attempt may not go ahead now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// Too many attempts (from this address, or from everyone): try again at this time (ms).
    TooMany { until_ms: i64 },
    /// Every password check is busy: try again in a few seconds.
    Busy,
}

/// Login attempts, counted **before** the slow password check (`hub::peer::AttemptLimiter`:
/// [`LOGIN_ATTEMPTS`] per address, [`LOGIN_ATTEMPTS_ALL_ADDRESSES`] in all, per
/// [`LOGIN_WINDOW_MS`]), and at most [`CONCURRENT_PASSWORD_CHECKS`] Argon2 checks at once.
#[derive(Debug)]
pub struct LoginLimiter {
    attempts: crate::hub::peer::AttemptLimiter,
    checks: tokio::sync::Semaphore,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            attempts: crate::hub::peer::AttemptLimiter::new(
                LOGIN_ATTEMPTS,
                LOGIN_ATTEMPTS_ALL_ADDRESSES,
                LOGIN_WINDOW_MS,
            ),
            checks: tokio::sync::Semaphore::new(CONCURRENT_PASSWORD_CHECKS),
        }
    }
}

impl LoginLimiter {
    /// Counts an attempt from `address` at `now_ms`, or says why it may not be made. Call
    /// it before checking the password; call [`LoginLimiter::succeeded`] if it was right.
    pub fn begin(&self, address: IpAddr, now_ms: i64) -> Result<(), LoginRefusal> {
        self.attempts
            .attempt(address, now_ms)
            .map_err(|until_ms| LoginRefusal::TooMany { until_ms })
    }

    /// The right password: the address's attempts are forgotten.
    pub fn succeeded(&self, address: IpAddr) {
        self.attempts.forget(address);
    }

    /// Runs the slow password check `check` on a blocking thread once one of the
    /// [`CONCURRENT_PASSWORD_CHECKS`] slots is free, so that a burst of guesses queues
    /// instead of taking the hub's memory; `Busy` when none frees within
    /// [`PASSWORD_CHECK_WAIT`].
    pub async fn check<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LoginRefusal> {
        let permit = tokio::time::timeout(PASSWORD_CHECK_WAIT, self.checks.acquire())
            .await
            .map_err(|_| LoginRefusal::Busy)?
            .map_err(|_| LoginRefusal::Busy)?;
        let result = tokio::task::spawn_blocking(check).await.map_err(|_| LoginRefusal::Busy);
        drop(permit);
        result
    }
}

/// The host part of a Host header (`name`, `name:port`, `[v6]:port`), lower-cased.
pub fn host_name(host_header: &str) -> Option<String> {
    let host = host_header.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map(|(inside, _)| inside.to_ascii_lowercase());
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    (!name.is_empty()).then(|| name.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether a console request may be served for this Host: an IP literal (a browser sends
/// one only for a page that was itself loaded from that address), `localhost`, or one of
/// the hub's own names (`allowed`, from its public URL and `--console-host`). Any other
/// name may be an attacker's domain re-pointed at the hub (DNS rebinding).
pub fn host_allowed(host_header: Option<&str>, allowed: &[String]) -> bool {
    let Some(name) = host_header.and_then(host_name) else {
        return false;
    };
    name.parse::<IpAddr>().is_ok() || name == "localhost" || allowed.iter().any(|allowed| allowed == &name)
}

/// The session cookie's value in a Cookie header.
pub fn session_cookie(cookie_header: Option<&str>) -> Option<String> {
    crate::hub::web::cookie_value(cookie_header?, SESSION_COOKIE).map(str::to_owned)
}

/// The Set-Cookie value opening (Some) or closing (None) a session.
pub fn session_set_cookie(value: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some(value) => format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            SESSION_MS / 1000
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_stored_hashed_private_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(stored_hash(dir.path()).unwrap(), None);
        assert!(matches!(
            set_password(dir.path(), "short"),
            Err(PasswordError::TooShort)
        ));
        let path = set_password(dir.path(), "correct horse battery\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("$argon2id$"), "{text}");
        assert!(!text.contains("correct horse"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let stored = stored_hash(dir.path()).unwrap().unwrap();
        assert!(verify_password(&stored, "correct horse battery"));
        assert!(!verify_password(&stored, "correct horse battery "));
        assert!(!verify_password("not a hash", "anything"));
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(stored_hash(dir.path()), Err(PasswordError::Damaged(_))));
    }

    #[test]
    fn sessions_expire_and_close() {
        let sessions = Sessions::default();
        let (id, session) = sessions.open(1_000);
        assert_eq!(sessions.find(&id, 2_000), Some(session.clone()));
        assert_eq!(sessions.find("other", 2_000), None);
        assert_eq!(sessions.find(&id, 1_000 + SESSION_MS), None);
        sessions.close(&id);
        assert_eq!(sessions.find(&id, 2_000), None);
        assert_ne!(session.csrf, id);
    }

    #[test]
    fn the_sixth_attempt_in_a_window_waits_for_the_window() {
        let limiter = LoginLimiter::default();
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        for at in 0..LOGIN_ATTEMPTS as i64 {
            assert_eq!(limiter.begin(address, at), Ok(()));
        }
        assert_eq!(
            limiter.begin(address, 10),
            Err(LoginRefusal::TooMany {
                until_ms: LOGIN_WINDOW_MS
            })
        );
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(limiter.begin(other, 10), Ok(()), "per address");
        assert_eq!(limiter.begin(address, LOGIN_WINDOW_MS + 1), Ok(()));
        limiter.succeeded(address);
        for at in 0..LOGIN_ATTEMPTS as i64 {
            assert_eq!(
                limiter.begin(address, LOGIN_WINDOW_MS + 2 + at),
                Ok(()),
                "a success clears"
            );
        }
    }

    #[tokio::test]
    async fn password_checks_run_two_at_a_time() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let limiter = Arc::new(LoginLimiter::default());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (limiter, running, most) = (limiter.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                limiter
                    .check(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(()));
        }
        assert!(most.load(Ordering::SeqCst) <= CONCURRENT_PASSWORD_CHECKS);
    }

    #[test]
    fn hosts_are_the_hubs_names_or_ip_literals() {
        let allowed = vec!["hub.venue.lan".to_owned()];
        for good in [
            "127.0.0.1:8787",
            "[::1]:8787",
            "10.0.0.2",
            "localhost:8787",
            "HUB.venue.lan:8787",
            "hub.venue.lan.",
        ] {
            assert!(host_allowed(Some(good), &allowed), "{good}");
        }
        for bad in [
            "evil.example:8787",
            "hub.venue.lan.evil.example",
            "",
            "127.0.0.1.nip.io",
        ] {
            assert!(!host_allowed(Some(bad), &allowed), "{bad}");
        }
        assert!(!host_allowed(None, &allowed));
    }

    #[test]
    fn cookies_are_strict_http_only_and_secure_over_https() {
        assert_eq!(
            session_cookie(Some("lang=en; bk_console=abc ; x=y")).as_deref(),
            Some("abc")
        );
        assert_eq!(session_cookie(Some("bk_console=")), None);
        let cookie = session_set_cookie(Some("abc"), true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert!(!session_set_cookie(Some("abc"), false).contains("Secure"));
        assert!(session_set_cookie(None, false).contains("Max-Age=0"));
    }
}
