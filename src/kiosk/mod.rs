//! The kiosk: its application core (event + queue + keys), the screen state machine, and
//! the controller that runs them for a touchscreen without knowing the window.

pub mod claim_qr;
pub mod core;
pub mod machine;
pub mod wedge_keys;
pub use self::core::*;
