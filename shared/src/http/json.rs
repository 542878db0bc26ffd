//! JSON request bodies: size-limited, content-type checked, and every parse failure a
//! `400 invalid_request` whose message names the field but never echoes its value (it may be a
//! password). Unknown fields are tolerated everywhere, so older and newer clients both work.

use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(req, state).await?;
        parse(&bytes).map(Json)
    }
}

/// A JSON body that may be left out: an empty body reads as `T::default()` (`POST .../join`
/// with nothing to say).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse(&bytes).map(OptionalJson)
    }
}

/// The body of a request that declares JSON (or nothing).
async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    let json_content = req.headers().get(CONTENT_TYPE).is_none_or(|v| {
        v.to_str().is_ok_and(|ct| {
            let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
    });
    if !json_content {
        return Err(AppError::UnsupportedMediaType);
    }
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(MAX_BODY_BYTES)
        } else {
            AppError::invalid("request body could not be read")
        }
    })
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| AppError::invalid("request body is not valid JSON"))?;
    if !value.is_object() {
        return Err(AppError::invalid("request body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let detail = e.into_inner().to_string();
        // serde's "missing field `x`" names the field; other messages may quote the value.
        let message = match detail.strip_prefix("missing field ") {
            Some(field) if path == "." => format!("missing field {field}"),
            Some(field) => format!("missing field {} in `{path}`", field),
            None => format!("field `{path}` has the wrong type or format"),
        };
        AppError::InvalidRequest(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        email: String,
        password: String,
        remember_me: Option<bool>,
    }

    fn message(input: &str) -> String {
        match parse::<Body>(input.as_bytes()) {
            Err(AppError::InvalidRequest(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn explains_without_echoing_values() {
        assert_eq!(message("{"), "request body is not valid JSON");
        assert_eq!(message(""), "request body is not valid JSON");
        assert_eq!(message(r#"{"email":"a@b.c"}"#), "missing field `password`");
        let m = message(r#"{"email":"a@b.c","password":"hunter2hunter2","rememberMe":"hunter2hunter2"}"#);
        assert_eq!(m, "field `rememberMe` has the wrong type or format");
        assert!(!m.contains("hunter2"));
        assert_eq!(message("[1,2]"), "request body must be a JSON object");
        assert_eq!(message("null"), "request body must be a JSON object");
    }

    #[test]
    fn tolerates_unknown_fields() {
        assert!(parse::<Body>(br#"{"email":"a","password":"b","confirmPassword":"b"}"#).is_ok());
    }
}
