#![no_main]
// The body is badge_kiosk::fuzzing::hub_upload_body, replayed on stable by tests/it/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| badge_kiosk::fuzzing::hub_upload_body(data));
