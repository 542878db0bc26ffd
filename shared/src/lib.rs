//! The campus carpool backend's domain crate: everything that is not a Lambda entrypoint.
//!
//! Dependencies point one way: `http` -> use cases (`auth`) -> `domain`; adapters (`store::*`,
//! `mail::*`) implement the ports (`store::Store`, `mail::Mailer`, `clock::Clock`).

/// The product name users see: in mail, and as the issuer in authenticator apps.
pub const PRODUCT: &str = "Campus Carpool";

pub mod account;
pub mod auth;
pub mod captcha;
pub mod chat;
pub mod clock;
pub mod config;
pub mod cursor;
pub mod documents;
pub mod domain;
pub mod driver;
pub mod error;
pub mod http;
pub mod lambda;
pub mod mail;
pub mod metrics;
pub mod monitoring;
pub mod push;
pub mod rate_limit;
pub mod repo;
pub mod rides;
pub mod seal;
pub mod store;
pub mod telemetry;
