//! Reading an HTTP answer with a size cap, so that a hub, a badge platform or anything
//! pretending to be one cannot make the kiosk or the hub allocate without bound. The kiosk's
//! sync and enrolment and the hub's platform calls all read answers through this one reader
//! and word its errors for their own callers. Failed requests are told with their causes
//! ([`with_causes`]). Every client is built by [`client_builder`].

/// The one HTTP client builder of the product (the kiosk's sync and enrolment, the relay,
/// the badge platforms): the given timeouts, a user agent, and **no redirects**. Following
/// one would re-send a body (typed emails, claim tokens, records) to wherever a server or
/// someone answering in its place points, `http://` included, and could carry a bearer
/// token to another host; every caller treats a 3xx as the error it is. Callers add their
/// TLS settings and build it themselves, failing loudly (never `unwrap_or_default`, which
/// would drop every setting).
pub fn client_builder(
    timeout: std::time::Duration,
    connect_timeout: std::time::Duration,
    user_agent: &'static str,
) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout.min(timeout))
        .user_agent(user_agent)
        .redirect(reqwest::redirect::Policy::none())
}

#[derive(Debug, thiserror::Error)]
pub enum CappedReadError {
    /// Announced by `Content-Length` or found while reading: nothing more is read.
    #[error("the answer is larger than {limit} bytes; it was not read")]
    TooLarge { limit: usize },
    #[error("the connection dropped while reading the answer: {0}")]
    Dropped(#[source] reqwest::Error),
}

/// The whole body, if it is at most `limit` bytes.
pub async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, CappedReadError> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(CappedReadError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(CappedReadError::Dropped)? {
        if body.len() + chunk.len() > limit {
            return Err(CappedReadError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `text` followed by every cause of `error`: reqwest's own message hides the cause ("error
/// sending request"), the organiser needs the innermost one ("connection refused").
pub fn with_causes(mut text: String, error: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
