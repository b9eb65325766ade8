//! The organiser console: the hub's pages for the organiser (overview, kiosks, pathways and
//! stands, badge platform, registrations and emails, export), behind the organiser login.
//!
//! - Every page and action needs a session (`auth`), opened by `POST /login` with the
//!   password set by `badge-kiosk hub passwd`; with no password set, the console shows the
//!   command to set one and nothing else.
//! - Requests whose Host is not one of the hub's names or an IP literal are refused (DNS
//!   rebinding); every POST form carries the session's token; cookies are `SameSite=Strict`.
//! - Pages are askama templates in `templates/console/`, one language at a time (`texts`),
//!   one stylesheet and one small script served from here: nothing from outside.
//! - Queries live in `hub::console_queries`; the pages work without JavaScript (the script
//!   only refreshes the live parts while a page is open).

pub mod auth;
pub mod chart;
pub mod issue_run;
mod pages;
mod pins;
pub mod shared;
pub mod texts;

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub use issue_run::IssuerSetup;
pub use shared::{Console, ConsoleSettings};
use texts::Texts;

use crate::domain::event::Language;
use crate::hub::state::SharedHub;

/// The session a request was let in with (see [`require_session`]).
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub id: String,
    pub csrf: String,
}

/// The console's routes, merged into the hub's router (`hub::server::router`).
pub fn routes(hub: SharedHub) -> Router<SharedHub> {
    let guarded = Router::new()
        .route("/", get(pages::overview))
        .route("/console/live/overview", get(pages::overview_live))
        .route("/console/kiosks", get(pages::kiosks))
        .route("/console/kiosks/revoke", post(pages::revoke_kiosk))
        .route("/console/kiosks/enrol", post(pages::enrol))
        .route("/console/kiosks/pins", post(pages::set_pin))
        .route("/admin/enrol", get(|| async { Redirect::to("/console/kiosks") }))
        .route("/console/pathways", get(pages::pathways))
        .route("/console/platform", get(pages::platform))
        .route("/console/platform/issue", post(pages::start_issue))
        .route("/console/live/issue", get(pages::issue_live))
        .route("/console/platform/needs-email.csv", get(pages::needs_email_csv))
        .route("/console/registrations", get(pages::registrations))
        .route("/console/registrations/import", post(pages::import_registrations))
        .route("/console/codes/revoke", post(pages::revoke_code))
        .route("/console/export", get(pages::export))
        .route("/console/export/awards.csv", get(pages::export_csv))
        .route("/console/export/awards.jsonl", get(pages::export_jsonl))
        .route("/logout", post(pages::logout))
        .route_layer(middleware::from_fn_with_state(hub.clone(), require_session));
    Router::new()
        .merge(guarded)
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/console/console.css", get(stylesheet))
        .route("/console/console.js", get(script))
        .route("/enrol/{token}", get(pages::enrol_info))
        .route_layer(middleware::from_fn_with_state(hub, guard_host))
}

const STYLESHEET: &str = include_str!("console.css");
const SCRIPT: &str = include_str!("console.js");

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// The hub's own names: `localhost`, IP literals (checked by `auth::host_allowed`), its
/// public URL's host and the configured names.
fn allowed_hosts(hub: &SharedHub) -> Vec<String> {
    let mut names: Vec<String> = hub
        .console
        .settings
        .host_names
        .iter()
        .filter_map(|name| auth::host_name(name))
        .collect();
    let public_host = hub
        .public_url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
        .and_then(auth::host_name);
    names.extend(public_host);
    names
}

fn host_header(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|authority| authority.to_string()))
}

/// Every console response: refused for a foreign Host (DNS rebinding) or a cross-site
/// POST, kept out of caches and frames, and the `?lang=` choice remembered in a cookie.
async fn guard_host(State(hub): State<SharedHub>, request: Request, next: Next) -> Response {
    let host = host_header(&request);
    if !auth::host_allowed(host.as_deref(), &allowed_hosts(&hub)) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Cette console ne répond qu'à l'adresse du hub : ouvrez-la par son adresse IP ou son nom \
             (hub serve --console-host NOM).\nThis console answers only at the hub's own address: open it by \
             its IP address or its name (hub serve --console-host NAME).\n",
        )
            .into_response();
    }
    if request.method() == Method::POST && !same_origin(request.headers(), host.as_deref()) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Formulaire venu d'un autre site : refusé. · A form from another site: refused.\n",
        )
            .into_response();
    }
    let remembered = language_choice(request.uri());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if let Some(language) = remembered {
        let cookie = format!("lang={}; Path=/; SameSite=Lax; Max-Age=31536000", language.code());
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// A POST's Origin (when the browser sends one) must be this very host.
fn same_origin(headers: &HeaderMap, host: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok()) else {
        return true;
    };
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
}

fn language_choice(uri: &Uri) -> Option<Language> {
    query_value(uri, "lang").and_then(|code| match code.as_str() {
        "fr" => Some(Language::Fr),
        "en" => Some(Language::En),
        _ => None,
    })
}

fn query_value(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The page language for this request.
pub fn language(headers: &HeaderMap, uri: &Uri) -> Language {
    let header = |name| headers.get(name).and_then(|value: &HeaderValue| value.to_str().ok());
    crate::hub::web::lang::negotiate(
        query_value(uri, "lang").as_deref(),
        header(header::COOKIE),
        header(header::ACCEPT_LANGUAGE),
    )
}

/// Lets a request in only with a live session; otherwise the login page (or, with no
/// password set, the page that says how to set one).
async fn require_session(State(hub): State<SharedHub>, mut request: Request, next: Next) -> Response {
    let now = (hub.clock)();
    let cookie = request
        .headers()
        .get(header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|header| auth::session_cookie(Some(header)));
    let session = cookie
        .as_deref()
        .and_then(|id| Some((id.to_owned(), hub.console.sessions.find(id, now)?)));
    let Some((id, session)) = session else {
        let next_path = if request.method() == Method::GET && !request.uri().path().starts_with("/console/live/") {
            request
                .uri()
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |path| path.as_str().to_owned())
        } else {
            "/".to_owned()
        };
        if request.uri().path().starts_with("/console/live/") {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let target = format!("/login?next={}", percent_encode(&next_path));
        return Redirect::to(&target).into_response();
    };
    request
        .extensions_mut()
        .insert(SessionContext { id, csrf: session.csrf });
    next.run(request).await
}

/// Percent-encodes a path for a query value.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Where to go after logging in: a path of this site only (never `//host` or a URL).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        // Visible ASCII only: browsers drop tabs and newlines from a URL, so `/\t/evil` would
        // become `//evil`, another site.
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && path.bytes().all(|byte| byte.is_ascii_graphic()) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The form token check for every POST.
pub fn csrf_ok(session: &SessionContext, submitted: &str) -> bool {
    auth::constant_time_eq(session.csrf.as_bytes(), submitted.as_bytes())
}

/// Renders a template, or a plain error if the template itself fails.
pub fn render(template: &impl Template) -> Response {
    render_with(StatusCode::OK, template)
}

pub fn render_with(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(failure) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the page could not be drawn: {failure}; reload it, and report this to the badge-kiosk developers"),
        )
            .into_response(),
    }
}

/// A navigation entry of the console's header.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The console's pages, in the header's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Overview,
    Kiosks,
    Pathways,
    Platform,
    Registrations,
    Export,
}

impl Page {
    const ALL: [Page; 6] = [
        Page::Overview,
        Page::Kiosks,
        Page::Pathways,
        Page::Platform,
        Page::Registrations,
        Page::Export,
    ];

    pub fn href(self) -> &'static str {
        match self {
            Page::Overview => "/",
            Page::Kiosks => "/console/kiosks",
            Page::Pathways => "/console/pathways",
            Page::Platform => "/console/platform",
            Page::Registrations => "/console/registrations",
            Page::Export => "/console/export",
        }
    }

    pub fn label(self, t: &'static Texts) -> &'static str {
        match self {
            Page::Overview => t.overview,
            Page::Kiosks => t.kiosks,
            Page::Pathways => t.pathways_and_stands,
            Page::Platform => t.badge_platform,
            Page::Registrations => t.registrations_and_emails,
            Page::Export => t.export,
        }
    }
}

/// A message at the top of a page after an action.
#[derive(Debug, Clone)]
pub struct Notice {
    /// success, warning or error (a CSS class).
    pub kind: &'static str,
    pub text: String,
}

impl Notice {
    pub fn success(text: String) -> Self {
        Self { kind: "success", text }
    }
    pub fn warning(text: String) -> Self {
        Self { kind: "warning", text }
    }
    pub fn error(text: String) -> Self {
        Self { kind: "error", text }
    }
}

/// What every console page shows around its content.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub switch_href: String,
    pub title: String,
    pub event_name: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub notices: Vec<Notice>,
}

impl Chrome {
    pub fn new(language: Language, page: Page, event_name: &str, session: &SessionContext) -> Self {
        let t = Texts::of(language);
        Self {
            lang: language.code(),
            other_lang: language.other().code(),
            switch_href: format!("{}?lang={}", page.href(), language.other().code()),
            title: page.label(t).to_owned(),
            event_name: event_name.to_owned(),
            csrf: session.csrf.clone(),
            nav: Page::ALL
                .iter()
                .map(|item| NavItem {
                    href: item.href(),
                    label: item.label(t),
                    current: *item == page,
                })
                .collect(),
            notices: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/console/kiosks?lang=en")), "/console/kiosks?lang=en");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "kiosks",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/ /evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
        assert_eq!(percent_encode("/a?b=c&d"), "/a%3Fb%3Dc%26d");
    }

    #[test]
    fn posts_from_another_origin_are_refused() {
        let mut headers = HeaderMap::new();
        assert!(
            same_origin(&headers, Some("10.0.0.2:8787")),
            "no Origin header: SameSite and the token decide"
        );
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://10.0.0.2:8787"));
        assert!(same_origin(&headers, Some("10.0.0.2:8787")));
        assert!(!same_origin(&headers, Some("10.0.0.3:8787")));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers, Some("10.0.0.2:8787")));
    }
}
