//! The kiosk: its application core (event + queue + keys) and the screen state machine.

pub mod core;
pub mod machine;
pub mod pin;
pub use self::core::*;
