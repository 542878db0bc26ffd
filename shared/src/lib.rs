//! The campus carpool backend's domain crate: everything that is not a Lambda entrypoint.
//!
//! Dependencies point one way: `http` -> use cases (`auth`) -> `domain`; adapters (`store::*`,
//! `mail::*`) implement the ports (`store::Store`, `mail::Mailer`, `clock::Clock`).

pub mod clock;
pub mod store;
pub mod domain;
