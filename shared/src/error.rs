//! The one error type use cases return. Each variant has a stable `code` (API.md's snake_case
//! codes) and an HTTP status; the http layer turns it into `{"error":{"code","message"}}`.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("this email domain does not belong to a supported campus")]
    CampusNotSupported,
    #[error("{0}")]
    WeakPassword(String),
    /// The message names the field.
    #[error("{0}")]
    InvalidLicense(String),
    /// A license entered with an expiry date before today.
    #[error("license expiresOn is before today: this license has expired")]
    ExpiredLicenseEntered,
    #[error("{0}")]
    InvalidUpload(String),
    /// A well-formed request missing something a rule needs (a rejection's reason).
    #[error("{0}")]
    Incomplete(String),
    #[error("enter your driver's license first")]
    LicenseRequired,
    #[error("your driver's license has expired: enter the renewed one first")]
    LicenseExpired,
    #[error("your driver profile is suspended")]
    DriverSuspended,
    #[error("only an approved driver can offer rides")]
    DriverNotApproved,
    #[error("this needs a campus admin (and no admin decides on their own driver profile)")]
    AdminRequired,
    #[error("this driver is not suspended")]
    DriverNotSuspended,
    /// The message names the field.
    #[error("{0}")]
    InvalidRide(String),
    #[error("turn your availability on before offering rides")]
    DriverUnavailable,
    #[error("only the ride's author can do this")]
    NotRideAuthor,
    #[error("riders already hold more seats than that")]
    SeatsTaken,
    #[error("this ride is cancelled, matched or has departed")]
    RideClosed,
    #[error("this is your own ride")]
    OwnRide,
    #[error("you already have a pending or accepted request on this ride")]
    AlreadyRequested,
    #[error("not enough seats left on this ride")]
    RideFull,
    #[error("this request is no longer pending")]
    RequestNotPending,
    /// The message names the rule.
    #[error("{0}")]
    InvalidMessage(String),
    #[error("this conversation is closed to new messages")]
    ConversationClosed,
    #[error("the cursor is not one this server issued for this list")]
    InvalidCursor,
    /// A service the request depends on is throttling or down; the client may retry.
    #[error("a service this needs is busy; try again shortly")]
    ServiceUnavailable { retry_after_secs: i64 },
    /// Concurrent changes to the same thing kept winning over this one (every retry lost a
    /// race): `503` like an outage, the client retries, but no failure to report.
    #[error("busy with other changes to the same thing; try again")]
    Contended,
    #[error("this link is invalid or has expired; request a new one")]
    InvalidToken,
    #[error("email or password is incorrect")]
    InvalidCredentials,
    #[error("verify your email address before signing in")]
    EmailNotVerified,
    #[error("cross-site request refused")]
    CsrfRejected,
    #[error("the captcha could not be verified; please try again")]
    CaptchaFailed,
    #[error("enter the code from your authenticator app, or a recovery code")]
    TotpRequired,
    #[error("the two-factor code is wrong, expired or already used")]
    InvalidTotp,
    #[error("two-factor sign-in is already on")]
    TwoFactorAlreadyEnabled,
    #[error("two-factor sign-in is not on")]
    TwoFactorNotEnabled,
    #[error("no two-factor setup is in progress (it may have expired): start the setup again")]
    TwoFactorSetupRequired,
    #[error("sign in to continue")]
    Unauthenticated,
    #[error("too many requests; try again later")]
    RateLimited { retry_after_secs: i64 },
    #[error("too many failed sign-ins: sign-in is locked for a while; you can still reset your password")]
    AccountLocked { retry_after_secs: i64 },
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Anything the client cannot fix. The detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// Reports, once, where a request or frame ends, a failure its client cannot fix: a bug
    /// (`Internal`, with its detail) or a dependency out (`ServiceUnavailable`, whose detail
    /// the warning where it arose holds; Sentry keeps it as the report's breadcrumb).
    pub fn report(&self) {
        match self {
            AppError::Internal(detail) => tracing::error!(error = %detail, "request failed"),
            AppError::ServiceUnavailable { .. } => tracing::error!("dependency unavailable"),
            AppError::Contended => tracing::warn!("every attempt lost a race to a concurrent change"),
            _ => {}
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidRequest(_) => "invalid_request",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::CampusNotSupported => "campus_not_supported",
            AppError::WeakPassword(_) => "weak_password",
            AppError::InvalidLicense(_) => "invalid_license",
            AppError::ExpiredLicenseEntered | AppError::LicenseExpired => "license_expired",
            AppError::InvalidUpload(_) => "invalid_upload",
            AppError::Incomplete(_) => "invalid_request",
            AppError::LicenseRequired => "license_required",
            AppError::DriverSuspended => "driver_suspended",
            AppError::DriverNotApproved => "driver_not_approved",
            AppError::AdminRequired => "admin_required",
            AppError::DriverNotSuspended => "driver_not_suspended",
            AppError::InvalidCursor => "invalid_cursor",
            AppError::InvalidRide(_) => "invalid_ride",
            AppError::InvalidMessage(_) => "invalid_message",
            AppError::ConversationClosed => "conversation_closed",
            AppError::DriverUnavailable => "driver_unavailable",
            AppError::NotRideAuthor => "not_ride_author",
            AppError::SeatsTaken => "seats_taken",
            AppError::RideClosed => "ride_closed",
            AppError::OwnRide => "own_ride",
            AppError::AlreadyRequested => "already_requested",
            AppError::RideFull => "ride_full",
            AppError::RequestNotPending => "request_not_pending",
            AppError::ServiceUnavailable { .. } | AppError::Contended => "service_unavailable",
            AppError::InvalidToken => "invalid_token",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::EmailNotVerified => "email_not_verified",
            AppError::CsrfRejected => "csrf_rejected",
            AppError::CaptchaFailed => "captcha_failed",
            AppError::TotpRequired => "totp_required",
            AppError::InvalidTotp => "invalid_totp",
            AppError::TwoFactorAlreadyEnabled => "two_factor_already_enabled",
            AppError::TwoFactorNotEnabled => "two_factor_not_enabled",
            AppError::TwoFactorSetupRequired => "two_factor_setup_required",
            AppError::Unauthenticated => "unauthenticated",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::AccountLocked { .. } => "account_locked",
            AppError::NotFound => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::InvalidRequest(_)
            | AppError::InvalidToken
            | AppError::CaptchaFailed
            | AppError::InvalidCursor => 400,
            AppError::InvalidCredentials
            | AppError::Unauthenticated
            | AppError::TotpRequired
            | AppError::InvalidTotp => 401,
            AppError::EmailNotVerified
            | AppError::CsrfRejected
            | AppError::DriverSuspended
            | AppError::DriverNotApproved
            | AppError::AdminRequired
            | AppError::NotRideAuthor => 403,
            AppError::NotFound => 404,
            AppError::MethodNotAllowed => 405,
            AppError::TwoFactorAlreadyEnabled
            | AppError::TwoFactorNotEnabled
            | AppError::TwoFactorSetupRequired
            | AppError::LicenseRequired
            | AppError::LicenseExpired
            | AppError::DriverNotSuspended
            | AppError::DriverUnavailable
            | AppError::SeatsTaken
            | AppError::RideClosed
            | AppError::OwnRide
            | AppError::AlreadyRequested
            | AppError::RideFull
            | AppError::RequestNotPending
            | AppError::ConversationClosed => 409,
            AppError::PayloadTooLarge(_) => 413,
            AppError::UnsupportedMediaType => 415,
            AppError::CampusNotSupported
            | AppError::WeakPassword(_)
            | AppError::InvalidLicense(_)
            | AppError::ExpiredLicenseEntered
            | AppError::InvalidUpload(_)
            | AppError::Incomplete(_)
            | AppError::InvalidRide(_)
            | AppError::InvalidMessage(_) => 422,
            AppError::RateLimited { .. } => 429,
            AppError::AccountLocked { .. } => 423,
            AppError::Internal(_) => 500,
            AppError::ServiceUnavailable { .. } | AppError::Contended => 503,
        }
    }

    /// Seconds after which the request may succeed (`Retry-After`).
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            AppError::RateLimited { retry_after_secs }
            | AppError::AccountLocked { retry_after_secs }
            | AppError::ServiceUnavailable { retry_after_secs } => Some(*retry_after_secs),
            AppError::Contended => Some(1),
            _ => None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::InvalidRequest(message.into())
    }
}

/// Seconds a client waits after a dependency failed or throttled.
const DEPENDENCY_RETRY_AFTER_SECS: i64 = 1;

impl From<StoreError> for AppError {
    /// An outage or throttling of the store is the client's `503` (try again); its detail is
    /// logged here as a warning, which the report where the request ends (`AppError::report`)
    /// carries along. A condition that failed is the use case's to decide on before this.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadCursor => AppError::invalid("cursor is invalid"),
            StoreError::Contention => AppError::Contended,
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "store unavailable");
                AppError::ServiceUnavailable { retry_after_secs: DEPENDENCY_RETRY_AFTER_SECS }
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<crate::documents::UploadError> for AppError {
    /// S3 (presigning, reading an upload's first bytes) failed: `503`, its detail logged as
    /// for the store.
    fn from(e: crate::documents::UploadError) -> Self {
        tracing::warn!(error = %e, "uploads unavailable");
        AppError::ServiceUnavailable { retry_after_secs: DEPENDENCY_RETRY_AFTER_SECS }
    }
}

pub type AppResult<T> = Result<T, AppError>;
