//! `hub serve`: the hub's kiosk API, the visitors' claim pages and the organiser console,
//! over HTTPS with the hub's own pinned certificate (or a venue CA's), until Ctrl-C or SIGTERM.

use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::issue::platform_client;
use super::{host_of, open_hub};
use crate::cli::args::HubServeArgs;
use crate::cli::runtime;
use crate::config::Config;
use crate::hub::server::{HubState, SharedHub};
use crate::platform::{IssueSettings, Platform};

pub(super) fn run(config: &Config, args: HubServeArgs) -> Result<()> {
    let HubServeArgs {
        listen,
        data,
        public_url,
        tls_certificate,
        tls_key,
        insecure_http,
        smtp_url,
        mail_from,
        console_host,
        platform,
        credentials,
        no_email,
        smtp_insecure,
        kiosk_quota,
        relay,
    } = args;
    if let Some(url) = &smtp_url {
        crate::hub::mailer::check_transport_security(url, smtp_insecure)?;
    }
    let settings = crate::hub::mailer::MailerSettings::default();
    let mailer = match (smtp_url, mail_from) {
        (Some(url), Some(from)) => Some(crate::hub::mailer::Mailer::new(&url, &from, settings.timeout)?),
        (Some(_), None) => bail!(
            "give --mail-from (or BADGE_KIOSK_MAIL_FROM) with --smtp-url: the sender of claim emails, \
             e.g. \"Badges <badges@example.org>\""
        ),
        (None, _) => None,
    };
    let (mut store, event) = open_hub(config, &data)?;
    // Awards whose address arrived while the hub was stopped (imports) wait in the outbox.
    store.queue_award_emails(chrono::Utc::now().timestamp_millis())?;
    if let Some(quota) = kiosk_quota {
        store.set_record_quota(quota);
    }
    let issuer = match platform {
        Some(platform) => Some(console_issuer(
            Platform::parse(&platform)?,
            credentials.clone(),
            no_email,
            &event,
        )?),
        None if credentials.is_some() => {
            bail!("give --platform obf or --platform badgr with --credentials (the console's \"Issue now\")")
        }
        None => None,
    };
    let data = std::fs::canonicalize(&data).unwrap_or(data);
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let address = listener.local_addr()?;
        let scheme = if insecure_http { "http" } else { "https" };
        let public_url = public_url.unwrap_or_else(|| guess_public_url(scheme, address));
        let certificate_given = tls_certificate.is_some();
        let identity = match (tls_certificate, tls_key, insecure_http) {
            (Some(certificate), Some(key), false) => {
                Some(crate::hub::tls::HubIdentity::from_pem_files(&certificate, &key)?)
            }
            (None, None, false) => Some(crate::hub::tls::HubIdentity::load_or_create(
                &data,
                &[host_of(&public_url)],
            )?),
            (None, None, true) => None,
            (_, _, true) => bail!(
                "--insecure-http serves plain HTTP: drop --tls-certificate and --tls-key, or drop --insecure-http"
            ),
            _ => bail!("give both --tls-certificate and --tls-key, or neither (the hub then uses its own certificate)"),
        };
        let wallet = {
            use crate::hub::web::wallet::{Transport, WalletAccess};
            let transport = match (&identity, certificate_given) {
                (None, _) => Transport::PlainHttp,
                (Some(_), true) => Transport::GivenCertificate,
                (Some(_), false) => Transport::OwnCertificate,
            };
            let claim_base = event.definition.claim.base().unwrap_or(&public_url);
            WalletAccess::decide(claim_base, transport, event.event_key.is_some())
        };
        store.set_wallet_setting(
            wallet.issuer().is_some(),
            &wallet.describe(),
            chrono::Utc::now().timestamp_millis(),
        )?;
        eprintln!("{}", wallet.describe());
        let mut state = HubState::new(
            store,
            &event,
            &public_url,
            Box::new(|| crate::domain::clock::Clock::now_ms(&crate::domain::clock::SystemClock)),
        )?
        .with_wallet(wallet);
        match &identity {
            Some(identity) => {
                state = state.pinned(identity.pin);
                eprintln!(
                    "serving HTTPS; kiosks pin the certificate with SHA-256 {} (in every enrolment code)",
                    hex::encode(identity.pin)
                );
            }
            None => {
                state.plain_http = true;
                tracing::warn!("--insecure-http: serving plain HTTP");
                eprintln!(
                    "WARNING: plain HTTP (--insecure-http): enrolment codes, visitors' emails and claim links \
                     cross the network in clear; anyone on the venue network can read them. \
                     Drop --insecure-http to serve HTTPS."
                );
            }
        }
        let state: SharedHub = Arc::new(state.with_console(crate::hub::web::console::ConsoleSettings {
            data_dir: Some(data.clone()),
            database: Some(crate::datadir::hub_database(&data)),
            https: scheme == "https",
            host_names: console_host,
            issuer,
        }));
        eprintln!(
            "hub for event {} listening on {scheme}://{address}; kiosks reach it at {public_url}",
            event.definition.event.id,
        );
        eprintln!(
            "organiser console: {scheme}://127.0.0.1:{}/ (or this machine's address, with the organiser password)",
            address.port()
        );
        if !data.join(crate::hub::web::console::auth::PASSWORD_FILE).exists() {
            eprintln!(
                "no organiser password yet: the console stays closed until you run `badge-kiosk hub passwd --data {}`",
                data.display()
            );
        }
        if event.event_key.is_some() {
            eprintln!(
                "enrol kiosks from this computer: {scheme}://127.0.0.1:{}/console/kiosks",
                address.port()
            );
        }
        let mail_task = match mailer {
            Some(mailer) => {
                eprintln!("badges and claim emails are sent through {}", mailer.shown_url());
                Some(crate::hub::mailer::spawn(Arc::clone(&state), mailer, settings))
            }
            None => {
                eprintln!("badge and claim emails wait in the outbox: give --smtp-url and --mail-from to send them");
                None
            }
        };
        let relay_task = super::relay::spawn_for_serve(&relay, &state)?;
        // Ctrl-C in a terminal, SIGTERM from systemd: both finish the requests in flight.
        let stop = async {
            let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async {
                    match terminate.as_mut() {
                        Some(signal) => { signal.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
        };
        match identity {
            Some(identity) => crate::hub::server::serve_tls(listener, state, &identity, stop).await?,
            None => crate::hub::server::serve(listener, state, stop).await?,
        }
        for task in [mail_task, relay_task].into_iter().flatten() {
            task.abort();
        }
        Ok(())
    })
}

/// Kiosks cannot reach "0.0.0.0" or "127.0.0.1": name this machine's LAN address when
/// listening on all interfaces, so enrolment codes work without `--public-url`.
fn guess_public_url(scheme: &str, address: std::net::SocketAddr) -> String {
    let ip = if address.ip().is_unspecified() {
        // Connecting a UDP socket sends nothing; it only asks the kernel for the route.
        std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|socket| socket.connect("192.0.2.1:9").map(|()| socket))
            .and_then(|socket| socket.local_addr())
            .map(|local| local.ip())
            .unwrap_or(address.ip())
    } else {
        address.ip()
    };
    format!("{scheme}://{}", std::net::SocketAddr::new(ip, address.port()))
}

/// "Issue now" in the console: the same client as `hub issue`, made again for each run
/// (credentials edited meanwhile are read again); checked once at start.
fn console_issuer(
    platform: Platform,
    credentials: Option<std::path::PathBuf>,
    no_email: bool,
    event: &crate::eventdir::EventDir,
) -> Result<crate::hub::web::console::IssuerSetup> {
    if let Some(path) = credentials.as_deref() {
        if let Some(warning) = crate::platform::credentials::permission_warning(path) {
            eprintln!("warning: {warning}");
        }
    }
    platform_client(platform, credentials.as_deref(), no_email, event)
        .context("the console's \"Issue now\" needs the platform credentials (--credentials FILE)")?;
    let event = event.clone();
    Ok(crate::hub::web::console::IssuerSetup {
        platform,
        client: Arc::new(move || {
            platform_client(platform, credentials.as_deref(), no_email, &event)
                .map_err(|failure| format!("{failure:#}"))
        }),
        settings: IssueSettings::default(),
    })
}
