//! `hub enrol-token`: a signed enrolment code (and its QR) for new kiosks.

use anyhow::{bail, Context, Result};

use super::{host_of, open_hub};
use crate::cli::args::HubEnrolTokenArgs;
use crate::config::Config;

pub(super) fn run(config: &Config, args: HubEnrolTokenArgs) -> Result<()> {
    let HubEnrolTokenArgs {
        data,
        hub_url,
        kiosks,
        minutes,
        qr,
        tls_certificate,
    } = args;
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
    // The hub's one clock (so a rehearsal with BADGE_KIOSK_CLOCK_OFFSET_MS stays consistent).
    let now = crate::domain::clock::Clock::now_ms(&crate::domain::clock::SystemClock);
    let token = store.create_enrol_token(now, kiosks, now + i64::from(minutes) * 60_000)?;
    let code = crate::domain::enrolment::EnrolmentCode::sign(&hub_url, &token, pin, event_key)
        .map_err(|error| anyhow::anyhow!("--hub-url {hub_url:?}: {error}"))?;
    crate::domain::enrolment::EnrolmentCode::parse(&code.to_url())
        .map_err(|_| anyhow::anyhow!("--hub-url {hub_url:?} is not an http:// or https:// address"))?;
    println!("{}", code.to_url());
    if let Some(path) = qr {
        let png = crate::printing::qr_png(&code.to_url(), 8)?;
        // A live enrolment code: 0600 whatever the umask, like the event key.
        crate::eventdir::create_private(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, &png))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("QR code written to {}", path.display());
    }
    eprintln!(
        "valid {minutes} minutes for {}: show it to each kiosk's \"scan the enrolment code\" screen, or run `badge-kiosk enrol URL` on it",
        crate::plural::count(kiosks, "kiosk", "kiosks")
    );
    Ok(())
}
