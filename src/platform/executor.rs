//! Carries out the plan against the platform, exactly once per award:
//!
//! 1. Awards with a `sending` mark (an earlier call had no definite answer) are looked up
//!    by the log entry they were sent with; what the platform holds is confirmed.
//! 2. The remaining awards are planned into calls. Each call is marked "sending with log
//!    entry L" in the ledger *before* it leaves.
//! 3. A definite answer settles the awards (confirmed, failed with the platform's reason,
//!    or sent again in a smaller call). A call that was refused before being processed
//!    (429, connection refused) is sent again after the wait. A call whose outcome is
//!    unknown (timeout, dropped answer, 5xx) is looked up before anything is resent.
//!
//! A person watching a pass follows it through [`PassControl`]: every wait is announced
//! (what failed, when the next attempt is) before it starts, and a deadline stops the pass
//! with [`PlatformError::WaitExceeded`] instead of waiting past it. Stopping is always safe:
//! awards are settled or still queued, and a call whose answer was not seen keeps its
//! `sending` mark, so the next pass looks it up before sending anything.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::http::CallError;
use super::ledger::IssueLedger;
use super::plan::{
    in_doubt_groups, plan_calls, recovery_call, steps_for, steps_for_lookup, Answer, Backoff, IssueCall, LookUp, Step,
};
use super::{IssueSettings, IssueSummary, PlatformClient, PlatformError};

/// What a pass tells a person while it waits on the platform, said before the wait begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassNotice {
    /// A request did not get through (the platform never acted on it); it is sent again
    /// after `wait`.
    Retrying {
        reason: String,
        /// Failed attempts in a row for this request.
        attempt: u32,
        wait: Duration,
    },
    /// An issue call's outcome is unknown (timeout, lost answer, 5xx): it is looked up on
    /// the platform after `wait`, never sent again blind.
    LookingUp { reason: String, wait: Duration },
    /// A look-up did not get through; it is tried again after `wait`.
    LookUpRetrying {
        reason: String,
        attempt: u32,
        wait: Duration,
    },
    /// Awards left "sending" by an interrupted run: looked up after `wait`, before anything
    /// is sent.
    CheckingInterrupted { awards: usize, wait: Duration },
}

impl PassNotice {
    pub fn wait(&self) -> Duration {
        match self {
            Self::Retrying { wait, .. }
            | Self::LookingUp { wait, .. }
            | Self::LookUpRetrying { wait, .. }
            | Self::CheckingInterrupted { wait, .. } => *wait,
        }
    }
}

/// Whole seconds, rounded up, for a person: "next attempt in 3 s".
fn seconds(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).try_into().unwrap_or(u64::MAX)
}

impl fmt::Display for PassNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SAFE: &str = "nothing is lost: the awards stay queued and none is issued twice";
        match self {
            Self::Retrying { reason, attempt, wait } => write!(
                f,
                "{reason} (attempt {attempt}); next attempt in {} s; {SAFE}",
                seconds(*wait)
            ),
            Self::LookingUp { reason, wait } => write!(
                f,
                "{reason}: the platform may have acted on the call, so it is looked up in {} s before \
                 anything is sent again; {SAFE}",
                seconds(*wait)
            ),
            Self::LookUpRetrying { reason, attempt, wait } => write!(
                f,
                "look-up failed: {reason} (attempt {attempt}); next attempt in {} s; {SAFE}",
                seconds(*wait)
            ),
            Self::CheckingInterrupted { awards, wait } => {
                let awards = crate::plural::count(*awards, "award", "awards");
                write!(
                    f,
                    "{awards} sent by an interrupted run: looked up on the platform in {} s, before \
                     anything is sent",
                    seconds(*wait)
                )
            }
        }
    }
}

/// Receives each [`PassNotice`] (from the runtime's threads: keep it short).
pub type NoticeFn = Arc<dyn Fn(&PassNotice) + Send + Sync>;

/// How a person follows and bounds a pass. The default says nothing and has no deadline
/// (only [`IssueSettings::max_attempts`] bounds the retries).
#[derive(Clone, Default)]
pub struct PassControl {
    pub notices: Option<NoticeFn>,
    /// The pass stops with [`PlatformError::WaitExceeded`] rather than wait or wait for an
    /// answer past this instant.
    pub deadline: Option<Instant>,
}

impl fmt::Debug for PassControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassControl")
            .field("notices", &self.notices.is_some())
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl PassControl {
    fn tell(&self, notice: PassNotice) {
        if let Some(notices) = &self.notices {
            notices(&notice);
        }
    }

    fn exceeded(reason: &str) -> PlatformError {
        PlatformError::WaitExceeded(format!(
            "stopped at the time limit for this run (last problem: {reason}). Nothing is lost: every award \
             is issued or still queued, and a call whose answer was not seen is looked up before anything \
             is sent again; run the issue again later"
        ))
    }

    /// Announces `notice`, then waits its delay, unless that would end past the deadline.
    async fn pause(&self, notice: PassNotice, reason: &str) -> Result<(), PlatformError> {
        let delay = notice.wait();
        if self.deadline.is_some_and(|deadline| Instant::now() + delay > deadline) {
            return Err(Self::exceeded(reason));
        }
        self.tell(notice);
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Runs one request, cut off at the deadline. A cut issue call keeps its `sending`
    /// mark: the next pass looks it up.
    async fn request<T>(
        &self,
        request: impl Future<Output = Result<T, CallError>>,
        waiting_for: &str,
    ) -> Result<Result<T, CallError>, PlatformError> {
        match self.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, request)
                .await
                .map_err(|_| Self::exceeded(waiting_for)),
            None => Ok(request.await),
        }
    }
}

/// How an issue call ended.
enum Outcome {
    Answered(Answer),
    /// The answer was lost, and the look-up found (some of) the call on the platform.
    Recovered(LookUp),
}

/// Hands every pending award of the ledger to the platform. Returns when nothing is left
/// to send, or with an error that says whether to wait (`Transient`) or to act (`Blocked`);
/// in both cases every award is either settled or still pending with its `sending` mark.
pub async fn issue_pending<L: IssueLedger + Send>(
    ledger: &mut L,
    client: &mut PlatformClient,
    settings: &IssueSettings,
) -> Result<IssueSummary, PlatformError> {
    let mut summary = IssueSummary::default();
    issue_pending_into(ledger, client, settings, &mut summary).await?;
    Ok(summary)
}

/// As [`issue_pending`], adding to `summary` as it goes, so a pass that stops early still
/// tells what it did.
pub async fn issue_pending_into<L: IssueLedger + Send>(
    ledger: &mut L,
    client: &mut PlatformClient,
    settings: &IssueSettings,
    summary: &mut IssueSummary,
) -> Result<(), PlatformError> {
    issue_pending_controlled(ledger, client, settings, &PassControl::default(), summary).await
}

/// As [`issue_pending_into`], telling `control` about every wait and stopping at its
/// deadline (with [`PlatformError::WaitExceeded`]).
pub async fn issue_pending_controlled<L: IssueLedger + Send>(
    ledger: &mut L,
    client: &mut PlatformClient,
    settings: &IssueSettings,
    control: &PassControl,
    summary: &mut IssueSummary,
) -> Result<(), PlatformError> {
    let groups = in_doubt_groups(&ledger.pending().await?);
    if !groups.is_empty() {
        // An answer lost a moment ago may belong to a call the platform is still recording.
        let awards = groups.values().map(Vec::len).sum();
        control
            .pause(
                PassNotice::CheckingInterrupted {
                    awards,
                    wait: settings.settle_before_lookup,
                },
                "awards sent by an interrupted run were not looked up yet",
            )
            .await?;
    }
    for (log_entry, awards) in groups {
        let Some(call) = recovery_call(&log_entry, &awards) else {
            continue;
        };
        let lookup = look_up_until_answered(client, &call, settings, control, summary).await?;
        // What was not found is planned afresh below, with everything else.
        for step in steps_for_lookup(&call, &lookup) {
            if let Step::Confirm {
                award_keys,
                platform_ref,
            } = step
            {
                ledger.mark_confirmed(&award_keys, &platform_ref).await?;
                summary.confirmed += award_keys.len();
                summary.found_after_lost_answer += award_keys.len();
            }
        }
    }

    let plan = plan_calls(&ledger.pending().await?, client.shape());
    for (award_key, reason) in &plan.rejected {
        ledger.mark_failed(award_key, reason).await?;
        summary.failed += 1;
    }
    for call in plan.calls {
        run_call(ledger, client, settings, control, call, summary).await?;
    }
    summary.remaining = ledger.pending().await?.len();
    Ok(())
}

/// One planned call and the smaller calls it may turn into.
async fn run_call<L: IssueLedger + Send>(
    ledger: &mut L,
    client: &mut PlatformClient,
    settings: &IssueSettings,
    control: &PassControl,
    root: IssueCall,
    summary: &mut IssueSummary,
) -> Result<(), PlatformError> {
    let root_recipients = root.recipients.len();
    // Breadth first, so a refusal that concerns every recipient is noticed (after a few
    // halvings) before any single award is marked failed for it.
    let mut queue = VecDeque::from([root]);
    let mut refused_calls = 0usize;
    let mut refused_recipients = 0usize;
    let mut refusals: Vec<(String, String)> = Vec::new();
    let mut last_reason = String::new();
    while let Some(call) = queue.pop_front() {
        ledger.mark_sending(&call.award_keys(), &call.log_entry).await?;
        summary.calls += 1;
        let (steps, whole_call_refused) = match send_until_definite(client, settings, control, &call, summary).await? {
            Outcome::Answered(answer) => {
                let refused = matches!(answer, Answer::CallRefused { .. });
                if let Answer::CallRefused { reason } = &answer {
                    refused_calls += 1;
                    last_reason = reason.clone();
                    if refused_calls > settings.max_refused_calls {
                        return Err(PlatformError::Blocked(format!(
                            "{} refused {refused_calls} calls while looking for the recipient it objects to \
                             («{last_reason}»): this looks like a problem with every call, not one email. The \
                             awards stay queued; fix the cause (badge settings, api_consumer_id), then run the \
                             issue again",
                            client.label()
                        )));
                    }
                    if call.recipients.len() == 1 {
                        refused_recipients += 1;
                    }
                }
                (steps_for(&call, &answer), refused)
            }
            Outcome::Recovered(lookup) => {
                let steps = steps_for_lookup(&call, &lookup);
                summary.found_after_lost_answer += confirmed_in(&steps);
                (steps, false)
            }
        };
        for step in steps {
            match step {
                Step::Confirm {
                    award_keys,
                    platform_ref,
                } => {
                    ledger.mark_confirmed(&award_keys, &platform_ref).await?;
                    summary.confirmed += award_keys.len();
                }
                // Held back until the whole tree is done: see the check below.
                Step::Fail { award_key, reason } if whole_call_refused => refusals.push((award_key, reason)),
                Step::Fail { award_key, reason } => {
                    ledger.mark_failed(&award_key, &reason).await?;
                    summary.failed += 1;
                }
                Step::Send(again) => queue.push_back(again),
            }
        }
    }
    if root_recipients >= 2 && refused_recipients == root_recipients {
        return Err(PlatformError::Blocked(format!(
            "{} refused every recipient of a call, one by one («{last_reason}»): this is not about one \
             email. The awards stay queued; fix the cause, then run the issue again",
            client.label()
        )));
    }
    for (award_key, reason) in refusals {
        ledger.mark_failed(&award_key, &reason).await?;
        summary.failed += 1;
    }
    Ok(())
}

/// Sends a call until the platform gives a definite answer, looking it up after every
/// unknown outcome so that it is never sent twice.
async fn send_until_definite(
    client: &mut PlatformClient,
    settings: &IssueSettings,
    control: &PassControl,
    call: &IssueCall,
    summary: &mut IssueSummary,
) -> Result<Outcome, PlatformError> {
    let mut backoff = Backoff::new(settings.backoff_base, settings.backoff_max);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let sent = control
            .request(client.issue(call), "the platform had not answered an issue call yet")
            .await?;
        match sent {
            Ok(answer) => return Ok(Outcome::Answered(answer)),
            Err(CallError::Blocked(reason)) => return Err(PlatformError::Blocked(reason)),
            Err(error @ (CallError::NotProcessed { .. } | CallError::Unreachable(_))) => {
                let retry_after = match &error {
                    CallError::NotProcessed { retry_after, .. } => *retry_after,
                    _ => None,
                };
                let reason = error.reason().to_owned();
                give_up_after(attempts, settings, &reason)?;
                let wait = delay(retry_after, &mut backoff, settings)?.max(client.token_wait());
                let notice = PassNotice::Retrying {
                    reason: reason.clone(),
                    attempt: attempts,
                    wait,
                };
                control.pause(notice, &reason).await?;
            }
            Err(CallError::Unknown(reason)) => {
                summary.unknown_outcomes += 1;
                give_up_after(attempts, settings, &reason)?;
                let wait = backoff.next_delay(rand::random()).max(settings.settle_before_lookup);
                let notice = PassNotice::LookingUp {
                    reason: reason.clone(),
                    wait,
                };
                control.pause(notice, &reason).await?;
                let lookup = look_up_until_answered(client, call, settings, control, summary).await?;
                if !lookup.found_nothing() {
                    return Ok(Outcome::Recovered(lookup));
                }
            }
        }
        summary.retries += 1;
    }
}

async fn look_up_until_answered(
    client: &mut PlatformClient,
    call: &IssueCall,
    settings: &IssueSettings,
    control: &PassControl,
    summary: &mut IssueSummary,
) -> Result<LookUp, PlatformError> {
    let mut backoff = Backoff::new(settings.backoff_base, settings.backoff_max);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        summary.lookups += 1;
        let answers_before = client.lookup_answers();
        let result = control
            .request(client.look_up(call), "the platform had not answered a look-up yet")
            .await?;
        if client.lookup_answers() > answers_before {
            // Part of the look-up got through: only failures in a row count against it.
            attempts = 1;
            backoff.reset();
        }
        let (reason, retry_after) = match result {
            Ok(lookup) => return Ok(lookup),
            Err(CallError::Blocked(reason)) => return Err(PlatformError::Blocked(reason)),
            Err(CallError::NotProcessed { reason, retry_after }) => (reason, retry_after),
            Err(CallError::Unknown(reason) | CallError::Unreachable(reason)) => (reason, None),
        };
        give_up_after(attempts, settings, &reason)?;
        let wait = delay(retry_after, &mut backoff, settings)?.max(client.token_wait());
        let notice = PassNotice::LookUpRetrying {
            reason: reason.clone(),
            attempt: attempts,
            wait,
        };
        control.pause(notice, &reason).await?;
    }
}

fn confirmed_in(steps: &[Step]) -> usize {
    steps
        .iter()
        .map(|step| match step {
            Step::Confirm { award_keys, .. } => award_keys.len(),
            _ => 0,
        })
        .sum()
}

fn give_up_after(attempts: u32, settings: &IssueSettings, reason: &str) -> Result<(), PlatformError> {
    if attempts >= settings.max_attempts {
        return Err(PlatformError::Transient(format!(
            "no definite answer from the platform after {attempts} attempts ({reason}); nothing was \
             issued twice and the awards stay queued: run the issue again later"
        )));
    }
    Ok(())
}

/// Honours the platform's Retry-After (within reason), or backs off with jitter.
fn delay(
    retry_after: Option<Duration>,
    backoff: &mut Backoff,
    settings: &IssueSettings,
) -> Result<Duration, PlatformError> {
    match retry_after {
        Some(delay) if delay > settings.max_retry_after => Err(PlatformError::Transient(format!(
            "the platform asks us to wait {} s before the next request; the awards stay queued: run \
             the issue again after that",
            delay.as_secs()
        ))),
        Some(delay) => Ok(delay),
        None => Ok(backoff.next_delay(rand::random())),
    }
}
