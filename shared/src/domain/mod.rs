//! Plain types and rules: no I/O, no async, no AWS.

pub mod campus;
pub mod device;
pub mod email;
pub mod license;
pub mod lockout;
pub mod name;
pub mod password;
pub mod secret;
pub mod session;
pub mod totp;
