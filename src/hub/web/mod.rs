//! The hub's web pages for people (as opposed to the kiosk API in `server.rs`): the page
//! language, and the visitor's claim pages. Pages are askama templates under `templates/`,
//! escaped automatically, with no outside resource (the venue may be offline).

pub mod claim;
pub mod console;
pub mod images;
pub mod lang;
pub(crate) mod words;
