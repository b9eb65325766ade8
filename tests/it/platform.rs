//! Issuing to Open Badge Factory and Canvas Credentials against the local contract servers:
//! exactly once under lost answers, random faults, token expiry, rate limits and refusals.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use badge_kiosk::platform::ledger::{AwardState, LedgerEvent};
use badge_kiosk::platform::{
    issue_pending, issue_pending_into, BadgrAuth, BadgrClient, BadgrCredentials, BadgrSettings, EmailMessage,
    IssueLedger, IssueSettings, IssueSummary, Language, LedgerError, MemoryLedger, ObfClient, ObfCredentials,
    ObfSettings, PendingIssue, PlatformClient, PlatformError, Secret, TransportSettings,
};

use crate::platform_contract::{ContractServer, Endpoint, Fault, RandomFaults, ServerConfig};

const OBF_BADGES: [&str; 3] = ["VISIT2026", "PATHWAY2026", "STAFF2026"];
const BADGR_BADGES: [&str; 3] = [
    "K829IK8RS6ercwkpeFOn-Q",
    "iOMWsaF1QbmMCofM54JlUg",
    "Uu4wd2I1SKmD3vmtMJ19hw",
];

fn awards(count: usize, badges: &[&str], prefix: &str) -> Vec<PendingIssue> {
    (0..count)
        .map(|i| PendingIssue {
            award_key: format!("{prefix}-{i:05}"),
            platform_badge_id: badges[i % badges.len()].to_string(),
            email: format!("visitor.{prefix}.{i}@lycee.example.org"),
            name: (i % 3 == 0).then(|| format!("Visitor {i}")),
            issued_on: 1_780_000_000_000 + i as i64 * 1_000,
            language: if i % 4 == 0 { Language::En } else { Language::Fr },
            sending: None,
        })
        .collect()
}

pub(crate) fn transport(timeout: Duration) -> TransportSettings {
    TransportSettings {
        request_timeout: timeout,
        max_answer_bytes: 8 * 1024 * 1024,
        min_token_interval: Duration::ZERO,
    }
}

pub(crate) fn fast() -> IssueSettings {
    IssueSettings {
        max_attempts: 12,
        backoff_base: Duration::from_millis(2),
        backoff_max: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
        settle_before_lookup: Duration::ZERO,
        max_refused_calls: 64,
    }
}

fn obf_client(server: &ContractServer, settings: ObfSettings, transport: TransportSettings) -> PlatformClient {
    let credentials = ObfCredentials {
        client_id: server.client_id().into(),
        client_secret: Secret::new(server.client_secret()),
        base_url: server.url(),
    };
    PlatformClient::Obf(ObfClient::new(&credentials, settings, transport))
}

fn badgr_client(server: &ContractServer, settings: BadgrSettings, transport: TransportSettings) -> PlatformClient {
    let credentials = BadgrCredentials {
        auth: BadgrAuth::Password {
            username: server.client_id().into(),
            password: Secret::new(server.client_secret()),
        },
        base_url: server.url(),
    };
    PlatformClient::Badgr(BadgrClient::new(&credentials, settings, transport))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Obf,
    Badgr,
}

async fn server_for(which: Which, config: Option<ServerConfig>) -> ContractServer {
    match which {
        Which::Obf => ContractServer::obf(&OBF_BADGES, config.unwrap_or_else(ServerConfig::obf)).await,
        Which::Badgr => ContractServer::badgr(&BADGR_BADGES, config.unwrap_or_else(ServerConfig::badgr)).await,
    }
}

fn badges_of(which: Which) -> &'static [&'static str] {
    match which {
        Which::Obf => &OBF_BADGES,
        Which::Badgr => &BADGR_BADGES,
    }
}

fn client_for(which: Which, server: &ContractServer, timeout: Duration) -> PlatformClient {
    match which {
        Which::Obf => obf_client(server, ObfSettings::default(), transport(timeout)),
        Which::Badgr => badgr_client(server, BadgrSettings::default(), transport(timeout)),
    }
}

/// A ledger that checks the exactly-once rule as the executor uses it: when a call is
/// marked "sending", the platform must not hold any of its recipients yet.
struct CheckingLedger {
    inner: MemoryLedger,
    server: ContractServer,
    violations: Vec<String>,
}

impl CheckingLedger {
    fn new(awards: Vec<PendingIssue>, server: &ContractServer) -> Self {
        Self {
            inner: MemoryLedger::new(awards),
            server: server.clone(),
            violations: Vec::new(),
        }
    }
}

impl IssueLedger for CheckingLedger {
    async fn pending(&self) -> Result<Vec<PendingIssue>, LedgerError> {
        self.inner.pending().await
    }

    async fn mark_sending(&mut self, award_keys: &[String], log_entry: &str) -> Result<(), LedgerError> {
        let pending = self.inner.pending().await?;
        for key in award_keys {
            if let Some(award) = pending.iter().find(|a| &a.award_key == key) {
                if self.server.issued_count(&award.platform_badge_id, &award.email) > 0 {
                    self.violations.push(format!(
                        "{key} marked sending ({log_entry}) while already on the platform"
                    ));
                }
            }
        }
        self.inner.mark_sending(award_keys, log_entry).await
    }

    async fn mark_confirmed(&mut self, award_keys: &[String], platform_ref: &str) -> Result<(), LedgerError> {
        self.inner.mark_confirmed(award_keys, platform_ref).await
    }

    async fn mark_failed(&mut self, award_key: &str, reason: &str) -> Result<(), LedgerError> {
        self.inner.mark_failed(award_key, reason).await
    }
}

/// Runs passes like an organiser re-running the command, until nothing is left; returns
/// every pass's summary and the errors that stopped passes early.
async fn issue_until_done<L: IssueLedger + Send>(
    ledger: &mut L,
    client: &mut PlatformClient,
    settings: &IssueSettings,
    max_passes: usize,
) -> (Vec<IssueSummary>, Vec<PlatformError>) {
    let mut summaries = Vec::new();
    let mut errors = Vec::new();
    for _ in 0..max_passes {
        let mut summary = IssueSummary::default();
        let result = issue_pending_into(ledger, client, settings, &mut summary).await;
        summaries.push(summary);
        match result {
            Ok(()) if summaries.last().is_some_and(|s| s.remaining == 0) => break,
            Ok(()) => {}
            // Random faults can refuse a fresh token too (the pass stops as for bad
            // credentials): either way the organiser runs the command again.
            Err(error) => errors.push(error),
        }
    }
    (summaries, errors)
}

fn total(summaries: &[IssueSummary], field: impl Fn(&IssueSummary) -> usize) -> usize {
    summaries.iter().map(field).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obf_issues_each_award_once_with_the_documented_request() {
    let server = server_for(Which::Obf, None).await;
    let mut messages = BTreeMap::new();
    messages.insert(
        Language::En,
        EmailMessage {
            subject: "Your badge from the careers fair".into(),
            body: "Claim it with the link below.".into(),
            link_text: "Claim my badge".into(),
            footer: String::new(),
        },
    );
    messages.insert(
        Language::Fr,
        EmailMessage {
            subject: "Votre badge du forum des métiers".into(),
            body: "Récupérez-le avec le lien ci-dessous.".into(),
            link_text: "Récupérer mon badge".into(),
            footer: String::new(),
        },
    );
    let settings = ObfSettings {
        email_messages: messages,
        event_name: Some("Forum des métiers 2026".into()),
        ..ObfSettings::default()
    };
    let mut client = obf_client(&server, settings, transport(Duration::from_secs(5)));
    let mut pending = awards(30, &OBF_BADGES[..2], "a");
    // The same visitor twice for one badge (two kiosks): one recipient on the platform.
    let mut twin = pending[0].clone();
    twin.award_key = "a-twin".into();
    twin.email = twin.email.to_uppercase();
    pending.push(twin);
    let mut ledger = CheckingLedger::new(pending, &server);

    let summary = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();

    assert_eq!(summary.confirmed, 31);
    assert_eq!(summary.remaining, 0);
    assert!(ledger.violations.is_empty(), "{:?}", ledger.violations);
    assert!(server.duplicates().is_empty(), "{:?}", server.duplicates());
    assert_eq!(server.total_issued(), 30);
    // One event per badge and language: VISIT2026 has French and English visitors,
    // PATHWAY2026 only French ones.
    assert_eq!(server.events(), 3);
    assert!(server.api_consumer_ids().iter().all(|id| id == "badge-kiosk"));
    let mut subjects: Vec<String> = server.email_subjects().into_iter().flatten().collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    let body = &server.issue_bodies()[0];
    assert!(body["log_entry"]["badge_kiosk"].as_str().is_some_and(|h| h.len() == 32));
    assert_eq!(body["event_name"], "Forum des métiers 2026");
    // Every confirmation follows the "sending" mark of the same awards.
    let mut sent = std::collections::BTreeSet::new();
    for event in &ledger.inner.events {
        match event {
            LedgerEvent::Sending { award_keys, .. } => sent.extend(award_keys.iter().cloned()),
            LedgerEvent::Confirmed { award_keys, .. } => {
                assert!(
                    award_keys.iter().all(|k| sent.contains(k)),
                    "confirmed before sending: {award_keys:?}"
                )
            }
            LedgerEvent::Failed { .. } => {}
        }
    }
    assert!(matches!(ledger.inner.state("a-twin"), Some(AwardState::Confirmed(event)) if event.starts_with("EVENT")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obf_takes_ten_thousand_recipients_per_call() {
    let server = server_for(Which::Obf, None).await;
    let mut client = obf_client(&server, ObfSettings::default(), transport(Duration::from_secs(20)));
    let mut pending = awards(10_001, &OBF_BADGES[..1], "big");
    for award in &mut pending {
        award.language = Language::Fr;
    }
    let mut ledger = MemoryLedger::new(pending);
    let started = Instant::now();
    let summary = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
    println!(
        "OBF 10,001 awards: {} calls, {} confirmed in {:.2?}",
        summary.calls,
        summary.confirmed,
        started.elapsed()
    );
    assert_eq!(summary.calls, 2);
    assert_eq!(summary.confirmed, 10_001);
    assert_eq!(server.total_issued(), 10_001);
    assert_eq!(server.events(), 2);
}

/// The answer to an issue call is lost after the platform recorded it: the retry finds it
/// (OBF: by `log_entry`; Badgr: per recipient) and issues nothing new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_found_again_and_nothing_is_issued_twice() {
    for which in [Which::Obf, Which::Badgr] {
        for fault in [Fault::LoseAnswer, Fault::Stall, Fault::RecordThen502] {
            let mut config = match which {
                Which::Obf => ServerConfig::obf(),
                Which::Badgr => ServerConfig::badgr(),
            };
            config.stall = Duration::from_millis(900);
            let server = server_for(which, Some(config)).await;
            server.script(Endpoint::Issue, [fault]);
            let mut client = client_for(which, &server, Duration::from_millis(300));
            let mut pending = awards(12, &badges_of(which)[..1], "lost");
            pending.iter_mut().for_each(|a| a.language = Language::Fr);
            let mut ledger = CheckingLedger::new(pending, &server);

            let summary = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();

            let label = format!("{which:?} {fault:?}");
            assert_eq!(summary.confirmed, 12, "{label}");
            assert_eq!(summary.found_after_lost_answer, 12, "{label}");
            assert_eq!(summary.unknown_outcomes, 1, "{label}");
            assert!(summary.lookups >= 1, "{label}");
            assert!(ledger.violations.is_empty(), "{label}: {:?}", ledger.violations);
            assert!(server.duplicates().is_empty(), "{label}: {:?}", server.duplicates());
            assert_eq!(server.total_issued(), 12, "{label}");
            // The recorded call was never sent again.
            assert_eq!(server.requests(Endpoint::Issue), 1, "{label}");
        }
    }
}

/// The hub stops right after sending (crash, power cut): the next run looks the call up by
/// the log entry recorded before it left, and confirms it without sending it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_after_sending_is_settled_by_the_next_run() {
    for which in [Which::Obf, Which::Badgr] {
        let server = server_for(which, None).await;
        server.script(Endpoint::Issue, [Fault::LoseAnswer]);
        let mut pending = awards(8, &badges_of(which)[..1], "cut");
        pending.iter_mut().for_each(|a| a.language = Language::Fr);
        let mut ledger = CheckingLedger::new(pending, &server);
        let give_up_at_once = IssueSettings {
            max_attempts: 1,
            ..fast()
        };
        let mut client = client_for(which, &server, Duration::from_secs(2));
        let error = issue_pending(&mut ledger, &mut client, &give_up_at_once)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, PlatformError::Transient(m) if m.contains("stay queued")),
            "{error}"
        );
        let in_doubt = ledger.inner.pending().await.unwrap();
        assert_eq!(in_doubt.len(), 8);
        assert!(in_doubt
            .iter()
            .all(|a| a.sending.as_deref().is_some_and(|l| l.starts_with("badge-kiosk:"))));
        assert_eq!(server.total_issued(), 8, "the platform recorded the call");

        // A new process: fresh client, same ledger.
        let mut client = client_for(which, &server, Duration::from_secs(2));
        let summary = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
        assert_eq!(summary.found_after_lost_answer, 8, "{which:?}");
        assert_eq!(summary.calls, 0, "{which:?}: nothing sent again");
        assert_eq!(server.requests(Endpoint::Issue), 1);
        assert!(server.duplicates().is_empty());
        assert_eq!(ledger.inner.confirmed(), 8);
    }
}

async fn ten_thousand_under_random_faults(which: Which, seed: u64) {
    let config = match which {
        Which::Obf => ServerConfig::obf(),
        Which::Badgr => ServerConfig::badgr(),
    }
    .flaky();
    let server = server_for(which, Some(config)).await;
    server.random_faults(seed, RandomFaults::venue_mix());
    let mut client = match which {
        Which::Obf => obf_client(
            &server,
            ObfSettings {
                max_recipients: 100,
                ..ObfSettings::default()
            },
            transport(Duration::from_millis(400)),
        ),
        Which::Badgr => badgr_client(&server, BadgrSettings::default(), transport(Duration::from_millis(400))),
    };
    let mut ledger = CheckingLedger::new(awards(10_000, badges_of(which), "rnd"), &server);
    let started = Instant::now();
    let (summaries, errors) = issue_until_done(&mut ledger, &mut client, &fast(), 20).await;
    let elapsed = started.elapsed();
    let stats = client.stats();
    println!(
        "{which:?} 10,000 awards under random faults (seed {seed}): {} passes ({} stopped early: {:?}), {} calls, {} unknown \
         outcomes, {} found after a lost answer, {} look-ups, {} retries, {} token fetches ({} after a refusal), \
         {} HTTP requests; server saw issue={} look-up={} token={} faults={:?}; {:.2?}",
        summaries.len(),
        errors.len(),
        errors
            .iter()
            .map(|e| match e {
                PlatformError::Blocked(_) => "token refused twice",
                _ => "no definite answer",
            })
            .collect::<Vec<_>>(),
        total(&summaries, |s| s.calls),
        total(&summaries, |s| s.unknown_outcomes),
        total(&summaries, |s| s.found_after_lost_answer),
        total(&summaries, |s| s.lookups),
        total(&summaries, |s| s.retries),
        stats.token_fetches,
        stats.renewals_after_refusal,
        stats.requests,
        server.requests(Endpoint::Issue),
        server.requests(Endpoint::LookUp),
        server.requests(Endpoint::Token),
        server.faults(),
        elapsed
    );
    assert_eq!(ledger.inner.confirmed(), 10_000, "{which:?}");
    assert!(
        ledger.inner.failed().is_empty(),
        "{which:?}: {:?}",
        ledger.inner.failed()
    );
    assert!(
        ledger.violations.is_empty(),
        "{which:?}: {:?}",
        &ledger.violations[..3.min(ledger.violations.len())]
    );
    assert_eq!(server.duplicates(), vec![], "{which:?}");
    assert_eq!(server.total_issued(), 10_000, "{which:?}");
    assert_eq!(server.distinct_recipients(), 10_000, "{which:?}");
    // The faults really happened, including answers lost after recording.
    let faults = server.faults();
    assert!(faults.get(&Fault::LoseAnswer).copied().unwrap_or(0) >= 1, "{faults:?}");
    assert!(
        faults.get(&Fault::RecordThen502).copied().unwrap_or(0) >= 1,
        "{faults:?}"
    );
    assert!(total(&summaries, |s| s.found_after_lost_answer) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obf_ten_thousand_awards_under_random_faults_have_no_duplicate() {
    for seed in [7, 8, 9] {
        ten_thousand_under_random_faults(Which::Obf, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badgr_ten_thousand_awards_under_random_faults_have_no_duplicate() {
    for seed in [7, 8] {
        ten_thousand_under_random_faults(Which::Badgr, seed).await;
    }
}

/// The platform drops a token early: 401 (OBF's real API: 403) → renewed once, request sent
/// again, nothing lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_renewed_once() {
    for (which, status) in [(Which::Obf, 401), (Which::Obf, 403), (Which::Badgr, 401)] {
        let mut config = match which {
            Which::Obf => ServerConfig::obf(),
            Which::Badgr => ServerConfig::badgr(),
        };
        config.refused_token_status = status;
        let server = server_for(which, Some(config)).await;
        let mut client = client_for(which, &server, Duration::from_secs(2));
        let mut ledger = MemoryLedger::new(awards(3, &badges_of(which)[..1], "first"));
        issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
        assert_eq!(server.requests(Endpoint::Token), 1);

        server.expire_all_tokens();
        let mut more = awards(3, &badges_of(which)[..1], "second");
        more.iter_mut().for_each(|a| a.language = Language::Fr);
        ledger.add(more);
        let summary = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();

        let label = format!("{which:?} {status}");
        assert_eq!(summary.confirmed, 3, "{label}");
        assert_eq!(server.answered(Endpoint::Issue, status), 1, "{label}");
        assert_eq!(server.requests(Endpoint::Token), 2, "{label}: renewed exactly once");
        assert_eq!(client.stats().renewals_after_refusal, 1, "{label}");
        assert!(server.duplicates().is_empty(), "{label}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_again_after_renewal_stops_the_pass() {
    for which in [Which::Obf, Which::Badgr] {
        let server = server_for(which, None).await;
        server.script(Endpoint::Issue, [Fault::ExpireToken, Fault::ExpireToken]);
        let mut client = client_for(which, &server, Duration::from_secs(2));
        let mut ledger = MemoryLedger::new(awards(2, &badges_of(which)[..1], "deny"));
        let error = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap_err();
        assert!(
            matches!(&error, PlatformError::Blocked(m) if m.contains("refused a token it had just issued")),
            "{which:?}: {error}"
        );
        assert_eq!(server.requests(Endpoint::Token), 2, "{which:?}: one renewal, no loop");
        assert_eq!(server.total_issued(), 0);
        assert_eq!(ledger.pending().await.unwrap().len(), 2, "awards stay queued");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_are_renewed_before_they_expire() {
    for which in [Which::Obf, Which::Badgr] {
        let mut config = match which {
            Which::Obf => ServerConfig::obf(),
            Which::Badgr => ServerConfig::badgr(),
        };
        config.token_lifetime = Duration::from_secs(1);
        let server = server_for(which, Some(config)).await;
        let mut client = client_for(which, &server, Duration::from_secs(2));
        let mut ledger = MemoryLedger::default();
        for round in 0..3 {
            ledger.add(awards(2, &badges_of(which)[..1], &format!("r{round}")));
            issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(850)).await;
        }
        assert_eq!(ledger.confirmed(), 6);
        let refused = server.answered(Endpoint::Issue, 401) + server.answered(Endpoint::Issue, 403);
        assert_eq!(refused, 0, "{which:?}: renewed before expiry, never refused");
        assert!(server.requests(Endpoint::Token) >= 3, "{which:?}");
        if which == Which::Badgr {
            // Renewals after the first use the refresh token, not the password again.
            assert_eq!(server.answered(Endpoint::Token, 200), server.requests(Endpoint::Token));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obf_token_renewal_keeps_to_the_one_token_per_interval_rule() {
    let mut config = ServerConfig::obf();
    config.min_token_interval = Duration::from_secs(1);
    let server = server_for(Which::Obf, Some(config)).await;
    let transport = TransportSettings {
        min_token_interval: Duration::from_secs(1),
        ..transport(Duration::from_secs(2))
    };
    let mut client = obf_client(&server, ObfSettings::default(), transport);
    let mut ledger = MemoryLedger::new(awards(2, &OBF_BADGES[..1], "pace"));
    issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
    server.expire_all_tokens();
    ledger.add(awards(2, &OBF_BADGES[..1], "pace2").into_iter().map(|a| PendingIssue {
        language: Language::Fr,
        ..a
    }));
    issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
    assert_eq!(
        server.answered(Endpoint::Token, 429),
        0,
        "the client waited for its turn"
    );
    let tokens: Vec<Instant> = server
        .log()
        .iter()
        .filter(|l| l.endpoint == Endpoint::Token)
        .map(|l| l.at)
        .collect();
    assert_eq!(tokens.len(), 2);
    assert!(
        tokens[1] - tokens[0] >= Duration::from_millis(990),
        "{:?}",
        tokens[1] - tokens[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    for which in [Which::Obf, Which::Badgr] {
        let server = server_for(which, None).await;
        server.script(Endpoint::Issue, [Fault::RateLimit(1)]);
        let mut client = client_for(which, &server, Duration::from_secs(2));
        let mut pending = awards(3, &badges_of(which)[..1], "slow");
        pending.iter_mut().for_each(|a| a.language = Language::Fr);
        let mut ledger = MemoryLedger::new(pending);
        let summary = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
        assert_eq!(summary.confirmed, 3);
        assert_eq!(summary.unknown_outcomes, 0, "a 429 is not an unknown outcome");
        assert_eq!(server.requests(Endpoint::LookUp), 0, "nothing to look up after a 429");
        let issues: Vec<(Instant, u16)> = server
            .log()
            .iter()
            .filter(|l| l.endpoint == Endpoint::Issue)
            .map(|l| (l.at, l.status))
            .collect();
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[0].1, 429);
        let waited = issues[1].0 - issues[0].0;
        assert!(
            waited >= Duration::from_millis(990),
            "{which:?}: waited only {waited:?}"
        );
        assert!(waited < Duration::from_millis(1_800), "{which:?}: waited {waited:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_retry_after_stops_the_pass_instead_of_holding_the_hub() {
    let server = server_for(Which::Obf, None).await;
    server.script(Endpoint::Issue, [Fault::RateLimit(3_600)]);
    let mut client = client_for(Which::Obf, &server, Duration::from_secs(2));
    let mut ledger = MemoryLedger::new(awards(1, &OBF_BADGES[..1], "wait"));
    let error = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap_err();
    assert!(
        matches!(&error, PlatformError::Transient(m) if m.contains("3600 s")),
        "{error}"
    );
    assert_eq!(ledger.pending().await.unwrap().len(), 1);
}

/// A recipient the platform refuses is kept as failed with the platform's reason; every
/// other award goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_fails_alone_with_the_platform_reason() {
    for which in [Which::Obf, Which::Badgr] {
        let server = server_for(which, None).await;
        let mut client = client_for(which, &server, Duration::from_secs(2));
        let mut pending = awards(200, &badges_of(which)[..1], "one");
        pending.iter_mut().for_each(|a| a.language = Language::Fr);
        pending[137].email = "nobody@bounce.invalid".into();
        let mut ledger = MemoryLedger::new(pending);
        let summary = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
        assert_eq!(summary.confirmed, 199, "{which:?}");
        assert_eq!(summary.failed, 1, "{which:?}");
        let failed = ledger.failed();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, "one-00137");
        let expected = match which {
            Which::Obf => "Invalid recipient email: nobody@bounce.invalid does not accept mail",
            Which::Badgr => "Enter a valid email address.",
        };
        assert_eq!(failed[0].1, expected, "{which:?}");
        assert_eq!(server.total_issued(), 199);
        println!(
            "{which:?}: one refused recipient among 200 cost {} issue requests",
            server.requests(Endpoint::Issue)
        );
    }
}

/// A refusal that hits every recipient is about the calls, not about one email: the pass
/// stops, and no award is marked failed for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_of_every_recipient_blocks_instead_of_failing_them() {
    for size in [3, 500] {
        let mut config = ServerConfig::obf();
        config.refused_domains.push("lycee.example.org".into());
        let server = server_for(Which::Obf, Some(config)).await;
        let mut client = client_for(Which::Obf, &server, Duration::from_secs(2));
        let mut pending = awards(size, &OBF_BADGES[..1], "all");
        pending.iter_mut().for_each(|a| a.language = Language::Fr);
        let mut ledger = MemoryLedger::new(pending);
        let error = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap_err();
        assert!(
            matches!(&error, PlatformError::Blocked(m) if m.contains("not")),
            "{error}"
        );
        assert!(ledger.failed().is_empty(), "{size}: nothing marked failed");
        assert_eq!(ledger.pending().await.unwrap().len(), size);
        assert!(
            server.requests(Endpoint::Issue) <= 66,
            "{size}: {}",
            server.requests(Endpoint::Issue)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_timeouts_are_retried_without_doubling() {
    for which in [Which::Obf, Which::Badgr] {
        let mut config = match which {
            Which::Obf => ServerConfig::obf(),
            Which::Badgr => ServerConfig::badgr(),
        };
        config.stall = Duration::from_millis(800);
        let server = server_for(which, Some(config)).await;
        server.script(Endpoint::Issue, [Fault::Error500, Fault::Error500]);
        server.script(Endpoint::LookUp, [Fault::Error500, Fault::RateLimit(0)]);
        server.script(Endpoint::Token, [Fault::Error500]);
        let mut client = client_for(which, &server, Duration::from_millis(300));
        let mut pending = awards(5, &badges_of(which)[..1], "err");
        pending.iter_mut().for_each(|a| a.language = Language::Fr);
        let mut ledger = CheckingLedger::new(pending, &server);
        let summary = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
        assert_eq!(summary.confirmed, 5, "{which:?}");
        assert!(ledger.violations.is_empty(), "{which:?}: {:?}", ledger.violations);
        assert!(server.duplicates().is_empty());
        assert_eq!(server.total_issued(), 5);
        // A 500 may hide a recorded call: each was looked up before the next send.
        assert_eq!(summary.unknown_outcomes, 2, "{which:?}");
        assert!(server.requests(Endpoint::LookUp) >= 2, "{which:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badgr_refusing_a_duplicate_counts_as_already_issued() {
    let server = server_for(Which::Badgr, None).await;
    let mut client = client_for(Which::Badgr, &server, Duration::from_secs(2));
    let first = awards(4, &BADGR_BADGES[..1], "dup");
    let mut ledger = MemoryLedger::new(first.clone());
    issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();

    // Another ledger (say, a kiosk syncing directly) holds awards for two of the same people.
    let mut again: Vec<PendingIssue> = first[..2]
        .iter()
        .map(|a| PendingIssue {
            award_key: format!("{}-again", a.award_key),
            ..a.clone()
        })
        .collect();
    again.extend(awards(2, &BADGR_BADGES[..1], "fresh"));
    let mut other = MemoryLedger::new(again);
    let summary = issue_pending(&mut other, &mut client, &fast()).await.unwrap();
    assert_eq!(summary.confirmed, 4);
    assert!(matches!(other.state("dup-00000-again"), Some(AwardState::Confirmed(r)) if r.contains("already")));
    assert!(server.duplicates().is_empty(), "{:?}", server.duplicates());
    assert_eq!(server.total_issued(), 6);
    // The batch was refused whole (allowDuplicateAwards: false), then the rest resent.
    assert_eq!(server.answered(Endpoint::Issue, 400), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badgr_notification_follows_the_event_setting() {
    for notify in [true, false] {
        let server = server_for(Which::Badgr, None).await;
        let settings = BadgrSettings {
            notify,
            ..BadgrSettings::default()
        };
        let mut client = badgr_client(&server, settings, transport(Duration::from_secs(2)));
        let mut ledger = MemoryLedger::new(awards(3, &BADGR_BADGES[..1], "n"));
        issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
        assert_eq!(server.notified(), if notify { 3 } else { 0 });
        let body = &server.issue_bodies()[0];
        assert_eq!(body["assertions"][0]["allowDuplicateAwards"], false);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obf_claim_report_reads_acceptance_back() {
    let server = server_for(Which::Obf, None).await;
    let mut client = obf_client(&server, ObfSettings::default(), transport(Duration::from_secs(2)));
    let pending = awards(10, &OBF_BADGES[..1], "claim");
    let mut ledger = MemoryLedger::new(pending.clone());
    issue_pending(&mut ledger, &mut client, &fast()).await.unwrap();
    for award in &pending[..4] {
        server.accept(&award.email);
    }
    server.revoke(&pending[9].email);
    let events: Vec<String> = pending
        .iter()
        .filter_map(|a| match ledger.state(&a.award_key) {
            Some(AwardState::Confirmed(event)) => Some(event.clone()),
            _ => None,
        })
        .collect();
    let PlatformClient::Obf(obf) = &mut client else {
        unreachable!("an OBF client")
    };
    let report = obf.claim_report(&events).await.unwrap();
    assert_eq!(report.issued, 9);
    assert_eq!(report.accepted, 4);
    assert_eq!(report.pending, 5);
    assert_eq!(report.revoked, 1);
    assert!((report.claim_rate() - 44.44).abs() < 0.01);
    obf.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_unknown_badges_say_what_to_fix() {
    let server = server_for(Which::Obf, None).await;
    let credentials = ObfCredentials {
        client_id: server.client_id().into(),
        client_secret: Secret::new("wrong"),
        base_url: server.url(),
    };
    let mut client = PlatformClient::Obf(ObfClient::new(
        &credentials,
        ObfSettings::default(),
        transport(Duration::from_secs(2)),
    ));
    let mut ledger = MemoryLedger::new(awards(1, &OBF_BADGES[..1], "cred"));
    let error = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap_err();
    assert!(
        matches!(&error, PlatformError::Blocked(m) if m.contains("Admin tools > API")),
        "{error}"
    );
    assert!(
        !error.to_string().contains("wrong"),
        "the secret stays out of messages: {error}"
    );

    let mut client = client_for(Which::Obf, &server, Duration::from_secs(2));
    let mut ledger = MemoryLedger::new(awards(1, &["NOSUCHBADGE"], "map"));
    let error = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap_err();
    assert!(
        matches!(&error, PlatformError::Blocked(m) if m.contains("platform.obf")),
        "{error}"
    );
    assert_eq!(ledger.pending().await.unwrap().len(), 1);

    let badgr = server_for(Which::Badgr, None).await;
    let credentials = BadgrCredentials {
        auth: BadgrAuth::Password {
            username: badgr.client_id().into(),
            password: Secret::new("not-the-password"),
        },
        base_url: badgr.url(),
    };
    let mut client = PlatformClient::Badgr(BadgrClient::new(
        &credentials,
        BadgrSettings::default(),
        transport(Duration::from_secs(2)),
    ));
    let mut ledger = MemoryLedger::new(awards(1, &BADGR_BADGES[..1], "cred"));
    let error = issue_pending(&mut ledger, &mut client, &fast()).await.unwrap_err();
    assert!(
        matches!(&error, PlatformError::Blocked(m) if m.contains("username and password")),
        "{error}"
    );
    assert!(!error.to_string().contains("not-the-password"));
}
