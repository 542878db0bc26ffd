//! Plain types and rules: no I/O, no async, no AWS.

pub mod account;
pub mod analyze_id;
pub mod calendar;
pub mod campus;
pub mod chat;
pub mod device;
pub mod driver;
pub mod email;
pub mod license;
pub mod lockout;
pub mod name;
pub mod name_match;
pub mod password;
pub mod region;
mod region_data;
pub mod ride;
pub mod secret;
pub mod session;
pub mod totp;
