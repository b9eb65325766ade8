//! Issue 21, the hub's network findings (3, 4, 7, 16, 17): replayed over loopback against
//! the hub's real accept loop, router and console, each showing the attack fails and the
//! hub keeps serving everyone else.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use badge_kiosk::eventdir::EventDir;
use badge_kiosk::hub::server::{serve, HubState};
use badge_kiosk::hub::store::HubStore;
use badge_kiosk::hub::web::console::{auth, ConsoleSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{runtime, start_hub, LoopbackHub, NOW_MS};

const WAIT: Duration = Duration::from_secs(60);
const PASSWORD: &str = "organiser-secret-2026";

/// A hub with its console open (password set) on loopback, with the default limits.
fn console_hub(runtime: &tokio::runtime::Runtime, data: &Path, event: &EventDir) -> LoopbackHub {
    auth::set_password(data, PASSWORD).unwrap();
    let db = data.join("hub.sqlite");
    let store = HubStore::open(&db, event.definition.clone()).unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let state = Arc::new(
        HubState::new(store, event, &format!("http://{address}"), Box::new(|| NOW_MS))
            .unwrap()
            .with_console(ConsoleSettings {
                data_dir: Some(data.to_owned()),
                database: Some(db),
                ..ConsoleSettings::default()
            }),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(serve(listener, Arc::clone(&state), async {
        let _ = stopped.await;
    }));
    LoopbackHub {
        address,
        state,
        stop,
        tls_pin: None,
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WAIT)
        .build()
        .unwrap()
}

/// Opens a connection to `hub` from `local` (another loopback address is another peer).
async fn connect_from(local: &str, hub: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{local}:0").parse().map_err(std::io::Error::other)?)?;
    socket.connect(hub).await
}

/// Finding 3: 256 uploads announcing 100 kB and trickling a byte every 5 s held every
/// connection slot for the 60 s request deadline; no credential needed. Now one peer holds
/// at most its share, a trickled body is cut off after its grace, and the health and claim
/// routes answer everyone else throughout.
#[test]
fn finding_21_3_slow_bodies_cannot_hold_the_hub() {
    let runtime = runtime();
    // Requests are made (and their timers set) in the runtime's context.
    let _context = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(&dir.path().join("organiser")).unwrap();
    let hub = start_hub(&runtime, &dir.path().join("hub.sqlite"), &event, || NOW_MS);
    let address: SocketAddr = hub.address.parse().unwrap();
    let attackers = badge_kiosk::hub::listen::Limits::default().max_connections + 4;
    // The attacker, from 127.0.0.2: more uploads than the hub has slots, each sending its
    // headers and then a byte every 5 s.
    let attack: Vec<tokio::task::JoinHandle<bool>> = (0..attackers)
        .map(|_| {
            runtime.spawn(async move {
                let Ok(mut stream) = connect_from("127.0.0.2", address).await else {
                    return true;
                };
                let head = "POST /api/v1/records HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n\
                            Content-Length: 100000\r\n\r\n{";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return true;
                }
                // Trickle until the hub closes the connection (it must, well before WAIT).
                let closed = tokio::time::timeout(WAIT, async {
                    let mut buffer = [0u8; 1024];
                    loop {
                        tokio::select! {
                            read = stream.read(&mut buffer) => match read {
                                Ok(0) | Err(_) => return,
                                Ok(_) => continue,
                            },
                            () = tokio::time::sleep(Duration::from_secs(5)) => {
                                if stream.write_all(b" ").await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                })
                .await;
                closed.is_ok()
            })
        })
        .collect();
    // Meanwhile the health route and a claim page answer a phone at 127.0.0.1.
    let client = no_redirects();
    for path in ["/api/v1/health", "/claim/0123456789abcdef0123456789abcdef"] {
        let status = runtime
            .block_on(client.get(format!("http://{address}{path}")).send())
            .unwrap_or_else(|failure| panic!("{path} did not answer during the attack: {failure}"))
            .status();
        assert!(
            status.is_success() || status == reqwest::StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
    }
    // Every one of the attacker's connections was closed by the hub.
    for task in attack {
        assert!(runtime.block_on(task).unwrap(), "a trickling upload was left open");
    }
    // And the hub still serves after the attack.
    let health = runtime.block_on(client.get(format!("http://{address}/api/v1/health")).send());
    assert!(health.unwrap().status().is_success());
}

/// Finding 4: the limit was checked before Argon2 and a failure recorded after it, so 40
/// simultaneous guesses were all checked (and each took ~19 MiB). Now every attempt is
/// counted before its check: of 40 at once, exactly the allowed 5 are checked.
#[test]
fn finding_21_4_simultaneous_guesses_are_counted_before_the_check() {
    let runtime = runtime();
    // Requests are made (and their timers set) in the runtime's context.
    let _context = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(&dir.path().join("organiser")).unwrap();
    let hub = console_hub(&runtime, dir.path(), &event);
    let url = format!("{}/login", hub.url());
    let client = no_redirects();
    let statuses: Vec<u16> = runtime.block_on(async {
        let guesses: Vec<_> = (0..40)
            .map(|n| {
                let client = client.clone();
                let url = url.clone();
                tokio::spawn(async move {
                    client
                        .post(url)
                        .form(&[("password", format!("guess-number-{n}"))])
                        .send()
                        .await
                        .map(|answer| answer.status().as_u16())
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for guess in guesses {
            statuses.push(guess.await.unwrap().unwrap());
        }
        statuses
    });
    let checked = statuses.iter().filter(|status| **status == 401).count();
    let refused = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!(
        (checked, refused),
        (auth::LOGIN_ATTEMPTS, 40 - auth::LOGIN_ATTEMPTS),
        "{statuses:?}"
    );
    // The right password waits too: the window is the address's.
    let late = runtime
        .block_on(client.post(&url).form(&[("password", PASSWORD)]).send())
        .unwrap();
    assert_eq!(late.status().as_u16(), 429);
}

/// Finding 7: `/login?next=%2F%09%2Fevil.example` sent `Location: /\t/evil.example`, which
/// browsers read as `//evil.example`. Now anything but a plain path of this site goes to `/`.
#[test]
fn finding_21_7_control_characters_in_next_stay_on_the_site() {
    let runtime = runtime();
    // Requests are made (and their timers set) in the runtime's context.
    let _context = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let event = EventDir::demo(&dir.path().join("organiser")).unwrap();
    let hub = console_hub(&runtime, dir.path(), &event);
    let client = no_redirects();
    let login = runtime
        .block_on(
            client
                .post(format!("{}/login", hub.url()))
                .form(&[("password", PASSWORD), ("next", "/\t/evil.example")])
                .send(),
        )
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    assert_eq!(login.headers()["location"], "/");
    let session = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    for next in [
        "%2F%09%2Fevil.example",
        "%2F%0A%2Fevil.example",
        "%2F%0D%2Fevil.example",
    ] {
        let again = runtime
            .block_on(
                client
                    .get(format!("{}/login?next={next}", hub.url()))
                    .header("cookie", &session)
                    .send(),
            )
            .unwrap();
        assert_eq!(again.status().as_u16(), 303, "{next}");
        assert_eq!(again.headers()["location"], "/", "{next}");
    }
}

/// Finding 16: README's hub set-up (`chown root:badge-kiosk`, `chmod -R g+rX`) left
/// event.key 0640, which the hub (rightly) refuses. The README's commands, applied to an
/// event directory (without sudo and chown, which need the service user), now leave a key
/// the hub opens.
#[test]
fn finding_21_16_the_readme_hub_setup_leaves_a_key_the_hub_accepts() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("### The hub on the organiser's laptop")
        .nth(1)
        .and_then(|rest| rest.split("```sh").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("README has the hub set-up commands");
    let dir = tempfile::tempdir().unwrap();
    let event_dir = EventDir::demo(dir.path()).unwrap().dir;
    // Everything is readable by others first, as a careless copy would leave it.
    std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&event_dir)
        .status()
        .unwrap();
    let mut chmods = 0;
    for command in section.lines().flat_map(|line| line.split("&&")) {
        let words: Vec<&str> = command.split('#').next().unwrap().split_whitespace().collect();
        let Some(at) = words.iter().position(|word| *word == "chmod") else {
            continue;
        };
        let arguments: Vec<String> = words[at + 1..]
            .iter()
            .map(|word| word.replace("/etc/badge-kiosk/event", event_dir.to_str().unwrap()))
            .collect();
        let status = std::process::Command::new("chmod").args(&arguments).status().unwrap();
        assert!(status.success(), "chmod {arguments:?}");
        chmods += 1;
    }
    assert!(
        chmods >= 2,
        "the README sets the directory's and the key's modes:\n{section}"
    );
    let opened = EventDir::load(&event_dir);
    assert!(opened.is_ok(), "{:?}", opened.err().map(|failure| failure.to_string()));
}
