use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::args::*;
use crate::config::Config;
use crate::domain::clock::SystemClock;
use crate::domain::code::{AttendanceCode, CodeClaims, CodeId, Role};
use crate::domain::keys;
use crate::eventdir::EventDir;
use crate::kiosk::{ClaimOutcome, Delivery, KioskCore, KioskError};
use crate::sync::client::SyncSettings;

/// Resolves configuration: defaults, file, environment, then flags.
pub fn load_config(cli: &Cli) -> Result<Config> {
    let default_file = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config/badge-kiosk/config.toml"));
    let file = cli.config.clone().or(default_file);
    let mut config = Config::load(file.as_deref(), std::env::vars())?;
    if let Some(dir) = &cli.event_dir {
        config.event_dir = Some(dir.clone());
    }
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(id) = &cli.kiosk_id {
        config.kiosk_id = Some(id.clone());
    }
    Ok(config)
}

/// The event this machine runs: the configured directory, else the event it was enrolled
/// into, else (unless it waits for enrolment) the embedded demo event.
pub fn open_event(config: &Config) -> Result<EventDir> {
    let enrolled = crate::sync::enrol::enrolled_event_dir(&config.data_dir);
    match &config.event_dir {
        Some(dir) => EventDir::load(dir).with_context(|| format!("loading the event in {}", dir.display())),
        None if enrolled.join(crate::eventdir::EVENT_FILE).exists() => {
            EventDir::load(&enrolled).with_context(|| format!("loading the enrolled event in {}", enrolled.display()))
        }
        None if config.enrol => Err(KioskError::NotEnrolled.into()),
        None => EventDir::demo(&config.data_dir).context("preparing the demo event"),
    }
}

/// How this kiosk syncs: its hub, certificate, the bundle it applies, the venue's CA.
pub fn sync_settings(config: &Config, kiosk: &KioskCore, hub_override: Option<String>) -> Result<Option<SyncSettings>> {
    let Some(hub) = hub_override.or(kiosk.hub_url()?) else {
        return Ok(None);
    };
    let certificate = hex::encode(kiosk.certificate().to_bytes().map_err(|e| anyhow::anyhow!("{e}"))?);
    let definition = kiosk.definition();
    let pin = kiosk
        .store()
        .setting(crate::sync::enrol::HUB_TLS_PIN_SETTING)?
        .and_then(|text| crate::sync::pinning::parse_pin(&text));
    let mut settings = SyncSettings::new(&hub, &definition.event.id, &certificate)
        .trusting(definition.public_keys())
        .signing_with(kiosk.device_key().clone())
        .pinned(pin);
    settings.stand = config.stand.clone();
    let enrolled = crate::sync::enrol::enrolled_event_dir(&config.data_dir);
    settings.bundle = Some(crate::sync::enrol::BundleTarget {
        event_id: definition.event.id.clone(),
        trusted_keys: definition.public_keys(),
        enrolled_dir: (kiosk.event.dir == enrolled).then_some(enrolled),
    });
    if let Some(path) = &config.hub_ca {
        settings.hub_ca_pem =
            Some(std::fs::read(path).with_context(|| format!("reading the hub CA certificate {}", path.display()))?);
    }
    Ok(Some(settings))
}

fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// `clock show|reset`: the trusted floor a hub's signed time raised, and its reset.
fn clock(config: &Config, command: super::args::ClockCommand) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    if let super::args::ClockCommand::Reset = command {
        let floor = kiosk.store().reset_trusted_time()?;
        println!(
            "trusted clock reset: the floor is now {} (the newest record's time); the next sync sets it from the hub's signed time",
            if floor > 0 { format_ms(floor) } else { "none".into() }
        );
    }
    let floor = kiosk.store().trusted_time_floor()?;
    let now = kiosk.now()?;
    println!(
        "system clock {}, trusted floor {}, signing with {}{}",
        format_ms(chrono::Utc::now().timestamp_millis()),
        if floor > 0 { format_ms(floor) } else { "none".into() },
        format_ms(now.now_ms),
        if now.clock_behind {
            " (the system clock is behind the floor)"
        } else {
            ""
        }
    );
    Ok(())
}

/// The data directory is per event, so one machine can serve several events in turn.
pub fn open_kiosk(config: &Config) -> Result<KioskCore> {
    let event = open_event(config)?;
    let data_dir = config.data_dir.join(&event.definition.event.id);
    Ok(KioskCore::open(
        event,
        &data_dir,
        config.kiosk_id.as_deref(),
        Box::new(SystemClock),
    )?)
}

pub fn run(cli: Cli, run_ui: impl FnOnce(Config, RunArgs) -> Result<()>) -> Result<()> {
    let config = load_config(&cli)?;
    match cli.command {
        None => run_ui(config, RunArgs::default()),
        Some(Command::Run(args)) => run_ui(config, args),
        Some(Command::Event(EventCommand::Init { dir, id })) => event_init(&dir, id),
        Some(Command::Event(EventCommand::Show)) => event_show(&config),
        Some(Command::Codes(args)) => codes(&config, args),
        Some(Command::Scan(args)) => scan(&config, args),
        Some(Command::Claim(args)) => claim(&config, args),
        Some(Command::Step(args)) => step(&config, args),
        Some(Command::Queue(command)) => queue(&config, command),
        Some(Command::Clock(command)) => clock(&config, command),
        Some(Command::PinHash) => {
            let mut pin = String::new();
            std::io::stdin()
                .read_line(&mut pin)
                .context("reading the PIN from standard input")?;
            let pin = pin.trim();
            if !crate::kiosk::pin::is_valid_setting(pin) || pin.starts_with(crate::kiosk::pin::HASHED_PREFIX) {
                bail!("a PIN is 4 to 8 digits: type it, then Enter");
            }
            println!("{}", crate::kiosk::pin::hash_pin(pin));
            Ok(())
        }
        Some(Command::Tickets(args)) => {
            let mut kiosk = open_kiosk(&config)?;
            let data = std::fs::read(&args.csv).with_context(|| format!("reading {}", args.csv.display()))?;
            let summary = kiosk.import_allow_list(&data).map_err(anyhow::Error::msg)?;
            println!(
                "imported {} tickets ({} duplicates, {} blank rows skipped); only their hashes are stored",
                summary.tickets.len(),
                summary.duplicates,
                summary.skipped_blank
            );
            Ok(())
        }
        Some(Command::Sync(args)) => super::hub_commands::sync(&config, args),
        Some(Command::Enrol(args)) => super::hub_commands::enrol(&config, args),
        Some(Command::Export(args)) => super::hub_commands::export(&config, args),
        Some(Command::Hub(command)) => super::hub_commands::hub(&config, command),
        #[cfg(feature = "bench")]
        Some(Command::Bench(command)) => super::bench::run(command),
        Some(Command::Credential(command)) => credential(&config, command),
        Some(Command::Revoke(args)) => {
            let mut kiosk = open_kiosk(&config)?;
            let code_id = code_id_of(&args.code)?;
            kiosk.revoke(code_id)?;
            println!(
                "revoked {} ({}) on this kiosk; to refuse it on every kiosk, run `badge-kiosk hub revoke` on the hub",
                code_id,
                code_id.short()
            );
            Ok(())
        }
    }
}

/// A code id given as 20 hex digits, or the code's full text.
pub fn code_id_of(text: &str) -> Result<CodeId> {
    match CodeId::from_hex(text.trim()) {
        Some(id) => Ok(id),
        None => Ok(AttendanceCode::parse(text)
            .map_err(|refusal| anyhow::anyhow!("{refusal}"))?
            .claims
            .code_id),
    }
}

fn event_init(dir: &Path, id: Option<String>) -> Result<()> {
    let id = id.unwrap_or_else(|| {
        dir.file_name()
            .map(|name| {
                name.to_string_lossy()
                    .to_lowercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-")
            })
            .unwrap_or_else(|| "my-event".into())
    });
    let (event, fingerprint) = EventDir::init(dir, &id)?;
    println!("created event {:?} in {}", event.definition.event.id, dir.display());
    println!(
        "event key: {} (mode 0600, back it up: it signs every code)",
        dir.join("event.key").display()
    );
    println!("public key fingerprint: {fingerprint}");
    println!(
        "next: edit {}, then `badge-kiosk --event {} codes --count 100`",
        dir.join("event.toml").display(),
        dir.display()
    );
    Ok(())
}

fn event_show(config: &Config) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    let definition = kiosk.definition();
    println!("event: {} — {}", definition.event.id, definition.event.name.fr);
    println!("dates: {} to {}", definition.event.starts, definition.event.ends);
    for key in definition.public_keys() {
        let own = kiosk.event.event_key.as_ref().is_some_and(|k| k.verifying_key() == key);
        println!(
            "event key: {}{}",
            keys::fingerprint(&key),
            if own { " (secret key present)" } else { "" }
        );
    }
    println!(
        "kiosk: {} (device key {})",
        kiosk.kiosk_id(),
        keys::fingerprint(&kiosk.device_key().verifying_key())
    );
    for badge in &definition.badges {
        println!("badge: {} ({:?}) — {}", badge.id, badge.kind, badge.name.fr);
    }
    for stand in &definition.stands {
        println!("stand: {} — {}", stand.id, stand.name.fr);
    }
    if let Some(hub) = kiosk.hub_url()? {
        println!("hub: {hub}");
    }
    let time = kiosk.now()?;
    if time.clock_behind {
        println!(
            "warning: the system clock is behind the last trusted time ({}); records are signed with the trusted time. Set the clock or sync with the hub.",
            chrono::DateTime::from_timestamp_millis(time.now_ms).map(|t| t.to_rfc3339()).unwrap_or_default()
        );
    }
    if kiosk.event.is_demo {
        println!("note: this is the demo event; its key is public. Use `badge-kiosk event init` for a real event.");
    }
    Ok(())
}

/// One printable code with its label texts.
pub struct CodeToPrint {
    pub text: String,
    pub short_id: String,
    pub role: Role,
    pub holder: Option<String>,
}

pub fn make_codes(event: &EventDir, args: &CodesArgs) -> Result<Vec<CodeToPrint>> {
    let Some(key) = &event.event_key else {
        bail!(
            "making codes needs the event key (event.key in {}): run this on the organiser's machine",
            event.dir.display()
        );
    };
    let definition = &event.definition;
    let date = |text: &str| -> Result<u32> {
        let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")?;
        let midnight = date.and_hms_opt(0, 0, 0).context("date")?.and_utc().timestamp();
        Ok(u32::try_from(midnight.max(0)).unwrap_or(u32::MAX))
    };
    let (valid_from, valid_until) = if args.demo {
        // The demo must work whenever someone tries it.
        (date("2026-01-01")?, date("2036-01-01")?)
    } else {
        let from = date(&definition.event.starts)?.saturating_sub(7 * 86_400);
        let until = date(&definition.event.ends)?.saturating_add(86_400 * (1 + args.valid_days_after));
        (from, until)
    };
    let mut wanted: Vec<(Role, Option<String>)> = Vec::new();
    let (count, staff, organisers) = if args.demo {
        (10, vec!["all".to_string()], 1)
    } else {
        (args.count, args.staff.clone(), args.organisers)
    };
    match &args.registrations {
        Some(file) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            for reference in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
                wanted.push((Role::Visitor, Some(reference.to_owned())));
            }
        }
        None => {
            for index in 0..count {
                // Demo tickets carry a registration so the "sent to your email" path shows.
                let holder = args
                    .demo
                    .then(|| format!("DEMO-{:04}", index + 1))
                    .filter(|_| index % 2 == 0);
                wanted.push((Role::Visitor, holder));
            }
        }
    }
    for stand in &staff {
        if stand == "all" {
            for stand in &definition.stands {
                wanted.push((
                    Role::Staff {
                        stand: stand.id.clone(),
                    },
                    None,
                ));
            }
        } else if definition.stand(stand).is_some() {
            wanted.push((Role::Staff { stand: stand.clone() }, None));
        } else {
            bail!(
                "the event has no stand {stand:?}; stands are: {}",
                definition
                    .stands
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    for _ in 0..organisers {
        wanted.push((Role::Organiser, None));
    }
    let mut codes = Vec::with_capacity(wanted.len());
    for (role, holder) in wanted {
        let code_id = CodeId::random();
        let code = AttendanceCode::sign(
            &definition.event.id,
            key,
            CodeClaims {
                code_id,
                role: role.clone(),
                holder: holder.clone(),
                valid_from,
                valid_until,
            },
        )
        .map_err(|error| anyhow::anyhow!("{error}"))?;
        codes.push(CodeToPrint {
            text: code.to_text(),
            short_id: code_id.short(),
            role,
            holder,
        });
    }
    Ok(codes)
}

fn codes(config: &Config, args: CodesArgs) -> Result<()> {
    let event = open_event(config)?;
    let codes = make_codes(&event, &args)?;
    if codes.is_empty() {
        bail!("nothing to make: give --count N, --staff STAND, --organisers N or --demo");
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let written = crate::printing_output::write_all(&event, &codes, &args.out)?;
    for path in written {
        println!("wrote {}", path.display());
    }
    println!("{} codes for event {}", codes.len(), event.definition.event.id);
    Ok(())
}

fn scan(config: &Config, args: ScanArgs) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    let mut failures = 0;
    for path in &args.images {
        let started = std::time::Instant::now();
        let texts = match image::open(path) {
            Ok(image) => crate::scan::decode_all_in_file(&crate::scan::decode::gray_from_dynamic(&image)),
            Err(error) => {
                failures += 1;
                if args.json {
                    println!("{}", json!({"image": path, "error": error.to_string()}));
                } else {
                    println!("{}: cannot read the image: {error}", path.display());
                }
                continue;
            }
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let verdicts: Vec<serde_json::Value> = texts
            .iter()
            .map(|text| match kiosk.identify(text) {
                Ok(identified) => json!({"text": text, "valid": true, "role": identified.role.label(), "code": identified.short_id, "holder": identified.holder}),
                Err(error) => json!({"text": text, "valid": false, "reason": error.to_string()}),
            })
            .collect();
        if texts.is_empty() || verdicts.iter().any(|v| v["valid"] == false) {
            failures += 1;
        }
        if args.json {
            println!(
                "{}",
                json!({"image": path, "ms": (elapsed_ms * 100.0).round() / 100.0, "codes": verdicts})
            );
        } else if verdicts.is_empty() {
            println!("{}: no QR code found ({elapsed_ms:.1} ms)", path.display());
        } else {
            for verdict in verdicts {
                if verdict["valid"] == true {
                    println!(
                        "{}: valid {} code {} ({elapsed_ms:.1} ms)",
                        path.display(),
                        verdict["role"].as_str().unwrap_or(""),
                        verdict["code"].as_str().unwrap_or("")
                    );
                } else {
                    println!(
                        "{}: refused: {} ({elapsed_ms:.1} ms)",
                        path.display(),
                        verdict["reason"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Codes one per line from standard input are handled as they arrive, so a USB barcode
/// scanner (or a test) can feed a running claim and read each answer before the next code.
fn read_codes(code: &str) -> Box<dyn Iterator<Item = std::io::Result<String>>> {
    if code == "-" {
        Box::new(
            std::io::stdin()
                .lines()
                .map(|line| line.map(|l| l.trim().to_owned()))
                .filter(|line| !matches!(line, Ok(l) if l.is_empty())),
        )
    } else {
        Box::new(std::iter::once(Ok(code.to_owned())))
    }
}

fn claim(config: &Config, args: ClaimArgs) -> Result<()> {
    let mut kiosk = open_kiosk(config)?;
    let mut refused = 0;
    for code in read_codes(&args.code) {
        let code = code?;
        let outcome = kiosk.identify(&code).and_then(|visitor| {
            let delivery = match (&args.email, args.phone, &visitor.holder) {
                (Some(email), _, _) => Delivery::Email(email.clone()),
                (None, true, _) => Delivery::Phone,
                (None, false, Some(_)) => Delivery::Registration,
                (None, false, None) => Delivery::Phone,
            };
            kiosk.claim(&visitor, None, delivery).map(|outcome| (visitor, outcome))
        });
        match outcome {
            Ok((
                visitor,
                ClaimOutcome::Saved {
                    sequence,
                    badge_id,
                    claim_url,
                },
            )) => {
                print!("saved: {badge_id} for {} (record #{sequence})", visitor.short_id);
                if let Some(url) = claim_url {
                    print!(" claim link: {url}");
                }
                println!();
            }
            Ok((visitor, ClaimOutcome::AlreadyClaimed { created_at_ms })) => {
                let at = chrono::DateTime::from_timestamp_millis(created_at_ms)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                println!("already claimed: {} claimed this badge at {at}", visitor.short_id);
            }
            Err(error) => {
                refused += 1;
                println!("refused: {error}");
            }
        }
    }
    if refused > 0 {
        std::process::exit(2);
    }
    Ok(())
}

fn step(config: &Config, args: StepArgs) -> Result<()> {
    let mut kiosk = open_kiosk(config)?;
    let visitor = kiosk.identify(&args.code)?;
    let outcome = kiosk.record_step(&visitor, &args.stand)?;
    println!(
        "{} at {}: {}",
        visitor.short_id,
        args.stand,
        if outcome.newly_recorded {
            "recorded"
        } else {
            "already recorded"
        }
    );
    for pathway in outcome.pathways {
        let progress = &pathway.progress;
        print!(
            "  {}: {} of {} stands",
            pathway.badge_id, progress.counted_visited, progress.counted_needed
        );
        if !progress.required_missing.is_empty() {
            print!(", still needs {}", progress.required_missing.join(", "));
        }
        if pathway.awarded_now {
            print!(" — pathway complete, badge awarded");
        } else if pathway.already_awarded {
            print!(" — badge already awarded");
        }
        println!();
    }
    Ok(())
}

fn queue(config: &Config, command: QueueCommand) -> Result<()> {
    let mut kiosk = open_kiosk(config)?;
    match command {
        QueueCommand::List { limit } => {
            let records = kiosk.store().records(0, usize::MAX)?;
            let skip = records.len().saturating_sub(limit);
            println!(
                "{:>6}  {:<10}  {:<14}  {:<12}  {:<11}  {:<8}  created",
                "#", "kind", "badge", "stand", "code", "state"
            );
            for stored in records.iter().skip(skip) {
                let record = &stored.record;
                let code = <[u8; 10]>::try_from(record.content.code_id.as_slice())
                    .map(|id| CodeId(id).short())
                    .unwrap_or_default();
                let created = chrono::DateTime::from_timestamp_millis(record.content.created_at_ms)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                println!(
                    "{:>6}  {:<10}  {:<14}  {:<12}  {:<11}  {:<8}  {created}",
                    record.sequence,
                    record.content.kind.name(),
                    record.content.badge_id,
                    record.content.stand,
                    code,
                    stored.sync_state.label()
                );
            }
            Ok(())
        }
        QueueCommand::Verify => {
            let key = kiosk.certificate().device_key;
            let audit = kiosk.store().audit(&key)?;
            let integrity = kiosk.store().integrity_check()?;
            if integrity != "ok" {
                println!("SQLite integrity check: {integrity}");
            }
            if audit.faults.is_empty() && integrity == "ok" {
                println!(
                    "ok: {} records, every signature and the hash chain verify (kiosk {})",
                    audit.records,
                    kiosk.kiosk_id()
                );
                Ok(())
            } else {
                for fault in &audit.faults {
                    println!("FAULT: {fault}");
                }
                bail!(
                    "the queue has {}: it was altered outside badge-kiosk",
                    crate::plural::count(audit.faults.len(), "fault", "faults")
                )
            }
        }
        QueueCommand::Export { format, out } => {
            let mut output: Box<dyn Write> = match &out {
                Some(path) => {
                    Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?)
                }
                None => Box::new(std::io::stdout().lock()),
            };
            let records = kiosk.store().records(0, usize::MAX)?;
            let mut csv = matches!(format, ExportFormat::Csv).then(|| csv::Writer::from_writer(Vec::new()));
            if let Some(writer) = csv.as_mut() {
                writer.write_record([
                    "sequence",
                    "kiosk",
                    "kind",
                    "event",
                    "badge",
                    "stand",
                    "code_id",
                    "recipient",
                    "created_at",
                    "sync_state",
                    "record_hash",
                    "signed_bytes",
                ])?;
            }
            for stored in &records {
                let record = &stored.record;
                let created = chrono::DateTime::from_timestamp_millis(record.content.created_at_ms)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                let fields = [
                    record.sequence.to_string(),
                    record.kiosk_id.clone(),
                    record.content.kind.name().to_string(),
                    record.content.event_id.clone(),
                    record.content.badge_id.clone(),
                    record.content.stand.clone(),
                    hex::encode(&record.content.code_id),
                    record.content.recipient.describe(),
                    created,
                    stored.sync_state.label().to_string(),
                    hex::encode(stored.hash),
                    hex::encode(record.to_bytes()?),
                ];
                match csv.as_mut() {
                    Some(writer) => writer.write_record(&fields)?,
                    None => {
                        let names = [
                            "sequence",
                            "kiosk",
                            "kind",
                            "event",
                            "badge",
                            "stand",
                            "code_id",
                            "recipient",
                            "created_at",
                            "sync_state",
                            "record_hash",
                            "signed_bytes",
                        ];
                        let object: serde_json::Map<String, serde_json::Value> = names
                            .iter()
                            .zip(fields)
                            .map(|(name, value)| (name.to_string(), json!(value)))
                            .collect();
                        writeln!(output, "{}", serde_json::Value::Object(object))?;
                    }
                }
            }
            if let Some(writer) = csv {
                output.write_all(&writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
            }
            output.flush()?;
            if let Some(path) = out {
                eprintln!("exported {} records to {}", records.len(), path.display());
            }
            Ok(())
        }
        QueueCommand::Purge { retention_days } => {
            let days = retention_days.unwrap_or(config.email_retention_days);
            let cutoff = chrono::Utc::now().timestamp_millis() - i64::try_from(days).unwrap_or(0) * 86_400_000;
            let erased = kiosk.store_mut().purge_emails(cutoff)?;
            println!(
                "erased {} confirmed issued more than {} ago",
                crate::plural::count(erased, "email address", "email addresses"),
                crate::plural::count(days, "day", "days")
            );
            Ok(())
        }
        QueueCommand::Status => {
            let counts = kiosk.store().counts()?;
            println!(
                "queued {}, synced {}, failed {}",
                counts.queued, counts.synced, counts.failed
            );
            for (badge, n) in &counts.awards_by_badge {
                println!("  awards {badge}: {n}");
            }
            for (stand, n) in &counts.steps_by_stand {
                println!("  steps at {stand}: {n}");
            }
            for (sequence, reason) in &counts.failures {
                println!("  failed #{sequence}: {reason}");
            }
            Ok(())
        }
    }
}

/// Exit codes: 0 ok, 1 error, 2 a code was refused, 75 gave up waiting for a badge
/// platform (`hub issue`; nothing lost, run it again later).
pub fn exit_code(error: &anyhow::Error) -> i32 {
    if error.downcast_ref::<super::hub_issue::TryAgainLater>().is_some() {
        super::hub_issue::EXIT_TRY_AGAIN_LATER
    } else if error
        .downcast_ref::<KioskError>()
        .is_some_and(|e| matches!(e, KioskError::Refused(_)))
    {
        2
    } else {
        1
    }
}

fn credential(config: &Config, command: CredentialCommand) -> Result<()> {
    match command {
        CredentialCommand::Verify { file, public_key } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let document: serde_json::Value = if bytes.starts_with(b"\x89PNG") {
                crate::credential::extract_png(&bytes)?
            } else if bytes.trim_ascii_start().starts_with(b"<") {
                crate::credential::extract_svg(&String::from_utf8_lossy(&bytes))?
            } else {
                serde_json::from_slice(&bytes).context("the file is not JSON, a baked PNG or a baked SVG")?
            };
            let verified = match public_key {
                Some(hex_key) => {
                    let key = hex::decode(hex_key.trim())
                        .ok()
                        .and_then(|b| <[u8; 32]>::try_from(b).ok())
                        .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
                        .context("--public-key must be 64 hex digits")?;
                    crate::credential::verify_with_key(&document, &key)
                }
                None => crate::credential::verify(&document),
            };
            match verified {
                Ok(verified) => {
                    println!(
                        "valid: {:?} {} issued by {} (proof by {})",
                        verified.kind,
                        verified.id.as_deref().unwrap_or("(no id)"),
                        verified.issuer,
                        verified.verification_method
                    );
                    Ok(())
                }
                Err(error) => bail!("NOT valid: {error}"),
            }
        }
        CredentialCommand::Show { award, language, bake } => {
            let kiosk = open_kiosk(config)?;
            let stored = kiosk
                .store()
                .record(award)?
                .with_context(|| format!("the queue has no record #{award}: see `badge-kiosk queue list`"))?;
            let language = crate::domain::event::Language::from_code(&language);
            let credential =
                crate::kiosk::issue::signed_credential(kiosk.definition(), &stored, kiosk.device_key(), language)?;
            println!("{}", serde_json::to_string_pretty(&credential)?);
            if let Some(path) = bake {
                let badge = kiosk
                    .definition()
                    .badge(&stored.record.content.badge_id)
                    .context("badge")?;
                let image = kiosk.event.image_path(&badge.image);
                if path.extension().is_some_and(|e| e == "svg") && image.extension().is_some_and(|e| e == "svg") {
                    let svg = std::fs::read_to_string(&image)?;
                    std::fs::write(&path, crate::credential::bake_svg(&svg, &credential)?)?;
                } else {
                    let png = if image.extension().is_some_and(|e| e == "png") {
                        std::fs::read(&image)?
                    } else {
                        bail!(
                            "baking a PNG needs a PNG badge image; {} is not one: use --bake FILE.svg",
                            image.display()
                        );
                    };
                    std::fs::write(&path, crate::credential::bake_png(&png, &credential)?)?;
                }
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
    }
}
