#![no_main]
// The body is badge_kiosk::fuzzing::attendance_code, replayed on stable by tests/it/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| badge_kiosk::fuzzing::attendance_code(data));
