//! Command-line flags. Parsed once, then turned into a `Config` before any work starts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
With no command, badge-kiosk opens the touchscreen kiosk. With nothing configured it runs the
embedded demo event (a national skills final): print demo codes with `badge-kiosk codes --demo`.

Configuration, lowest priority first: built-in defaults, the TOML file (--config or
$BADGE_KIOSK_CONFIG, default ~/.config/badge-kiosk/config.toml; see assets/config.example.toml),
BADGE_KIOSK_* environment variables, then these flags.

Examples:
  badge-kiosk event init ./my-event --id salon-2027     create an event and its key
  badge-kiosk --event ./my-event codes --count 500 --out ./print
  badge-kiosk --event ./my-event scan photo.jpg         decode and verify codes in images
  badge-kiosk --event ./my-event claim BK… --email marie@example.fr
  badge-kiosk --event ./my-event queue verify";

/// `--help` of `hub issue`: what the exit codes mean.
const HUB_ISSUE_EXIT_CODES: &str = "\
Exit codes:
  0   done: every award with an email is issued or refused (see the summary)
  1   stopped on something to fix (credentials, badge ids in event.toml, the platform
      refusing every call, the hub database); the message says what to do
  75  gave up waiting for the platform: it could not be reached or did not answer within
      --max-wait (or after 10 attempts without it). Nothing is lost: the awards stay queued,
      a call whose answer was not seen is looked up before anything is sent again; run the
      same command later";

#[derive(Debug, Parser)]
#[command(name = "badge-kiosk", version, about = "Offline event kiosk and claim terminal for Open Badges", after_help = AFTER_HELP)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "BADGE_KIOSK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Event directory holding event.toml (default: the embedded demo event).
    #[arg(long = "event", global = true, value_name = "DIR")]
    pub event_dir: Option<PathBuf>,
    /// Data directory for the queue and the kiosk's device key.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// This kiosk's name in the event.
    #[arg(long, global = true, value_name = "NAME")]
    pub kiosk_id: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the touchscreen kiosk (the default).
    Run(RunArgs),
    /// Create or inspect an event.
    #[command(subcommand)]
    Event(EventCommand),
    /// Make printable attendance codes: visitor tickets, staff cards, organiser cards.
    Codes(CodesArgs),
    /// Decode QR codes in image files and verify them against the event.
    Scan(ScanArgs),
    /// Claim the attendance badge for a visitor code, as a tap on the kiosk does.
    Claim(ClaimArgs),
    /// Record a visitor at a stand of a pathway, as a staff scan does.
    Step(StepArgs),
    /// Enrol this kiosk with the organiser's hub (the enrolment code's text, a URL).
    Enrol(EnrolArgs),
    /// Inspect, verify, export or purge the signed award queue.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Import a ticketing system's CSV export as an allow-list of plain barcodes.
    Tickets(TicketsArgs),
    /// Cancel a code (by its id or short id) so that every kiosk refuses it.
    Revoke(RevokeArgs),
    /// Send queued records to the event hub now, with a progress bar and a summary.
    Sync(SyncArgs),
    /// Write every record to a signed bundle file (for a USB stick when there is no network).
    Export(ExportArgs),
    /// The kiosk's trusted clock: show it, or reset it after a hub gave a wrong time.
    #[command(subcommand)]
    Clock(ClockCommand),
    /// Read a staff or organiser PIN from standard input and print the form to put in the
    /// configuration (`staff_pin = "$argon2id$…"`, salted), so the file does not hold it in clear.
    PinHash,
    /// Run or feed the event hub (the organiser's collection point).
    #[command(subcommand)]
    Hub(HubCommand),
    /// Open Badges 3.0 credentials: verify one, or show the one for a queued award.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Benchmarks that print figures (build with --release for meaningful numbers).
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Verify a credential (JSON, or a baked PNG/SVG) and explain any failure.
    Verify {
        file: PathBuf,
        /// Public key (hex) for credentials whose verification method is not a did:key.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Print the signed credential of a queued award (by its record number).
    Show {
        award: u64,
        #[arg(long, default_value = "fr")]
        language: String,
        /// Also write the badge image with the credential baked in (.png or .svg).
        #[arg(long)]
        bake: Option<PathBuf>,
    },
}

/// Only in builds with `--features bench` (measuring on a kiosk board); not in the product.
#[cfg(feature = "bench")]
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Sign N credentials on one thread (eddsa-rdfc-2022).
    Credentials {
        #[arg(long, default_value_t = 20_000)]
        count: usize,
    },
    /// Decode QR photographs (each NAME.png|jpg|webp beside NAME.txt) with rqrr alone, the
    /// kiosk pipeline and, with --zxing, zxing-cpp from PyPI; plus 720p frame timings.
    Decode {
        /// Folders of labelled photographs (optional with --stress or --frames).
        dirs: Vec<PathBuf>,
        /// Also run scripts/zxing_bench.py (pip install zxing-cpp pillow) on the same files.
        #[arg(long)]
        zxing: bool,
        /// Synthetic 1280×720 frames to time, with and without a code.
        #[arg(long, default_value_t = 30)]
        frames: usize,
        /// Images per kind of the synthetic stress set (blur, glare, perspective…; 13 kinds).
        #[arg(long, default_value_t = 0, value_name = "N")]
        stress: u64,
        /// Also list every image's time, result and winning attempt (with --json).
        #[arg(long)]
        per_file: bool,
        /// Write the full report as JSON too.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Sync N awards from one kiosk to a hub on loopback (with --kiosks K: K kiosks with N
    /// awards each, syncing at once), beside the one-core floor for the same signatures.
    Sync {
        #[arg(long, default_value_t = 45_000)]
        awards: usize,
        #[arg(long, default_value_t = 1)]
        kiosks: usize,
    },
}

#[derive(Debug, Args)]
pub struct EnrolArgs {
    /// The enrolment code from the hub: http://HUB/enrol/TOKEN?key=FINGERPRINT
    pub code: String,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The hub's URL (default: `sync.hub` in event.toml).
    #[arg(long)]
    pub hub: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory to write the bundle into (e.g. the USB stick's mount point).
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Serve the hub's API and pages.
    Serve(HubServeArgs),
    /// Relay this venue hub's records to the organiser's public hub once (each record
    /// exactly once; safe to interrupt and run again).
    Relay(RelayArgs),
    /// Set the organiser console's password (read from standard input; stored as an
    /// Argon2 hash in the hub's data directory).
    Passwd(HubPasswdArgs),
    /// Import the ticketing allow-list the kiosks use (`badge-kiosk tickets`), so that the
    /// hub awards the plain tickets they accepted (no key signs those). Safe to run again.
    Tickets(HubTicketsArgs),
    /// Import a bundle written by `badge-kiosk export` (idempotent).
    Import(HubImportArgs),
    /// Make an enrolment code for new kiosks (prints it, and its QR as a PNG with --qr).
    EnrolToken(HubEnrolTokenArgs),
    /// The kiosks this hub knows: list them, revoke a stolen one, let a new device replace one.
    #[command(subcommand)]
    Kiosk(KioskFleetCommand),
    /// Revoke a visitor code (lost or misused ticket) on every kiosk at their next sync.
    Revoke(HubRevokeArgs),
    /// The staff and organiser PINs every kiosk takes from the signed event bundle at its
    /// next sync (stored as Argon2 hashes; a PIN set in a kiosk's own configuration wins).
    #[command(subcommand)]
    Pins(HubPinsCommand),
    /// Print the hub's counts: awards by badge, steps by stand, records by kiosk, and
    /// where the awards stand with the badge platform.
    Status(HubStatusArgs),
    /// Hand the merged awards to the badge platform (Open Badge Factory or Canvas
    /// Credentials), each exactly once; safe to interrupt and run again.
    #[command(after_help = HUB_ISSUE_EXIT_CODES)]
    Issue(HubIssueArgs),
    /// Per-award platform state: issued, refused (with the reason), queued, or needs an email.
    Recipients(HubRecipientsArgs),
    /// Registrations from the ticketing tool: reference (as printed in visitors' codes),
    /// email and name.
    #[command(subcommand)]
    Registrations(RegistrationsCommand),
    /// Erase clear emails once the platform confirmed the award plus the retention period.
    Purge(HubPurgeArgs),
}

#[derive(Debug, Args)]
pub struct HubServeArgs {
    /// Address to listen on; `0.0.0.0:8787` to accept kiosks on the venue network.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: String,
    /// Where the hub keeps its database.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The URL kiosks reach this hub at, put in enrolment codes (default: this machine's
    /// address on the network).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM, e.g. from a venue CA); needs
    /// --tls-key. Without it the hub serves HTTPS with its own certificate, made on first
    /// start in DIR/tls/ and pinned by kiosks through the signed enrolment code.
    #[arg(long, value_name = "PEM")]
    pub tls_certificate: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS: enrolment codes, visitors' emails and claim
    /// links then cross the network in clear. Only behind a TLS proxy, or for a test.
    #[arg(long)]
    pub insecure_http: bool,
    /// Send the claim page's emails through this SMTP server: smtp://host:25,
    /// smtps://user:password@host:465 or smtp://user:password@host:587?tls=required.
    /// Without it, requests wait in the hub's outbox.
    #[arg(long, value_name = "URL", env = "BADGE_KIOSK_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of claim emails, e.g. "Badges <badges@example.org>".
    #[arg(long, value_name = "ADDRESS", env = "BADGE_KIOSK_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// A host name the organiser console answers to (repeatable), besides IP addresses,
    /// localhost and the public URL's host, e.g. hub.venue.lan.
    #[arg(long, value_name = "NAME")]
    pub console_host: Vec<String>,
    /// The badge platform the console's "Issue now" sends to: obf or badgr.
    #[arg(long)]
    pub platform: Option<String>,
    /// The platform credentials file (TOML) for the console's "Issue now";
    /// BADGE_KIOSK_OBF_* / BADGE_KIOSK_BADGR_* environment variables override it.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Do not let the platform email the recipients of the console's issues.
    #[arg(long)]
    pub no_email: bool,
    /// Accept an smtp:// URL without ?tls=required (a mail relay on this machine):
    /// otherwise the hub refuses to send the SMTP login in clear.
    #[arg(long, env = "BADGE_KIOSK_SMTP_INSECURE")]
    pub smtp_insecure: bool,
    /// Records one kiosk may store on this hub; beyond it they stay queued on the kiosk and
    /// the console says so. Default: one record every 2 s, 12 h a day, over the event's days
    /// plus one (237,600 for a 10-day event).
    #[arg(long, value_name = "N", env = "BADGE_KIOSK_KIOSK_QUOTA")]
    pub kiosk_quota: Option<u64>,
    #[command(flatten)]
    pub relay: Box<ServeRelayArgs>,
}

#[derive(Debug, Args)]
pub struct HubPasswdArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct HubImportArgs {
    pub file: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct HubEnrolTokenArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The URL kiosks reach the hub at, e.g. http://192.168.1.10:8787.
    #[arg(long, value_name = "URL")]
    pub hub_url: String,
    /// How many kiosks may use this code.
    #[arg(long, default_value_t = 1)]
    pub kiosks: u32,
    /// Minutes before the code expires.
    #[arg(long, default_value_t = 60)]
    pub minutes: u32,
    /// Also write the code as a QR image (PNG) to show a kiosk's camera.
    #[arg(long, value_name = "FILE")]
    pub qr: Option<PathBuf>,
    /// The certificate the hub serves when it is not its own (`hub serve
    /// --tls-certificate`): kiosks pin this one.
    #[arg(long, value_name = "PEM")]
    pub tls_certificate: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HubRevokeArgs {
    /// The code's text (BK…) or its id as the kiosk shows it (e.g. 7KQ2-M9PD…) in hex.
    pub code: String,
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[arg(long, default_value = "revoked by the organiser")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct HubStatusArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct HubIssueArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// obf (Open Badge Factory, CanCred Factory) or badgr (Canvas Credentials).
    #[arg(long)]
    pub platform: String,
    /// The platform credentials file (TOML); BADGE_KIOSK_OBF_* / BADGE_KIOSK_BADGR_*
    /// environment variables override it.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Do not let the platform email the recipients (they find the badge in their
    /// account, or you send the links yourself).
    #[arg(long)]
    pub no_email: bool,
    /// Show what would be sent, without contacting the platform.
    #[arg(long)]
    pub dry_run: bool,
    /// Give up after this long in all (e.g. 90s, 10m, 1h) if the platform cannot be
    /// reached or does not answer, with exit code 75; nothing is lost. Without it each
    /// request is tried 10 times with growing waits (about 4 minutes).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_wait: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct HubRecipientsArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[arg(long, default_value = "obf")]
    pub platform: String,
    /// Show only awards in this state: issued, refused, queued, sending, needs-email.
    #[arg(long)]
    pub only: Option<String>,
}

#[derive(Debug, Args)]
pub struct HubPurgeArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Days to keep an email after the platform confirmed (default: email_retention_days
    /// from the configuration, 30); 0 erases every confirmed email now.
    #[arg(long)]
    pub retention_days: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// The system clock, the trusted floor and the time the kiosk signs with.
    Show,
    /// Forget every time this kiosk trusted (hubs', bundles', its certificate's, its own
    /// records' so far): it signs with its system clock until newer records or the next
    /// sync (the same as "Reset the clock" on the organiser panel).
    Reset,
}

/// Which kiosk PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PinRoleArg {
    /// Staff mode (a stand's staff card).
    Staff,
    /// The organiser panel (the organiser card).
    Organiser,
}

#[derive(Debug, Subcommand)]
pub enum HubPinsCommand {
    /// Set a PIN (4 to 8 digits, read from standard input): kiosks take it at their next sync.
    Set {
        role: PinRoleArg,
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Remove a PIN: kiosks without one of their own show "not set up" for that mode.
    Clear {
        role: PinRoleArg,
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Which PINs are set, and when.
    Show {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KioskFleetCommand {
    /// Every kiosk: id, device key fingerprint, certificate date, last seen, records, revoked.
    List {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Refuse every later upload from this kiosk (stolen, lost, misbehaving); what it sent
    /// before stays on the hub for review.
    Revoke {
        /// The kiosk id, as `hub kiosk list` shows it.
        id: String,
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Why: shown to the kiosk and in the list.
        #[arg(long)]
        reason: String,
    },
    /// Let a new device enrol under this kiosk id (the old one broke or was stolen): its
    /// records move to an archive id, its certificate stops being accepted.
    Replace {
        id: String,
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegistrationsCommand {
    /// Import a CSV export (idempotent; bad lines are listed and skipped).
    Import {
        file: PathBuf,
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
}

#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Full screen, no window decorations (for the kiosk itself).
    #[arg(long)]
    pub fullscreen: bool,
    /// Camera index, or `none` to use only a USB barcode scanner.
    #[arg(long)]
    pub camera: Option<String>,
    /// Window size for desktops, e.g. 800x480 or 1920x1080.
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
    /// The stand this kiosk is installed at.
    #[arg(long)]
    pub stand: Option<String>,
}

impl From<RunArgs> for crate::app::RunOptions {
    fn from(args: RunArgs) -> Self {
        Self {
            fullscreen: args.fullscreen,
            camera: args.camera,
            size: args.size,
            stand: args.stand,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Create DIR with event.toml and a new Ed25519 event key (mode 0600).
    Init {
        dir: PathBuf,
        /// The event id (lower-case letters, digits, '-').
        #[arg(long)]
        id: Option<String>,
    },
    /// Show the event, its keys' fingerprints and this kiosk's identity.
    Show,
}

#[derive(Debug, Args)]
pub struct CodesArgs {
    /// Number of visitor codes.
    #[arg(long, default_value_t = 0)]
    pub count: usize,
    /// Staff cards for these stands (repeat, or `all`).
    #[arg(long = "staff", value_name = "STAND")]
    pub staff: Vec<String>,
    /// Number of organiser cards.
    #[arg(long, default_value_t = 0)]
    pub organisers: usize,
    /// Registration references for visitor codes, one per line (replaces --count).
    #[arg(long, value_name = "FILE")]
    pub registrations: Option<PathBuf>,
    /// Days the codes stay valid after the event ends.
    #[arg(long, default_value_t = 30)]
    pub valid_days_after: u32,
    /// Output directory (PDF, PNG pages, SVG, CSV).
    #[arg(long, default_value = "codes")]
    pub out: PathBuf,
    /// The demo set: 10 visitors, one staff card per stand, one organiser card.
    #[arg(long)]
    pub demo: bool,
}

impl CodesArgs {
    /// The codes asked for; `out` is where the command writes them.
    pub fn request(&self) -> crate::app::CodeRequest {
        crate::app::CodeRequest {
            count: self.count,
            staff: self.staff.clone(),
            organisers: self.organisers,
            registrations: self.registrations.clone(),
            valid_days_after: self.valid_days_after,
            demo: self.demo,
        }
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// One JSON object per image: decoded texts, verdicts and milliseconds.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// The code text (as scanned), or `-` to read codes from standard input, one per line.
    pub code: String,
    /// Send the badge to this email instead of the registered one.
    #[arg(long, conflicts_with = "phone")]
    pub email: Option<String>,
    /// Make a claim link for a phone instead.
    #[arg(long)]
    pub phone: bool,
}

#[derive(Debug, Args)]
pub struct StepArgs {
    pub code: String,
    #[arg(long)]
    pub stand: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// List records with their sync state.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Recompute every signature and the hash chain; name any edited, deleted or reordered row.
    Verify,
    /// Export records (signed bytes included) as CSV or JSON Lines.
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase typed emails of records the platform confirmed more than the retention ago.
    Purge {
        /// Override the retention in days (0: erase every confirmed email now).
        #[arg(long)]
        retention_days: Option<u64>,
    },
    /// Show queued / synced / failed counts and failure reasons.
    Status,
}

#[derive(Debug, Args)]
pub struct TicketsArgs {
    /// CSV with a header naming the barcode column (barcode, code, ticket, code-barre…).
    pub csv: PathBuf,
}

#[derive(Debug, Args)]
pub struct HubTicketsArgs {
    /// The same CSV as given to `badge-kiosk tickets` on the kiosks.
    pub csv: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Code id (20 hex digits) or a full code text.
    pub code: String,
}

/// `hub serve`'s relay options.
#[derive(Debug, Clone, Args)]
pub struct ServeRelayArgs {
    /// Relay this hub's records to the organiser's public hub at this address (https://…),
    /// the one that serves the event's claim pages: shortly after new records arrive, and
    /// periodically, each record exactly once.
    #[arg(long, value_name = "URL")]
    pub relay_to: Option<String>,
    /// SHA-256 (hex) of the public hub's own TLS certificate, when it is self-signed (the
    /// public hub prints it when it starts); without it the certificate must be a public one.
    #[arg(long, value_name = "HEX", requires = "relay_to")]
    pub relay_pin: Option<String>,
    /// Allow an http:// relay address: records and visitors' emails then cross the network
    /// in clear. Only for a public hub behind a TLS proxy on this machine, or a test.
    #[arg(long, requires = "relay_to")]
    pub relay_insecure_http: bool,
    /// The periodic relay pass (new records are relayed within seconds anyway).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub relay_interval: std::time::Duration,
}

/// `hub relay`: one pass, with its progress and figures.
#[derive(Debug, Clone, Args)]
pub struct RelayArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The organiser's public hub (https://…), the one that serves the claim pages.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// SHA-256 (hex) of the public hub's own TLS certificate, when it is self-signed.
    #[arg(long, value_name = "HEX")]
    pub relay_pin: Option<String>,
    /// Allow an http:// address (records and emails in clear).
    #[arg(long)]
    pub insecure_http: bool,
}
