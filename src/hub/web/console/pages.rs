//! The console's handlers: each gathers its figures on a blocking thread (`with_store`),
//! builds a view of plain strings and numbers, and renders its template.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Multipart, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};

use super::chart::{stacked_by_hour, Chart};
use super::issue_run::{RunEnd, RunState, StartRefusal};
use super::texts::Texts;
use super::{auth, csrf_ok, language, render, render_with, safe_next, Chrome, Notice, Page, SessionContext};
use crate::domain::event::{EmailSender, Language};
use crate::hub::console_queries as queries;
use crate::hub::issue::{self, IssueState};
use crate::hub::state::{with_store, SharedHub};
use crate::hub::store::{HubError, HubStore};
use crate::platform::Platform;
use crate::sync::protocol::EmailDelivery;

/// Minutes without a sync after which a kiosk shows as quiet.
pub const QUIET_AFTER_MS: i64 = 30 * 60_000;

// ---------------------------------------------------------------- shared helpers

fn local_time(ms: i64, format: &str) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.with_timezone(&chrono::Local).format(format).to_string())
        .unwrap_or_default()
}

fn ago(t: &Texts, now_ms: i64, at_ms: i64) -> String {
    let minutes = (now_ms - at_ms).max(0) / 60_000;
    if minutes < 1 {
        t.just_now.to_owned()
    } else if minutes < 120 {
        t.fill(t.minutes_ago, &[("n", &minutes)])
    } else if minutes < 48 * 60 {
        t.fill(t.hours_ago, &[("n", &(minutes / 60))])
    } else {
        t.fill(t.days_ago, &[("n", &(minutes / 1440))])
    }
}

fn stand_name(store: &HubStore, language: Language, stand: &str) -> String {
    store
        .event
        .stand(stand)
        .map_or_else(|| stand.to_owned(), |found| found.name.get(language).to_owned())
}

fn badge_name(store: &HubStore, language: Language, badge: &str) -> String {
    store
        .event
        .badge(badge)
        .map_or_else(|| badge.to_owned(), |found| found.name.get(language).to_owned())
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        ((part as f64 * 1000.0 / whole as f64).round() / 10.0).min(100.0)
    }
}

/// The page shown when the database fails: what happened and what to do.
fn storage_failure(language: Language, failure: HubError) -> Response {
    let t = Texts::of(language);
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        t.fill(t.storage_error, &[("error", &failure)]),
    )
        .into_response()
}

fn expired_form(language: Language) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Texts::of(language).session_form_expired,
    )
        .into_response()
}

fn download(bytes: Vec<u8>, content_type: &'static str, file_name: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// A file name part made of the event id's safe characters.
fn file_stem(store: &HubStore) -> String {
    store
        .event
        .event
        .id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

// ---------------------------------------------------------------- login

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    t: &'static Texts,
    lang: &'static str,
    other_lang: &'static str,
    switch_href: String,
    event_name: String,
    heading: String,
    error: Option<String>,
    /// Some: no password is set, show this command instead of the form.
    command: Option<String>,
    next: String,
}

#[derive(Debug, serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

enum PasswordState {
    Set(String),
    Missing,
    Unreadable(String),
}

fn password_state(hub: &SharedHub) -> PasswordState {
    let Some(dir) = hub.console.settings.data_dir.as_ref() else {
        return PasswordState::Missing;
    };
    match auth::stored_hash(dir) {
        Ok(Some(hash)) => PasswordState::Set(hash),
        Ok(None) => PasswordState::Missing,
        Err(failure) => PasswordState::Unreadable(failure.to_string()),
    }
}

async fn login_view(hub: &SharedHub, language: Language, next: &str, error: Option<String>) -> LoginPage {
    let t = Texts::of(language);
    let event_name = with_store(hub, move |store, _| Ok(store.event.event.name.get(language).to_owned()))
        .await
        .unwrap_or_default();
    let state = {
        let hub = hub.clone();
        tokio::task::spawn_blocking(move || password_state(&hub))
            .await
            .unwrap_or(PasswordState::Missing)
    };
    let (heading, command, error) = match state {
        PasswordState::Set(_) => (t.log_in.to_owned(), None, error),
        PasswordState::Missing => (t.no_password_title.to_owned(), Some(hub.console.passwd_command()), None),
        PasswordState::Unreadable(reason) => (
            t.no_password_title.to_owned(),
            Some(hub.console.passwd_command()),
            Some(format!("{} ({reason})", t.password_unreadable)),
        ),
    };
    LoginPage {
        t,
        lang: language.code(),
        other_lang: language.other().code(),
        switch_href: format!(
            "/login?lang={}&next={}",
            language.other().code(),
            super::percent_encode(next)
        ),
        event_name,
        heading,
        error,
        command,
        next: next.to_owned(),
    }
}

pub async fn login_page(
    State(hub): State<SharedHub>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<NextQuery>,
) -> Response {
    let language = language(&headers, &uri);
    let next = safe_next(query.next.as_deref());
    let cookie = headers.get(header::COOKIE).and_then(|value| value.to_str().ok());
    if let Some(id) = auth::session_cookie(cookie) {
        if hub.console.sessions.find(&id, (hub.clock)()).is_some() {
            return Redirect::to(&next).into_response();
        }
    }
    render(&login_view(&hub, language, &next, None).await)
}

#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(hub): State<SharedHub>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<LoginForm>,
) -> Response {
    let language = language(&headers, &uri);
    let t = Texts::of(language);
    let next = safe_next(form.next.as_deref());
    let now = (hub.clock)();
    let address = peer.ip();
    // Without a password there is nothing to guess: the page says how to set one.
    let stored = {
        let hub = hub.clone();
        tokio::task::spawn_blocking(move || password_state(&hub)).await
    };
    let Ok(PasswordState::Set(hash)) = stored else {
        return render(&login_view(&hub, language, &next, None).await);
    };
    // Counted before the slow check: simultaneous guesses cannot all pass the limit.
    let refused = match hub.console.login_limiter.begin(address, now) {
        Ok(()) => {
            let password = form.password;
            hub.console
                .login_limiter
                .check(move || Some(auth::verify_password(&hash, &password)))
                .await
        }
        Err(refusal) => Err(refusal),
    };
    let checked = match refused {
        Ok(checked) => checked,
        Err(auth::LoginRefusal::TooMany { until_ms }) => {
            let minutes = ((until_ms - now).max(0) + 59_999) / 60_000;
            let page = login_view(
                &hub,
                language,
                &next,
                Some(t.fill(t.too_many_attempts, &[("minutes", &minutes)])),
            )
            .await;
            return render_with(StatusCode::TOO_MANY_REQUESTS, &page);
        }
        Err(auth::LoginRefusal::Busy) => {
            let page = login_view(&hub, language, &next, Some(t.login_busy.to_owned())).await;
            let mut response = render_with(StatusCode::SERVICE_UNAVAILABLE, &page);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
            return response;
        }
    };
    match checked {
        None => render(&login_view(&hub, language, &next, None).await),
        Some(false) => {
            tracing::warn!(%address, "organiser console: wrong password");
            let page = login_view(&hub, language, &next, Some(t.wrong_password.to_owned())).await;
            render_with(StatusCode::UNAUTHORIZED, &page)
        }
        Some(true) => {
            hub.console.login_limiter.succeeded(address);
            let (id, _) = hub.console.sessions.open(now);
            let cookie = auth::session_set_cookie(Some(&id), hub.console.settings.https);
            let mut response = Redirect::to(&next).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&session, &form.csrf) {
        return expired_form(language(&headers, &uri));
    }
    hub.console.sessions.close(&session.id);
    let mut response = Redirect::to("/login").into_response();
    if let Ok(value) = HeaderValue::from_str(&auth::session_set_cookie(None, hub.console.settings.https)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

// ---------------------------------------------------------------- overview

pub struct Stage {
    label: &'static str,
    count: u64,
    percent: f64,
    detail: String,
}

pub struct BadgeRow {
    series: usize,
    name: String,
    count: u64,
}

pub struct HourRow {
    hour: String,
    badge: String,
    count: u64,
}

pub struct SyncRow {
    kiosk: String,
    stand: String,
    ago: String,
    status_class: &'static str,
    records: u64,
}

pub struct OverviewView {
    updated: String,
    funnel: Vec<Stage>,
    by_badge: Vec<BadgeRow>,
    chart: Chart,
    hour_rows: Vec<HourRow>,
    syncs: Vec<SyncRow>,
}

fn overview_view(store: &HubStore, now: i64, language: Language) -> Result<OverviewView, HubError> {
    let t = Texts::of(language);
    let connection = store.connection();
    let funnel = queries::funnel(connection)?;
    let top = funnel.scanned.max(1);
    let stages = vec![
        Stage {
            label: t.visitors_scanned,
            count: funnel.scanned,
            percent: percent(funnel.scanned, top),
            detail: String::new(),
        },
        Stage {
            label: t.visitors_earned,
            count: funnel.earned,
            percent: percent(funnel.earned, top),
            detail: t.badges_in_all.replace("{count}", &funnel.badges.to_string()),
        },
        Stage {
            label: t.visitors_reached,
            count: funnel.reached,
            percent: percent(funnel.reached, top),
            detail: format!(
                "{} {} · {} {} · {} {} · {} {}",
                funnel.taken_on_phone,
                t.taken_on_phone,
                funnel.taken_into_wallet,
                t.taken_into_wallet,
                funnel.emailed,
                t.emailed,
                funnel.email_waiting,
                t.with_email
            ),
        },
        Stage {
            label: t.visitors_issued,
            count: funnel.issued,
            percent: percent(funnel.issued, top),
            detail: String::new(),
        },
    ];
    // One colour per badge of the event, in event.toml's order.
    let series_of: BTreeMap<String, usize> = store
        .event
        .badges
        .iter()
        .enumerate()
        .map(|(index, badge)| (badge.id.clone(), index % 6))
        .collect();
    let counts = store.counts()?;
    let by_badge = counts
        .awards_by_badge
        .iter()
        .map(|(badge, count)| BadgeRow {
            series: series_of.get(badge).copied().unwrap_or(5),
            name: badge_name(store, language, badge),
            count: *count,
        })
        .collect();
    let hours = queries::awards_by_hour(connection)?;
    let points: Vec<(i64, usize, u64)> = hours
        .iter()
        .map(|(hour, badge, count)| (*hour, series_of.get(badge).copied().unwrap_or(5), *count))
        .collect();
    let names: BTreeMap<usize, String> = store
        .event
        .badges
        .iter()
        .enumerate()
        .map(|(index, badge)| (index % 6, badge.name.get(language).to_owned()))
        .collect();
    let mut chart = stacked_by_hour(
        &points,
        queries::HOUR_MS,
        |hour| local_time(hour, "%Hh"),
        |hour, series, count| {
            format!(
                "{} {}: {count} · {}",
                local_time(hour, "%d/%m"),
                local_time(hour, "%Hh"),
                names.get(&series).map_or("", String::as_str)
            )
        },
    );
    if let Some((first, last, total, peak)) = chart.span {
        chart.summary = t.fill(
            t.chart_summary,
            &[
                ("first", &local_time(first, "%d/%m %Hh")),
                ("last", &local_time(last + queries::HOUR_MS, "%Hh")),
                ("total", &total),
                ("peak", &peak),
            ],
        );
    }
    let hour_rows = hours
        .iter()
        .map(|(hour, badge, count)| HourRow {
            hour: local_time(*hour, "%d/%m %H:00"),
            badge: badge_name(store, language, badge),
            count: *count,
        })
        .collect();
    let syncs = queries::last_syncs(connection)?
        .into_iter()
        .map(|sync| SyncRow {
            stand: sync
                .stand
                .as_deref()
                .map_or_else(String::new, |stand| stand_name(store, language, stand)),
            ago: ago(t, now, sync.last_seen_ms),
            status_class: if now - sync.last_seen_ms > QUIET_AFTER_MS {
                "quiet"
            } else {
                "ok"
            },
            records: sync.records,
            kiosk: sync.kiosk_id,
        })
        .collect();
    Ok(OverviewView {
        updated: local_time(now, "%H:%M:%S"),
        funnel: stages,
        by_badge,
        chart,
        hour_rows,
        syncs,
    })
}

#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    t: &'static Texts,
    c: Chrome,
    o: OverviewView,
}

#[derive(Template)]
#[template(path = "console/overview_live.html")]
struct OverviewLive {
    t: &'static Texts,
    o: OverviewView,
}

async fn event_name_and<T: Send + 'static>(
    hub: &SharedHub,
    language: Language,
    work: impl FnOnce(&mut HubStore, i64) -> Result<T, HubError> + Send + 'static,
) -> Result<(String, T), HubError> {
    with_store(hub, move |store, now| {
        let name = store.event.event.name.get(language).to_owned();
        Ok((name, work(store, now)?))
    })
    .await
}

pub async fn overview(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let language = language(&headers, &uri);
    match event_name_and(&hub, language, move |store, now| overview_view(store, now, language)).await {
        Ok((name, o)) => render(&OverviewPage {
            t: Texts::of(language),
            c: Chrome::new(language, Page::Overview, &name, &session),
            o,
        }),
        Err(failure) => storage_failure(language, failure),
    }
}

pub async fn overview_live(State(hub): State<SharedHub>, headers: HeaderMap, uri: Uri) -> Response {
    let language = language(&headers, &uri);
    match with_store(&hub, move |store, now| overview_view(store, now, language)).await {
        Ok(o) => render(&OverviewLive {
            t: Texts::of(language),
            o,
        }),
        Err(failure) => storage_failure(language, failure),
    }
}

// ---------------------------------------------------------------- kiosks

pub struct KioskRow {
    kiosk_id: String,
    fingerprint: String,
    stand: String,
    status: &'static str,
    status_class: &'static str,
    revoked_reason: String,
    last_seen: String,
    records: u64,
    queue: String,
    clock_offset: String,
    version: String,
    revocable: bool,
}

pub struct KiosksView {
    summary: String,
    rows: Vec<KioskRow>,
    /// One line per public hub this hub relays to, and its latest refusals.
    relay: Vec<(String, Vec<String>)>,
    /// The staff and organiser PINs: (role, status).
    pins: Vec<(String, String)>,
    /// The hub's clock outside the event's dates, or far from its kiosks'.
    clock_warnings: Vec<String>,
}

fn format_offset(ms: i64) -> String {
    // Under 50 ms the clock is on time: "0.0 s", never "-0.0 s".
    if ms.abs() < 50 {
        return "0.0 s".to_owned();
    }
    let seconds = ms as f64 / 1000.0;
    if seconds.abs() < 100.0 {
        format!("{seconds:+.1} s")
    } else {
        format!("{:+} min", ms / 60_000)
    }
}

fn kiosks_view(store: &HubStore, now: i64, language: Language) -> Result<KiosksView, HubError> {
    let t = Texts::of(language);
    let fleet = store.kiosk_fleet()?;
    // Until a kiosk reports its stand, the stand of its latest record.
    let latest_stand: BTreeMap<String, String> = queries::last_syncs(store.connection())?
        .into_iter()
        .filter_map(|sync| Some((sync.kiosk_id, sync.stand?)))
        .collect();
    let (mut ok, mut quiet, mut revoked) = (0, 0, 0);
    let rows: Vec<KioskRow> = fleet
        .into_iter()
        .map(|kiosk| {
            let (status, status_class) = if kiosk.revoked.is_some() {
                revoked += 1;
                (t.status_revoked, "revoked")
            } else if now - kiosk.last_seen_ms > QUIET_AFTER_MS {
                quiet += 1;
                (t.status_quiet, "quiet")
            } else {
                ok += 1;
                (t.status_ok, "ok")
            };
            KioskRow {
                stand: kiosk
                    .stand
                    .as_deref()
                    .or_else(|| latest_stand.get(&kiosk.kiosk_id).map(String::as_str))
                    .map_or_else(String::new, |stand| stand_name(store, language, stand)),
                fingerprint: kiosk.fingerprint,
                status,
                status_class,
                revoked_reason: kiosk
                    .revoked
                    .as_ref()
                    .map(|revocation| {
                        format!(
                            "{} · {}",
                            revocation.reason,
                            local_time(revocation.at_ms, "%d/%m %H:%M")
                        )
                    })
                    .unwrap_or_default(),
                last_seen: format!(
                    "{} ({})",
                    ago(t, now, kiosk.last_seen_ms),
                    local_time(kiosk.last_seen_ms, "%d/%m %H:%M")
                ),
                records: kiosk.records,
                queue: kiosk.queue_waiting.map_or_else(|| "—".to_owned(), |n| n.to_string()),
                clock_offset: kiosk.clock_offset_ms.map_or_else(|| "—".to_owned(), format_offset),
                version: kiosk.software_version.unwrap_or_else(|| "—".to_owned()),
                revocable: kiosk.revoked.is_none(),
                kiosk_id: kiosk.kiosk_id,
            }
        })
        .collect();
    Ok(KiosksView {
        summary: t.fill(
            t.fleet_summary,
            &[
                ("total", &rows.len()),
                ("ok", &ok),
                ("quiet", &quiet),
                ("revoked", &revoked),
            ],
        ),
        rows,
        pins: super::pins::pin_lines(store, language)?,
        clock_warnings: super::pins::clock_warnings(store, now, language)?,
        relay: store
            .relay_counts()?
            .into_iter()
            .map(|counts| {
                let line = t.fill(
                    t.relay_line,
                    &[
                        ("target", &counts.target),
                        ("relayed", &counts.relayed),
                        ("refused", &counts.refused),
                        ("waiting", &counts.waiting),
                    ],
                );
                let refusals = counts
                    .refusals
                    .iter()
                    .map(|(kiosk, sequence, reason)| {
                        t.fill(
                            t.relay_refused,
                            &[("kiosk", kiosk), ("sequence", sequence), ("reason", reason)],
                        )
                    })
                    .collect();
                (line, refusals)
            })
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "console/kiosks.html")]
struct KiosksPage {
    t: &'static Texts,
    c: Chrome,
    k: KiosksView,
}

async fn kiosks_page(hub: &SharedHub, language: Language, session: &SessionContext, notices: Vec<Notice>) -> Response {
    match event_name_and(hub, language, move |store, now| kiosks_view(store, now, language)).await {
        Ok((name, k)) => {
            let mut c = Chrome::new(language, Page::Kiosks, &name, session);
            c.notices = notices;
            c.notices.extend(k.clock_warnings.iter().cloned().map(Notice::warning));
            render(&KiosksPage {
                t: Texts::of(language),
                c,
                k,
            })
        }
        Err(failure) => storage_failure(language, failure),
    }
}

pub async fn kiosks(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    kiosks_page(&hub, language(&headers, &uri), &session, Vec::new()).await
}

#[derive(Debug, serde::Deserialize)]
pub struct RevokeKioskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kiosk_id: String,
    #[serde(default)]
    reason: String,
}

pub async fn revoke_kiosk(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<RevokeKioskForm>,
) -> Response {
    let language = language(&headers, &uri);
    let t = Texts::of(language);
    if !csrf_ok(&session, &form.csrf) {
        return expired_form(language);
    }
    let reason = form.reason.trim().chars().take(200).collect::<String>();
    if reason.is_empty() {
        return kiosks_page(
            &hub,
            language,
            &session,
            vec![Notice::error(t.reason_needed.to_owned())],
        )
        .await;
    }
    let kiosk = form.kiosk_id.clone();
    let revoked = with_store(&hub, move |store, now| store.revoke_kiosk(&kiosk, &reason, now)).await;
    let notice = match revoked {
        Ok(true) => {
            tracing::warn!(kiosk = %form.kiosk_id, "kiosk revoked from the organiser console");
            Notice::success(t.fill(t.kiosk_revoked, &[("kiosk", &form.kiosk_id)]))
        }
        Ok(false) => Notice::error(t.fill(t.kiosk_unknown, &[("kiosk", &form.kiosk_id)])),
        Err(failure) => return storage_failure(language, failure),
    };
    kiosks_page(&hub, language, &session, vec![notice]).await
}

#[derive(Debug, serde::Deserialize)]
pub struct PinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    pin: String,
}

/// `POST /console/kiosks/pins`: sets a PIN (Argon2, on a blocking thread).
pub async fn set_pin(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<PinForm>,
) -> Response {
    let language = language(&headers, &uri);
    let t = Texts::of(language);
    if !csrf_ok(&session, &form.csrf) {
        return expired_form(language);
    }
    use crate::hub::store::PinRole;
    let (role, label) = match form.role.as_str() {
        "organiser" => (PinRole::Organiser, t.pin_organiser),
        _ => (PinRole::Staff, t.pin_staff),
    };
    let pin = form.pin.trim().to_owned();
    let demo = pin == crate::domain::pin::DEMO_STAFF_PIN || pin == crate::domain::pin::DEMO_ORGANISER_PIN;
    let hashed = if demo {
        None
    } else {
        tokio::task::spawn_blocking(move || crate::domain::pin::hash_pin(&pin).ok())
            .await
            .ok()
            .flatten()
    };
    let Some(hash) = hashed else {
        let notices = vec![Notice::error(t.pin_invalid.to_owned())];
        return kiosks_page(&hub, language, &session, notices).await;
    };
    match with_store(&hub, move |store, now| store.set_pin(role, Some(&hash), now)).await {
        Ok(()) => {
            tracing::info!(role = role.name(), "kiosk PIN set from the organiser console");
            let notices = vec![Notice::success(t.fill(t.pin_saved, &[("role", &label)]))];
            kiosks_page(&hub, language, &session, notices).await
        }
        Err(failure) => storage_failure(language, failure),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    csrf: String,
    kiosks: Option<String>,
    minutes: Option<String>,
}

pub struct EnrolView {
    headline: String,
    svg: String,
    url: String,
}

#[derive(Template)]
#[template(path = "console/enrol.html")]
struct EnrolPage {
    t: &'static Texts,
    c: Chrome,
    e: EnrolView,
}

/// Validities the Kiosks page offers, in minutes.
const ENROL_MINUTES: [i64; 4] = [15, 60, 240, 1440];

pub async fn enrol(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<EnrolForm>,
) -> Response {
    let language = language(&headers, &uri);
    let t = Texts::of(language);
    if !csrf_ok(&session, &form.csrf) {
        return expired_form(language);
    }
    let kiosks = form
        .kiosks
        .as_deref()
        .and_then(|n| n.trim().parse::<u32>().ok())
        .filter(|n| (1..=200).contains(n));
    let minutes = form
        .minutes
        .as_deref()
        .and_then(|n| n.trim().parse::<i64>().ok())
        .filter(|n| ENROL_MINUTES.contains(n));
    let (Some(kiosks), Some(minutes)) = (kiosks, minutes) else {
        return kiosks_page(
            &hub,
            language,
            &session,
            vec![Notice::error(t.enrol_bad_request.to_owned())],
        )
        .await;
    };
    // `new_enrolment_code` takes the store's lock itself: called outside `with_store`.
    let state = hub.clone();
    let made = tokio::task::spawn_blocking(move || {
        let now = (state.clock)();
        let url = state.new_enrolment_code(kiosks, minutes * 60_000, now)?;
        let name = state
            .store
            .lock()
            .map(|store| store.event.event.name.get(language).to_owned())
            .unwrap_or_default();
        Ok::<_, HubError>((name, (url, now + minutes * 60_000)))
    })
    .await
    .unwrap_or_else(|failure| Err(HubError::Internal(failure.to_string())));
    let (name, (url, until)) = match made {
        Ok(made) => made,
        Err(HubError::BadRequest(reason)) => {
            return kiosks_page(&hub, language, &session, vec![Notice::error(reason)]).await;
        }
        Err(failure) => return storage_failure(language, failure),
    };
    let svg = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map(|qr| {
            qr.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(360, 360)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    let mut c = Chrome::new(language, Page::Kiosks, &name, &session);
    c.title = t.enrolment_code.to_owned();
    render(&EnrolPage {
        t,
        c,
        e: EnrolView {
            headline: t.fill(
                t.enrol_headline,
                &[("kiosks", &kiosks), ("until", &local_time(until, "%d/%m %H:%M"))],
            ),
            // The qrcode crate's SVG: rectangles only, no text from outside.
            svg,
            url,
        },
    })
}

#[derive(Template)]
#[template(path = "console/enrol_info.html")]
struct EnrolInfoPage {
    t: &'static Texts,
    lang: &'static str,
}

/// A phone that scanned an enrolment code by mistake lands here (no login needed).
pub async fn enrol_info(headers: HeaderMap, uri: Uri) -> Response {
    let language = language(&headers, &uri);
    render(&EnrolInfoPage {
        t: Texts::of(language),
        lang: language.code(),
    })
}

// ---------------------------------------------------------------- pathways and stands

pub struct StepRow {
    label: String,
    count: u64,
    percent: f64,
}

pub struct PathwayView {
    name: String,
    rule: String,
    started: u64,
    completed: u64,
    steps: Vec<StepRow>,
}

pub struct StandRow {
    name: String,
    visitors: u64,
    records: u64,
    percent: f64,
}

pub struct PathwaysView {
    pathways: Vec<PathwayView>,
    stands: Vec<StandRow>,
}

fn pathways_view(store: &HubStore, language: Language) -> Result<PathwaysView, HubError> {
    let t = Texts::of(language);
    let reaches = queries::pathway_reach(store.connection(), &store.event)?;
    let pathways = reaches
        .into_iter()
        .map(|reach| {
            let rule = store
                .event
                .badge(&reach.badge_id)
                .and_then(|badge| badge.pathway.clone());
            let mut rule_text = rule.as_ref().map_or_else(String::new, |rule| {
                t.fill(
                    t.pathway_rule,
                    &[("needed", &rule.needed), ("stands", &rule.stands.len())],
                )
            });
            if let Some(rule) = rule.as_ref().filter(|rule| !rule.required.is_empty()) {
                let names: Vec<String> = rule
                    .required
                    .iter()
                    .map(|stand| stand_name(store, language, stand))
                    .collect();
                rule_text.push(' ');
                rule_text.push_str(&t.fill(t.pathway_required, &[("stands", &names.join(", "))]));
            }
            let top = reach.reached.iter().copied().max().unwrap_or(0).max(1);
            PathwayView {
                name: badge_name(store, language, &reach.badge_id),
                rule: rule_text,
                started: reach.started,
                completed: reach.completed,
                steps: reach
                    .reached
                    .iter()
                    .enumerate()
                    .map(|(index, count)| StepRow {
                        label: t.fill(t.stand_count, &[("n", &(index + 1))]),
                        count: *count,
                        percent: percent(*count, top),
                    })
                    .collect(),
            }
        })
        .collect();
    let traffic = queries::stand_traffic(store.connection())?;
    let top = traffic.iter().map(|stand| stand.visitors).max().unwrap_or(0).max(1);
    let stands = traffic
        .into_iter()
        .map(|stand| StandRow {
            name: stand_name(store, language, &stand.stand),
            visitors: stand.visitors,
            records: stand.records,
            percent: percent(stand.visitors, top),
        })
        .collect();
    Ok(PathwaysView { pathways, stands })
}

#[derive(Template)]
#[template(path = "console/pathways.html")]
struct PathwaysPage {
    t: &'static Texts,
    c: Chrome,
    p: PathwaysView,
}

pub async fn pathways(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let language = language(&headers, &uri);
    match event_name_and(&hub, language, move |store, _| pathways_view(store, language)).await {
        Ok((name, p)) => render(&PathwaysPage {
            t: Texts::of(language),
            c: Chrome::new(language, Page::Pathways, &name, &session),
            p,
        }),
        Err(failure) => storage_failure(language, failure),
    }
}

// ---------------------------------------------------------------- badge platform

#[derive(Default)]
pub struct PlatformBadgeRow {
    name: String,
    issued: usize,
    queued: usize,
    sending: usize,
    refused: usize,
    needs_email: usize,
}

pub struct RefusedRow {
    badge: String,
    recipient: String,
    reason: String,
}

pub struct PlatformView {
    platform_line: String,
    configured: bool,
    badges: Vec<PlatformBadgeRow>,
    needs_email_total: usize,
    refused: Vec<RefusedRow>,
}

pub struct IssueRunView {
    state: &'static str,
    state_class: &'static str,
    started: String,
    total: usize,
    done: usize,
    figures: String,
    outcome: String,
}

fn console_platform(hub: &SharedHub) -> (Platform, bool) {
    match &hub.console.settings.issuer {
        Some(issuer) => (issuer.platform, hub.console.settings.database.is_some()),
        None => (Platform::Obf, false),
    }
}

fn platform_view(
    store: &HubStore,
    language: Language,
    platform: Platform,
    configured: bool,
) -> Result<PlatformView, HubError> {
    let t = Texts::of(language);
    let issues = issue::award_issues(store.connection(), platform)?;
    let mut rows: BTreeMap<usize, PlatformBadgeRow> = store
        .event
        .badges
        .iter()
        .enumerate()
        .map(|(index, badge)| {
            (
                index,
                PlatformBadgeRow {
                    name: badge.name.get(language).to_owned(),
                    ..PlatformBadgeRow::default()
                },
            )
        })
        .collect();
    let index_of: BTreeMap<&str, usize> = store
        .event
        .badges
        .iter()
        .enumerate()
        .map(|(index, badge)| (badge.id.as_str(), index))
        .collect();
    let mut refused = Vec::new();
    let mut needs_email_total = 0;
    for issue in &issues {
        let Some(row) = index_of
            .get(issue.badge_id.as_str())
            .and_then(|index| rows.get_mut(index))
        else {
            continue;
        };
        match &issue.state {
            IssueState::Confirmed(_) => row.issued += 1,
            IssueState::Queued => row.queued += 1,
            IssueState::Sending(_) => row.sending += 1,
            IssueState::NeedsEmail => {
                row.needs_email += 1;
                needs_email_total += 1;
            }
            IssueState::Failed(reason) => {
                row.refused += 1;
                refused.push(RefusedRow {
                    badge: row.name.clone(),
                    recipient: issue
                        .email
                        .as_deref()
                        .map_or_else(|| issue.recipient.clone(), crate::hub::outbox::mask_address),
                    reason: reason.clone(),
                });
            }
        }
    }
    let platform_name = if configured {
        platform.label().to_owned()
    } else {
        t.platform_not_set.to_owned()
    };
    Ok(PlatformView {
        platform_line: t.fill(t.platform_line, &[("platform", &platform_name)]),
        configured,
        badges: rows.into_values().collect(),
        needs_email_total,
        refused,
    })
}

fn issue_run_view(run: &RunState, language: Language) -> IssueRunView {
    let t = Texts::of(language);
    let (state, state_class, outcome) = match &run.end {
        None => (t.issue_running, "running", String::new()),
        Some(RunEnd::Done(issued, refused, queued, needs)) => (
            t.issue_finished,
            "done",
            t.fill(
                t.issue_outcome,
                &[
                    ("issued", issued),
                    ("refused", refused),
                    ("queued", queued),
                    ("needs", needs),
                ],
            ),
        ),
        Some(RunEnd::Stopped(reason, issued, refused, queued, needs)) => (
            t.issue_stopped,
            "stopped",
            format!(
                "{reason} — {}",
                t.fill(
                    t.issue_outcome,
                    &[
                        ("issued", issued),
                        ("refused", refused),
                        ("queued", queued),
                        ("needs", needs)
                    ],
                )
            ),
        ),
        Some(RunEnd::Failed(reason)) => (t.issue_failed, "failed", reason.clone()),
    };
    let done = run.confirmed + run.failed;
    IssueRunView {
        state,
        state_class,
        started: format!("{} · {}", run.platform.label(), local_time(run.started_ms, "%H:%M:%S")),
        total: run.total.max(done),
        done,
        figures: t.fill(
            t.issue_figures,
            &[
                ("done", &done),
                ("total", &run.total.max(done)),
                ("confirmed", &run.confirmed),
                ("failed", &run.failed),
            ],
        ),
        outcome,
    }
}

#[derive(Template)]
#[template(path = "console/platform.html")]
struct PlatformPage {
    t: &'static Texts,
    c: Chrome,
    pl: PlatformView,
    i: Option<IssueRunView>,
}

#[derive(Template)]
#[template(path = "console/issue_live.html")]
struct IssueLive {
    t: &'static Texts,
    i: Option<IssueRunView>,
}

async fn platform_page(
    hub: &SharedHub,
    language: Language,
    session: &SessionContext,
    notices: Vec<Notice>,
) -> Response {
    let (platform, configured) = console_platform(hub);
    match event_name_and(hub, language, move |store, _| {
        platform_view(store, language, platform, configured)
    })
    .await
    {
        Ok((name, pl)) => {
            let mut c = Chrome::new(language, Page::Platform, &name, session);
            c.notices = notices;
            render(&PlatformPage {
                t: Texts::of(language),
                c,
                pl,
                i: hub
                    .console
                    .issue_runs
                    .latest()
                    .map(|run| issue_run_view(&run, language)),
            })
        }
        Err(failure) => storage_failure(language, failure),
    }
}

pub async fn platform(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    platform_page(&hub, language(&headers, &uri), &session, Vec::new()).await
}

pub async fn start_issue(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<CsrfForm>,
) -> Response {
    let language = language(&headers, &uri);
    let t = Texts::of(language);
    if !csrf_ok(&session, &form.csrf) {
        return expired_form(language);
    }
    let settings = &hub.console.settings;
    let event = hub.store.lock().ok().map(|store| store.event.clone());
    let notice =
        match hub
            .console
            .issue_runs
            .start(settings.issuer.clone(), settings.database.clone(), (hub.clock)(), event)
        {
            Ok(()) => {
                tracing::info!("issue started from the organiser console");
                Notice::success(t.issue_started.to_owned())
            }
            Err(StartRefusal::AlreadyRunning) => Notice::warning(t.issue_already_running.to_owned()),
            Err(StartRefusal::NotConfigured) => Notice::error(t.issue_not_configured.to_owned()),
        };
    platform_page(&hub, language, &session, vec![notice]).await
}

pub async fn issue_live(State(hub): State<SharedHub>, headers: HeaderMap, uri: Uri) -> Response {
    let language = language(&headers, &uri);
    render(&IssueLive {
        t: Texts::of(language),
        i: hub
            .console
            .issue_runs
            .latest()
            .map(|run| issue_run_view(&run, language)),
    })
}

pub async fn needs_email_csv(State(hub): State<SharedHub>, headers: HeaderMap, uri: Uri) -> Response {
    let language = language(&headers, &uri);
    let (platform, _) = console_platform(&hub);
    let made = with_store(&hub, move |store, _| {
        let issues = issue::award_issues(store.connection(), platform)?;
        let mut writer = csv::Writer::from_writer(Vec::new());
        let failed = |failure: csv::Error| HubError::Internal(format!("writing the CSV: {failure}"));
        writer
            .write_record([
                "award",
                "badge_id",
                "badge_name",
                "recipient",
                "registration",
                "created_at",
            ])
            .map_err(failed)?;
        for issue in issues.iter().filter(|issue| issue.state == IssueState::NeedsEmail) {
            let registration = issue.recipient.strip_prefix("registration:").unwrap_or("");
            let created = chrono::DateTime::from_timestamp_millis(issue.created_at_ms)
                .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            let name = badge_name(store, language, &issue.badge_id);
            let recipient = queries::shown_recipient(&issue.recipient);
            let fields = [
                issue.award_key.as_str(),
                issue.badge_id.as_str(),
                name.as_str(),
                recipient.as_str(),
                registration,
                created.as_str(),
            ];
            writer
                .write_record(fields.iter().map(|field| queries::spreadsheet_safe(field).into_owned()))
                .map_err(failed)?;
        }
        let bytes = writer
            .into_inner()
            .map_err(|failure| HubError::Internal(format!("writing the CSV: {failure}")))?;
        Ok((bytes, file_stem(store)))
    })
    .await;
    match made {
        Ok((bytes, stem)) => download(bytes, "text/csv; charset=utf-8", format!("{stem}-needs-an-email.csv")),
        Err(failure) => storage_failure(language, failure),
    }
}

// ---------------------------------------------------------------- registrations, revocations, emails

pub struct ImportResult {
    summary: String,
    refused: Vec<(usize, String)>,
}

pub struct RegistrationsView {
    import: Option<ImportResult>,
    registrations_line: String,
    revoked: Vec<(String, String, String)>,
    queued: u64,
    sent: u64,
    failed: u64,
    /// Who emails the visitors their badges (event.toml's choice and whether it can).
    delivery: String,
    warnings: Vec<String>,
    failures: Vec<(String, String, String)>,
}

fn registrations_view(
    store: &HubStore,
    language: Language,
    mail_enabled: bool,
    delivery: EmailDelivery,
) -> Result<RegistrationsView, HubError> {
    let t = Texts::of(language);
    let known: i64 = store.connection().query_row(
        "SELECT COUNT(*) FROM registrations WHERE email IS NOT NULL",
        [],
        |row| row.get(0),
    )?;
    let revoked = queries::revoked_codes(store.connection())?
        .into_iter()
        .map(|(code, reason, at)| {
            let shown = <[u8; 10]>::try_from(code.as_slice())
                .map(|bytes| crate::domain::code::CodeId(bytes).short())
                .unwrap_or_else(|_| hex::encode(&code));
            (shown, reason, local_time(at, "%d/%m %H:%M"))
        })
        .collect();
    let outbox = store.outbox_counts()?;
    let mut warnings = Vec::new();
    let delivery = match (store.event.delivery.email, delivery) {
        (EmailSender::Hub, EmailDelivery::Hub) => t.delivery_by_hub,
        (EmailSender::Hub, _) => t.delivery_by_hub_no_smtp,
        (EmailSender::Platform, EmailDelivery::Platform) => t.delivery_by_platform,
        (EmailSender::Platform, _) => t.delivery_by_platform_missing,
    }
    .to_owned();
    if outbox.queued > 0 && !mail_enabled {
        warnings.push(t.fill(t.emails_waiting_no_smtp, &[("n", &outbox.queued)]));
    }
    if let (true, Some(error)) = (outbox.queued > 0 && mail_enabled, &outbox.last_transient_error) {
        warnings.push(t.fill(t.last_mail_error, &[("error", error)]));
    }
    Ok(RegistrationsView {
        import: None,
        registrations_line: t.fill(t.registrations_line, &[("n", &known)]),
        revoked,
        queued: outbox.queued,
        sent: outbox.sent,
        failed: outbox.failed,
        delivery,
        warnings,
        failures: outbox
            .failures
            .into_iter()
            .map(|(hint, reason, at)| (hint, reason, local_time(at, "%d/%m %H:%M")))
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "console/registrations.html")]
struct RegistrationsPage {
    t: &'static Texts,
    c: Chrome,
    r: RegistrationsView,
}

async fn registrations_page(
    hub: &SharedHub,
    language: Language,
    session: &SessionContext,
    notices: Vec<Notice>,
    import: Option<ImportResult>,
) -> Response {
    let mail_enabled = hub.mail.enabled.load(std::sync::atomic::Ordering::SeqCst);
    let state = std::sync::Arc::clone(hub);
    match event_name_and(hub, language, move |store, _| {
        registrations_view(store, language, mail_enabled, state.email_delivery(&store.event))
    })
    .await
    {
        Ok((name, mut r)) => {
            r.import = import;
            let mut c = Chrome::new(language, Page::Registrations, &name, session);
            c.notices = notices;
            render(&RegistrationsPage {
                t: Texts::of(language),
                c,
                r,
            })
        }
        Err(failure) => storage_failure(language, failure),
    }
}

pub async fn registrations(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    registrations_page(&hub, language(&headers, &uri), &session, Vec::new(), None).await
}

pub async fn import_registrations(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
    mut multipart: Multipart,
) -> Response {
    let language = language(&headers, &uri);
    let t = Texts::of(language);
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                let file_name = field.file_name().unwrap_or("registrations.csv").to_owned();
                let Ok(bytes) = field.bytes().await else {
                    return registrations_page(
                        &hub,
                        language,
                        &session,
                        vec![Notice::error(t.import_no_file.to_owned())],
                        None,
                    )
                    .await;
                };
                match name.as_str() {
                    "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
                    "file" => file = Some((file_name, bytes.to_vec())),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => {
                return registrations_page(
                    &hub,
                    language,
                    &session,
                    vec![Notice::error(t.import_no_file.to_owned())],
                    None,
                )
                .await
            }
        }
    }
    if !csrf_ok(&session, &csrf) {
        return expired_form(language);
    }
    let Some((file_name, bytes)) = file.filter(|(_, bytes)| !bytes.is_empty()) else {
        return registrations_page(
            &hub,
            language,
            &session,
            vec![Notice::error(t.import_no_file.to_owned())],
            None,
        )
        .await;
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            let reason = t.fill(t.import_unreadable, &[("reason", &"UTF-8")]);
            return registrations_page(&hub, language, &session, vec![Notice::error(reason)], None).await;
        }
    };
    let parsed = match crate::domain::registrations::parse_registrations(&text) {
        Ok(parsed) => parsed,
        Err(failure) => {
            use crate::domain::registrations::RegistrationsError;
            let reason = match &failure {
                RegistrationsError::Empty => t.import_empty.to_owned(),
                RegistrationsError::MissingColumn { missing, found } => {
                    t.fill(t.import_missing_column, &[("missing", missing), ("found", found)])
                }
                RegistrationsError::Unreadable(reason) => t.fill(t.import_unreadable, &[("reason", reason)]),
            };
            return registrations_page(&hub, language, &session, vec![Notice::error(reason)], None).await;
        }
    };
    let registrations = parsed.registrations.clone();
    let imported = with_store(&hub, move |store, now| {
        issue::import_registrations(store, &registrations, now).map_err(|failure| match failure {
            issue::HubIssueError::Hub(failure) => failure,
            other => HubError::Internal(other.to_string()),
        })
    })
    .await;
    let outcome = match imported {
        Ok(outcome) => outcome,
        Err(failure) => return storage_failure(language, failure),
    };
    let mut notices = Vec::new();
    if outcome.requeued > 0 {
        notices.push(Notice::success(t.fill(t.import_requeued, &[("n", &outcome.requeued)])));
    }
    let result = ImportResult {
        summary: t.fill(
            t.import_summary,
            &[
                ("file", &file_name),
                ("added", &outcome.added),
                ("updated", &outcome.updated),
                ("unchanged", &outcome.unchanged),
                ("skipped", &parsed.errors.len()),
            ],
        ),
        refused: parsed
            .errors
            .iter()
            .map(|error| (error.line, line_problem(t, &error.problem)))
            .collect(),
    };
    registrations_page(&hub, language, &session, notices, Some(result)).await
}

/// A refused line of a registrations file, in the console's language.
fn line_problem(t: &Texts, problem: &crate::domain::registrations::LineProblem) -> String {
    use crate::domain::registrations::LineProblem;
    match problem {
        LineProblem::Unreadable(reason) => t.fill(t.line_unreadable, &[("reason", reason)]),
        LineProblem::NoReference => t.line_no_reference.to_owned(),
        LineProblem::NoEmail { reference } => t.fill(t.line_no_email, &[("reference", reference)]),
        LineProblem::NotAnEmail { email, reference } => {
            t.fill(t.line_not_an_email, &[("email", email), ("reference", reference)])
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct RevokeCodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    reason: String,
}

pub async fn revoke_code(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<RevokeCodeForm>,
) -> Response {
    let language = language(&headers, &uri);
    let t = Texts::of(language);
    if !csrf_ok(&session, &form.csrf) {
        return expired_form(language);
    }
    let reason = match form.reason.trim() {
        "" => t.lost_ticket.to_owned(),
        reason => reason.chars().take(200).collect(),
    };
    let typed = form.code.clone();
    let result = with_store(&hub, move |store, now| {
        Ok(match queries::resolve_code(store.connection(), &typed)? {
            queries::CodeLookup::Found(id) => {
                let fresh = store.revoke_code(&id, &reason, now)?;
                let shown = <[u8; 10]>::try_from(id.as_slice())
                    .map(|bytes| crate::domain::code::CodeId(bytes).short())
                    .unwrap_or_else(|_| hex::encode(&id));
                if fresh {
                    Notice::success(t.fill(t.code_revoked, &[("code", &shown)]))
                } else {
                    Notice::warning(t.fill(t.code_already_revoked, &[("code", &shown)]))
                }
            }
            queries::CodeLookup::UnknownShortId => Notice::error(t.code_unknown_short_id.to_owned()),
            queries::CodeLookup::Ambiguous(n) => Notice::error(t.fill(t.code_ambiguous, &[("n", &n)])),
            queries::CodeLookup::Unreadable(reason) => Notice::error(t.fill(t.code_unreadable, &[("reason", &reason)])),
        })
    })
    .await;
    match result {
        Ok(notice) => registrations_page(&hub, language, &session, vec![notice], None).await,
        Err(failure) => storage_failure(language, failure),
    }
}

// ---------------------------------------------------------------- export

pub struct ExportView {
    summary: String,
}

#[derive(Template)]
#[template(path = "console/export.html")]
struct ExportPage {
    t: &'static Texts,
    c: Chrome,
    x: ExportView,
}

pub async fn export(
    State(hub): State<SharedHub>,
    Extension(session): Extension<SessionContext>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let language = language(&headers, &uri);
    let t = Texts::of(language);
    match event_name_and(&hub, language, |store, _| store.award_count()).await {
        Ok((name, count)) => render(&ExportPage {
            t,
            c: Chrome::new(language, Page::Export, &name, &session),
            x: ExportView {
                summary: t.fill(t.export_summary, &[("n", &count)]),
            },
        }),
        Err(failure) => storage_failure(language, failure),
    }
}

async fn export_file(hub: &SharedHub, language: Language, json_lines: bool) -> Response {
    let made = with_store(hub, move |store, _| {
        let rows = queries::export_rows(store.connection(), &store.event, language)?;
        let bytes = if json_lines {
            queries::export_json_lines(&rows)?
        } else {
            queries::export_csv(&rows)?
        };
        Ok((bytes, file_stem(store)))
    })
    .await;
    match made {
        Ok((bytes, stem)) if json_lines => download(bytes, "application/x-ndjson", format!("{stem}-awards.jsonl")),
        Ok((bytes, stem)) => download(bytes, "text/csv; charset=utf-8", format!("{stem}-awards.csv")),
        Err(failure) => storage_failure(language, failure),
    }
}

pub async fn export_csv(State(hub): State<SharedHub>, headers: HeaderMap, uri: Uri) -> Response {
    export_file(&hub, language(&headers, &uri), false).await
}

pub async fn export_jsonl(State(hub): State<SharedHub>, headers: HeaderMap, uri: Uri) -> Response {
    export_file(&hub, language(&headers, &uri), true).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn clock_offsets_read_as_people_say_them() {
        assert_eq!(super::format_offset(-20), "0.0 s");
        assert_eq!(super::format_offset(1_250), "+1.2 s");
        assert_eq!(super::format_offset(-3_000), "-3.0 s");
        assert_eq!(super::format_offset(-600_000), "-10 min");
    }
}
