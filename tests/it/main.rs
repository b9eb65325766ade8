//! The one integration test binary: CLI, sync against a real hub on loopback, the UI in
//! a real window, and the independent credential verifier.

mod cli;
mod credential_dcc;
mod enrol;
mod fuzz_corpus;
mod helpers;
mod platform;
mod platform_contract;
mod power_cut;
mod sync;
mod ui_e2e;
