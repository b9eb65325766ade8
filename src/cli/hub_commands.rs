//! `sync`, `export` and `hub …`: moving records from kiosks to the organiser.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};

use super::args::{EnrolArgs, ExportArgs, HubCommand, KioskFleetCommand, RegistrationsCommand, SyncArgs};
use super::commands::{open_event, open_kiosk};
use super::hub_issue::platform_client;
use crate::config::Config;
use crate::hub::issue::{self, IssueState};
use crate::hub::server::{HubState, SharedHub};
use crate::hub::store::HubStore;
use crate::platform::{IssueSettings, Platform};
use crate::plural::count;
use crate::store::Store;
use crate::sync::client::sync_once;
use crate::sync::protocol::UploadRequest;

const HUB_DB: &str = "hub.sqlite";

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

pub fn sync(config: &Config, args: SyncArgs) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    let Some(settings) = super::commands::sync_settings(config, &kiosk, args.hub)? else {
        bail!("no hub to sync to: give --hub URL, enrol the kiosk, or set `hub` under [sync] in event.toml (or use `badge-kiosk export` for a USB stick)");
    };
    let store_path = config.data_dir.join(&kiosk.definition().event.id).join("queue.sqlite");
    drop(kiosk);
    let store = Arc::new(Mutex::new(Store::open(&store_path)?));
    let http = settings.http_client()?;
    let summary = runtime()?.block_on(async {
        sync_once(&store, &settings, &http, |done, total| {
            let width = 30;
            if let Some(filled) = (done * width).checked_div(total) {
                eprint!(
                    "\r[{}{}] {done}/{total}",
                    "#".repeat(filled),
                    " ".repeat(width - filled)
                );
                let _ = std::io::stderr().flush();
            }
        })
        .await
    });
    eprintln!();
    let summary = summary.map_err(|error| {
        anyhow::anyhow!("sync stopped: {error}. Queued records are kept; run `badge-kiosk sync` again")
    })?;
    println!(
        "sent {}, synced {}, failed {}, still queued {}",
        summary.sent, summary.synced, summary.failed, summary.remaining
    );
    for warning in summary.chain_warnings {
        println!("hub warning: {warning}");
    }
    if let Some(update) = &summary.bundle {
        println!(
            "event bundle: {} new revoked code(s){}",
            update.new_revocations,
            if update.event_changed { ", event updated" } else { "" }
        );
    }
    if let Some(problem) = &summary.bundle_problem {
        println!("event bundle not applied: {problem}");
    }
    if summary.failed > 0 {
        println!("see the reasons with `badge-kiosk queue status`");
    }
    Ok(())
}

pub fn enrol(config: &Config, args: EnrolArgs) -> Result<()> {
    let code = crate::domain::enrolment::EnrolmentCode::parse(&args.code)?;
    let hub_ca_pem = match &config.hub_ca {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading the hub CA certificate {}", path.display()))?)
        }
        None => None,
    };
    let enrolled = runtime()?.block_on(crate::sync::enrol::enrol(
        hub_ca_pem,
        &code,
        &config.data_dir,
        config.kiosk_id.as_deref(),
    ))?;
    println!(
        "enrolled as {} for {} ({}); the event is in {}",
        enrolled.kiosk_id,
        enrolled.event_name,
        enrolled.event_id,
        enrolled.event_dir.display()
    );
    println!(
        "start the kiosk (or restart its service): it syncs with {} from now on",
        code.hub_url
    );
    Ok(())
}

pub fn export(config: &Config, args: ExportArgs) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    let export = write_export(&kiosk, &args.to)?;
    let path = &export.path;
    println!(
        "wrote {} to {}",
        count(export.records, "record", "records"),
        path.display()
    );
    if export.emails > 0 {
        println!(
            "the file holds {} in clear: delete it once the hub has imported it",
            count(export.emails, "typed email address", "typed email addresses")
        );
    }
    println!(
        "each record is signed by this kiosk; on the hub: badge-kiosk hub import {}",
        path.display()
    );
    Ok(())
}

/// What `write_export` wrote.
pub struct Export {
    pub path: std::path::PathBuf,
    pub records: usize,
    /// Typed emails carried beside their records (the hub checks each against its hash).
    pub emails: usize,
}

/// Writes every record, with the typed emails the kiosk still holds, to a bundle file in
/// `dir`: the upload a sync would send, for a hub out of reach. The organiser panel's
/// "export to USB" calls this too.
pub fn write_export(kiosk: &crate::kiosk::KioskCore, dir: &std::path::Path) -> Result<Export> {
    let certificate = hex::encode(kiosk.certificate().to_bytes().map_err(|e| anyhow::anyhow!("{e}"))?);
    let request =
        crate::sync::client::upload_request(&kiosk.definition().event.id, &certificate, &kiosk.records_for_export()?);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!(
        "{}-{}-{}.badges.json",
        request.event_id,
        kiosk.kiosk_id(),
        chrono::Utc::now().format("%Y%m%dT%H%M%S")
    ));
    let temporary = path.with_extension("partial");
    let bytes = serde_json::to_vec(&request)?;
    {
        // The export carries typed emails in clear: 0600 whatever the umask.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&temporary)
            .with_context(|| format!("writing {}", temporary.display()))?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, &path)?;
    Ok(Export {
        path,
        records: request.records.len(),
        emails: request.emails.len(),
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

/// The host part of a URL (`https://10.0.0.2:8787/x` → `10.0.0.2`), for the certificate.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
            .to_owned(),
    }
}

fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

/// `hub kiosk list|revoke|replace`.
fn kiosk_fleet(config: &Config, command: KioskFleetCommand) -> Result<()> {
    use crate::hub::trust::printable;
    let now = chrono::Utc::now().timestamp_millis();
    match command {
        KioskFleetCommand::List { data } => {
            let (store, _) = open_hub(config, &data)?;
            let fleet = store.kiosk_fleet()?;
            if fleet.is_empty() {
                println!("no kiosk enrolled yet: make a code with `badge-kiosk hub enrol-token`");
            }
            for kiosk in fleet {
                println!(
                    "{}\tkey {}\tcertificate {}\tlast seen {}\t{} record(s){}{}",
                    printable(&kiosk.kiosk_id),
                    kiosk.fingerprint,
                    kiosk.certificate_issued_ms.map_or_else(|| "-".into(), format_time),
                    format_time(kiosk.last_seen_ms),
                    kiosk.records,
                    kiosk
                        .queue_waiting
                        .map(|n| format!(", {n} waiting on the kiosk"))
                        .unwrap_or_default(),
                    kiosk
                        .revoked
                        .map(|revocation| format!(
                            "\tREVOKED {} ({})",
                            format_time(revocation.at_ms),
                            printable(&revocation.reason)
                        ))
                        .unwrap_or_default(),
                );
            }
            Ok(())
        }
        KioskFleetCommand::Revoke { id, data, reason } => {
            let (store, _) = open_hub(config, &data)?;
            if !store.revoke_kiosk(&id, &reason, now)? {
                bail!(
                    "no kiosk {} on this hub: see the ids with `badge-kiosk hub kiosk list --data {}`",
                    printable(&id),
                    data.display()
                );
            }
            println!(
                "kiosk {} revoked: its next uploads are refused ({}); what it sent before stays on the hub",
                printable(&id),
                printable(&reason)
            );
            Ok(())
        }
        KioskFleetCommand::Replace { id, data } => {
            let (store, _) = open_hub(config, &data)?;
            if !store.allow_kiosk_replacement(&id)? {
                bail!(
                    "no kiosk {} on this hub: a new kiosk can simply enrol under that id",
                    printable(&id)
                );
            }
            println!(
                "the next kiosk that enrols as {} replaces the old one: the old device's certificate is no longer \
                 accepted and its records stay on the hub under an archive id",
                printable(&id)
            );
            Ok(())
        }
    }
}

pub(super) fn open_hub(config: &Config, data: &std::path::Path) -> Result<(HubStore, crate::eventdir::EventDir)> {
    let event = open_event(config)?;
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let store = HubStore::open(&data.join(HUB_DB), event.definition.clone())?;
    Ok((store, event))
}

pub fn hub(config: &Config, command: HubCommand) -> Result<()> {
    match command {
        HubCommand::Serve {
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
            relay,
        } => {
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
            let (store, event) = open_hub(config, &data)?;
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
                let identity = match (tls_certificate, tls_key, insecure_http) {
                    (Some(certificate), Some(key), false) => {
                        Some(crate::hub::tls::HubIdentity::from_pem_files(&certificate, &key)?)
                    }
                    (None, None, false) => Some(crate::hub::tls::HubIdentity::load_or_create(
                        &data,
                        &[host_of(&public_url)],
                    )?),
                    (None, None, true) => None,
                    (_, _, true) => bail!("--insecure-http serves plain HTTP: drop --tls-certificate and --tls-key, or drop --insecure-http"),
                    _ => bail!("give both --tls-certificate and --tls-key, or neither (the hub then uses its own certificate)"),
                };
                let mut state = HubState::new(
                    store,
                    &event,
                    &public_url,
                    Box::new(|| chrono::Utc::now().timestamp_millis()),
                )?;
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
                    database: Some(data.join(HUB_DB)),
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
                        eprintln!("claim emails are sent through {}", mailer.shown_url());
                        Some(crate::hub::mailer::spawn(Arc::clone(&state), mailer, settings))
                    }
                    None => {
                        eprintln!("claim emails wait in the outbox: give --smtp-url and --mail-from to send them");
                        None
                    }
                };
                let relay_task = super::hub_relay::spawn_for_serve(&relay, &state)?;
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
        HubCommand::Passwd { data } => hub_passwd(&data),
        HubCommand::Relay(args) => super::hub_relay::relay(config, args),
        HubCommand::Import { file, data } => {
            let (mut store, _) = open_hub(config, &data)?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let digest: [u8; 32] =
                sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &bytes)).into();
            let request: UploadRequest =
                serde_json::from_slice(&bytes).context("this file is not a badge-kiosk export bundle")?;
            let already = store.import_digest_seen(&digest)?;
            let response = store.ingest(&request, chrono::Utc::now().timestamp_millis())?;
            store.note_import(&digest, request.records.len(), chrono::Utc::now().timestamp_millis())?;
            let count = |status| response.answers.iter().filter(|a| a.status == status).count();
            use crate::sync::protocol::RecordStatus;
            let emails = response.answers.iter().filter(|a| a.email_received).count();
            println!(
                "{}: {} accepted, {} duplicates, {} rejected, {} received{}",
                file.display(),
                count(RecordStatus::Accepted),
                count(RecordStatus::Duplicate),
                count(RecordStatus::Rejected),
                crate::plural::count(emails, "typed email", "typed emails"),
                if already {
                    " (this file was imported before: nothing changed)"
                } else {
                    ""
                }
            );
            for answer in response.answers.iter().filter(|a| a.status == RecordStatus::Rejected) {
                println!(
                    "  rejected #{}: {}",
                    answer.sequence,
                    answer.reason.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        HubCommand::EnrolToken {
            data,
            hub_url,
            kiosks,
            minutes,
            qr,
            tls_certificate,
        } => {
            let (store, event) = open_hub(config, &data)?;
            let Some(event_key) = &event.event_key else {
                bail!("enrolment codes are made on the organiser's machine, with the event key (event.key) beside event.toml");
            };
            let pin = if hub_url.starts_with("https://") {
                let identity = match &tls_certificate {
                    Some(path) => {
                        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                        let first = rustls::pki_types::pem::PemObject::pem_slice_iter(&pem)
                            .next()
                            .transpose()
                            .ok()
                            .flatten()
                            .map(|der: rustls::pki_types::CertificateDer<'static>| {
                                crate::sync::pinning::certificate_pin(der.as_ref())
                            });
                        first.with_context(|| format!("{} holds no PEM certificate", path.display()))?
                    }
                    None => crate::hub::tls::HubIdentity::load_or_create(&data, &[host_of(&hub_url)])?.pin,
                };
                Some(identity)
            } else {
                eprintln!("WARNING: {hub_url} is plain HTTP: this code is for a hub started with --insecure-http");
                None
            };
            let now = chrono::Utc::now().timestamp_millis();
            let token = store.create_enrol_token(now, kiosks, now + i64::from(minutes) * 60_000)?;
            let code = crate::domain::enrolment::EnrolmentCode::sign(&hub_url, &token, pin, event_key)
                .map_err(|error| anyhow::anyhow!("--hub-url {hub_url:?}: {error}"))?;
            crate::domain::enrolment::EnrolmentCode::parse(&code.to_url())
                .map_err(|_| anyhow::anyhow!("--hub-url {hub_url:?} is not an http:// or https:// address"))?;
            println!("{}", code.to_url());
            if let Some(path) = qr {
                let png = crate::printing::qr_png(&code.to_url(), 8)?;
                std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
                eprintln!("QR code written to {}", path.display());
            }
            eprintln!(
                "valid {minutes} minutes for {kiosks} kiosk(s): show it to each kiosk's \"scan the enrolment code\" screen, or run `badge-kiosk enrol URL` on it"
            );
            Ok(())
        }
        HubCommand::Revoke { code, data, reason } => {
            let (store, _) = open_hub(config, &data)?;
            let code_id = super::commands::code_id_of(&code)?;
            let fresh = store.revoke_code(&code_id.0, &reason, chrono::Utc::now().timestamp_millis())?;
            println!(
                "{} {} ({}): every kiosk refuses it after its next sync",
                if fresh { "revoked" } else { "already revoked" },
                code_id,
                code_id.short()
            );
            Ok(())
        }
        HubCommand::Status { data } => {
            let (store, _) = open_hub(config, &data)?;
            let counts = store.counts()?;
            for (badge, n) in counts.awards_by_badge {
                println!("awards {badge}: {n}");
            }
            for (stand, n) in counts.steps_by_stand {
                println!("visitors at {stand}: {n}");
            }
            for (kiosk, n) in counts.records_by_kiosk {
                println!("records from {}: {n}", crate::hub::trust::printable(&kiosk));
            }
            println!("cross-kiosk duplicates: {}", counts.duplicates);
            super::hub_relay::print_status(&store)?;
            for platform in [Platform::Obf, Platform::Badgr] {
                let issues = issue::award_issues(store.connection(), platform)?;
                let counts = issue::counts(&issues);
                if counts.confirmed + counts.failed + counts.sending > 0 {
                    println!(
                        "{}: {} issued, {} refused, {} queued, {} sent awaiting a check, {} need an email \
                         (details: badge-kiosk hub recipients --platform {})",
                        platform.label(),
                        counts.confirmed,
                        counts.failed,
                        counts.queued,
                        counts.sending,
                        counts.needs_email,
                        platform.key()
                    );
                }
            }
            Ok(())
        }
        HubCommand::Kiosk(command) => kiosk_fleet(config, command),
        HubCommand::Issue {
            data,
            platform,
            credentials,
            no_email,
            dry_run,
            max_wait,
        } => super::hub_issue::hub_issue(
            config,
            super::hub_issue::IssueArgs {
                data: &data,
                platform: &platform,
                credentials: credentials.as_deref(),
                no_email,
                dry_run,
                max_wait,
            },
        ),
        HubCommand::Recipients { data, platform, only } => {
            let (store, _) = open_hub(config, &data)?;
            let platform = Platform::parse(&platform)?;
            let issues = issue::award_issues(store.connection(), platform)?;
            let wanted = |state: &IssueState| match only.as_deref() {
                None => true,
                Some("issued") => matches!(state, IssueState::Confirmed(_)),
                Some("refused") => matches!(state, IssueState::Failed(_)),
                Some("queued") => matches!(state, IssueState::Queued),
                Some("sending") => matches!(state, IssueState::Sending(_)),
                Some(_) => matches!(state, IssueState::NeedsEmail),
            };
            if let Some(other) = only
                .as_deref()
                .filter(|o| !["issued", "refused", "queued", "sending", "needs-email"].contains(o))
            {
                bail!("--only {other:?}: use issued, refused, queued, sending or needs-email");
            }
            let mut out = std::io::stdout().lock();
            for issue in issues.iter().filter(|issue| wanted(&issue.state)) {
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    issue.award_key,
                    issue.email.as_deref().unwrap_or("-"),
                    issue.state.label()
                )?;
            }
            let counts = issue::counts(&issues);
            writeln!(
                out,
                "{}: {} issued, {} refused, {} queued, {} sent awaiting a check, {} need an email",
                platform.label(),
                counts.confirmed,
                counts.failed,
                counts.queued,
                counts.sending,
                counts.needs_email
            )?;
            if counts.needs_email > 0 {
                writeln!(
                    out,
                    "awards that need an email: import the ticketing export with `badge-kiosk hub registrations import FILE.csv --data {}`; visitors who took a claim link keep it",
                    data.display()
                )?;
            }
            if counts.failed > 0 {
                writeln!(
                    out,
                    "refused awards: correct the email in the ticketing export, import it again, then run `badge-kiosk hub issue` again"
                )?;
            }
            Ok(())
        }
        HubCommand::Registrations(RegistrationsCommand::Import { file, data }) => {
            let (mut store, _) = open_hub(config, &data)?;
            let text = std::fs::read_to_string(&file).with_context(|| {
                format!(
                    "reading {} (export it from the ticketing tool as CSV, UTF-8)",
                    file.display()
                )
            })?;
            let parsed = crate::domain::registrations::parse_registrations(&text)
                .with_context(|| format!("importing {}", file.display()))?;
            let outcome =
                issue::import_registrations(&mut store, &parsed.registrations, chrono::Utc::now().timestamp_millis())?;
            for error in &parsed.errors {
                println!("{}:{}: {}", file.display(), error.line, error.message);
            }
            println!(
                "{}: {} new, {} updated, {} unchanged {}, {} skipped",
                file.display(),
                outcome.added,
                outcome.updated,
                outcome.unchanged,
                crate::plural::english(
                    outcome.added + outcome.updated + outcome.unchanged == 1,
                    "registration",
                    "registrations"
                ),
                count(parsed.errors.len(), "line", "lines")
            );
            if outcome.requeued > 0 {
                println!(
                    "{} a new email and {} queued again: run `badge-kiosk hub issue`",
                    count(outcome.requeued, "refused award has", "refused awards have"),
                    crate::plural::english(outcome.requeued == 1, "is", "are")
                );
            }
            if !parsed.errors.is_empty() {
                println!("fix the lines above in the file and import it again (importing twice is safe)");
            }
            Ok(())
        }
        HubCommand::Purge { data, retention_days } => {
            let (mut store, _) = open_hub(config, &data)?;
            let days = retention_days.unwrap_or(config.email_retention_days);
            let now = chrono::Utc::now().timestamp_millis();
            let cutoff = now.saturating_sub(i64::try_from(days).unwrap_or(i64::MAX).saturating_mul(86_400_000));
            let purged = issue::purge_emails(&mut store, cutoff, now)?;
            println!(
                "erased {} and {} confirmed issued more than {} ago; {} kept (not confirmed yet, or within the retention)",
                count(purged.typed, "typed email", "typed emails"),
                count(purged.registrations, "registration email", "registration emails"),
                count(days, "day", "days"),
                count(purged.kept, "email", "emails")
            );
            Ok(())
        }
    }
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

/// `hub passwd`: the organiser console's password, from standard input (asked twice,
/// without echo, on a terminal).
fn hub_passwd(data: &std::path::Path) -> Result<()> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let read = |prompt: &str| -> Result<String> {
        if terminal {
            eprint!("{prompt}");
            let _ = std::io::stderr().flush();
        }
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    // Hide the typing on a terminal (stty is part of every Debian system).
    let echo_off = terminal
        && std::process::Command::new("stty")
            .arg("-echo")
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|status| status.success());
    let result = (|| -> Result<String> {
        let password = read("New organiser password (at least 10 characters): ")?;
        if terminal {
            eprintln!();
            let again = read("Again: ")?;
            eprintln!();
            if again != password {
                bail!("the two passwords differ: run `badge-kiosk hub passwd` again");
            }
        }
        Ok(password)
    })();
    if echo_off {
        let _ = std::process::Command::new("stty")
            .arg("echo")
            .stdin(std::process::Stdio::inherit())
            .status();
    }
    let password = result?;
    let path = crate::hub::web::console::auth::set_password(data, &password)?;
    println!(
        "organiser password set ({}, Argon2id hash, mode 0600): log in to the console at the hub's address",
        path.display()
    );
    Ok(())
}
