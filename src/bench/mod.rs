//! The benchmarks' bodies (`bench` feature: `badge-kiosk bench …` and `cargo bench`), apart
//! from the product: decoding photos and synthetic frames, signing credentials, a loopback
//! sync from kiosks to a hub. They sit above every layer they measure.

pub mod credentials;
pub mod decode;
pub mod sync;
