//! Reading an HTTP answer with a size cap, so that a hub, a badge platform or anything
//! pretending to be one cannot make the kiosk or the hub allocate without bound. The kiosk's
//! sync and enrolment and the hub's platform calls all read answers through this one reader
//! and word its errors for their own callers. Failed requests are told with their causes
//! ([`with_causes`]).

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
