//! The one integration test binary: CLI, sync against a real hub on loopback, the UI in
//! a real window, and the independent credential verifier.

// Test code, helpers included: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attacks;
mod attacks_delivery;
mod attacks_hardening;
mod attacks_ingest;
mod attacks_sync;
mod attacks_time;
mod claim_email;
mod cli;
mod console_browser;
mod credential_dcc;
mod decode_photos;
mod enrol;
mod fuzz_corpus;
mod helpers;
mod hub_emails_delivery;
mod hub_issue;
mod io_faults;
mod phone_claim;
mod platform;
mod platform_contract;
mod power_cut;
mod relay;
mod sync;
mod sync_promise;
mod tickets;
mod ui_e2e;
mod wallet;
mod webdriver;
