//! "Issue now" on the Badge platform page: one issue pass (`hub::issue::issue_from_hub`,
//! the same as `badge-kiosk hub issue`) in a background task, its progress kept here for
//! the page to poll. One run at a time; it works on its own connection to the hub's
//! database (SQLite WAL), so the hub keeps serving kiosks meanwhile.

use std::sync::{Arc, Mutex};

use crate::hub::issue::{issue_from_hub, ProgressFn, SharedHubStore};
use crate::hub::store::HubStore;
use crate::platform::{IssueSettings, Platform, PlatformClient};

/// How the console gets a platform client: set by `hub serve --platform … --credentials …`
/// (or a test). The client is made for each run, so edited credentials are read again.
#[derive(Clone)]
pub struct IssuerSetup {
    pub platform: Platform,
    pub client: Arc<dyn Fn() -> Result<PlatformClient, String> + Send + Sync>,
    pub settings: IssueSettings,
}

impl std::fmt::Debug for IssuerSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerSetup").field("platform", &self.platform).finish()
    }
}

/// How a finished run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Every award with an email was settled; (issued, refused, queued, needs an email) after it.
    Done(usize, usize, usize, usize),
    /// Stopped early (platform unreachable, credentials refused…): the reason, then the
    /// same counts; what was not settled stays queued for the next run.
    Stopped(String, usize, usize, usize, usize),
    /// Could not start or the database failed: the reason.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    pub platform: Platform,
    pub started_ms: i64,
    pub confirmed: usize,
    pub failed: usize,
    pub total: usize,
    pub end: Option<RunEnd>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartRefusal {
    NotConfigured,
    AlreadyRunning,
}

/// The latest run (running or finished) since the hub started.
#[derive(Debug, Default)]
pub struct IssueRuns {
    latest: Arc<Mutex<Option<RunState>>>,
}

impl IssueRuns {
    pub fn latest(&self) -> Option<RunState> {
        self.latest.lock().ok().and_then(|latest| latest.clone())
    }

    /// Starts a run in the background, unless one is running or issuing is not set up.
    /// `event` is None when the hub's database could not be read: the run then ends at once
    /// with that reason.
    pub fn start(
        &self,
        issuer: Option<IssuerSetup>,
        database: Option<std::path::PathBuf>,
        now: i64,
        event: Option<crate::domain::event::EventDefinition>,
    ) -> Result<(), StartRefusal> {
        let (Some(issuer), Some(database)) = (issuer, database) else {
            return Err(StartRefusal::NotConfigured);
        };
        {
            let mut latest = self.latest.lock().map_err(|_| StartRefusal::AlreadyRunning)?;
            if latest.as_ref().is_some_and(|run| run.end.is_none()) {
                return Err(StartRefusal::AlreadyRunning);
            }
            *latest = Some(RunState {
                platform: issuer.platform,
                started_ms: now,
                confirmed: 0,
                failed: 0,
                total: 0,
                end: None,
            });
        }
        let latest = Arc::clone(&self.latest);
        let Some(event) = event else {
            finish(
                &latest,
                RunEnd::Failed("the hub database is unavailable: restart the hub".into()),
            );
            return Ok(());
        };
        tokio::spawn(async move {
            let end = run(issuer, database, event, Arc::clone(&latest)).await;
            finish(&latest, end);
        });
        Ok(())
    }
}

fn finish(latest: &Mutex<Option<RunState>>, end: RunEnd) {
    if let Ok(mut latest) = latest.lock() {
        if let Some(run) = latest.as_mut() {
            run.end = Some(end);
        }
    }
}

async fn run(
    issuer: IssuerSetup,
    database: std::path::PathBuf,
    event: crate::domain::event::EventDefinition,
    latest: Arc<Mutex<Option<RunState>>>,
) -> RunEnd {
    let opened = tokio::task::spawn_blocking(move || HubStore::open(&database, event)).await;
    let store: SharedHubStore = match opened {
        Ok(Ok(store)) => Arc::new(Mutex::new(store)),
        Ok(Err(failure)) => return RunEnd::Failed(failure.to_string()),
        Err(failure) => return RunEnd::Failed(failure.to_string()),
    };
    let mut client = match (issuer.client)() {
        Ok(client) => client,
        Err(reason) => return RunEnd::Failed(reason),
    };
    let progress_state = Arc::clone(&latest);
    let progress: ProgressFn = Arc::new(move |confirmed, failed, total| {
        if let Ok(mut latest) = progress_state.lock() {
            if let Some(run) = latest.as_mut() {
                run.confirmed = confirmed;
                run.failed = failed;
                run.total = total.max(confirmed + failed);
            }
        }
    });
    match issue_from_hub(&store, &mut client, &issuer.settings, Some(progress)).await {
        Ok(report) => {
            let counts = report.counts;
            let figures = (
                counts.confirmed,
                counts.failed,
                counts.queued + counts.sending,
                counts.needs_email,
            );
            match report.stopped {
                None => RunEnd::Done(figures.0, figures.1, figures.2, figures.3),
                Some(reason) => RunEnd::Stopped(reason.to_string(), figures.0, figures.1, figures.2, figures.3),
            }
        }
        Err(failure) => RunEnd::Failed(failure.to_string()),
    }
}
