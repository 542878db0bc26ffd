//! Who is calling, for per-IP limits, session device labels and audit records. In Lambda the
//! address is the viewer's that the stack's CloudFront distribution vouches for (see
//! `viewer_address`), else API Gateway's `requestContext.http.sourceIp`; in the local server the
//! TCP peer. Never a client-supplied `X-Forwarded-For`.

use crate::auth::Client;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The header in which CloudFront sends the stack's edge secret to its origins.
pub const ORIGIN_VERIFY: &str = "x-origin-verify";
/// CloudFront's `<viewer ip>:<viewer port>` (IPv6 addresses unbracketed).
pub const VIEWER_ADDRESS: &str = "cloudfront-viewer-address";

/// The viewer's address as CloudFront saw it, on a request that proved it came through it.
#[derive(Clone, Debug)]
struct ViewerIp(String);

/// Behind CloudFront, API Gateway's `sourceIp` is an edge server's, shared by every viewer it
/// serves: the per-IP limits would throttle a whole region as one client. CloudFront names the
/// viewer in `CloudFront-Viewer-Address`, which is trusted only on a request carrying the edge
/// secret (`X-Origin-Verify`): a client calling API Gateway directly can send that header but
/// not the secret. The secret itself goes no further than this layer.
pub async fn viewer_address(State(secret): State<Arc<str>>, mut request: Request, next: Next) -> Response {
    let sent = request.headers_mut().remove(ORIGIN_VERIFY);
    let proven = sent.as_ref().is_some_and(|sent| same_secret(sent, &secret));
    if sent.is_some() && !proven && !MISMATCH_WARNED.swap(true, Ordering::Relaxed) {
        // CloudFront sending another secret than the functions know (one of them was changed
        // without the other being redeployed): every viewer now counts as its edge server.
        tracing::warn!("edge secret mismatch: X-Origin-Verify is not EDGE_SECRET");
    }
    let viewer = request.headers().get(VIEWER_ADDRESS).and_then(|value| parse_viewer(value.to_str().ok()?));
    if let Some(ip) = viewer.filter(|_| proven) {
        request.extensions_mut().insert(ViewerIp(ip.to_string()));
    }
    next.run(request).await
}

/// Whether this container has warned of a mismatched edge secret (once is enough to be seen).
static MISMATCH_WARNED: AtomicBool = AtomicBool::new(false);

/// Compared as digests, so the time taken says nothing about how much of the secret matched.
fn same_secret(sent: &HeaderValue, secret: &str) -> bool {
    Sha256::digest(sent.as_bytes()) == Sha256::digest(secret.as_bytes())
}

fn parse_viewer(value: &str) -> Option<IpAddr> {
    let (ip, port) = value.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let ip: IpAddr = ip.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    Some(ip.to_canonical())
}

/// Longest User-Agent kept (it is only a label).
const MAX_USER_AGENT_CHARS: usize = 256;

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let from_cloudfront = parts.extensions.get::<ViewerIp>().map(|viewer| viewer.0.clone());
        let from_gateway = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
            _ => None,
        };
        let from_peer = || parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        // Without either (an in-process test), all requests share one bucket.
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        let ip = from_cloudfront.or(from_gateway).or_else(from_peer).unwrap_or_else(|| "unknown".into());
        Ok(Client { ip, user_agent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    /// The address a handler sees, behind the layer with edge secret `s3cret`.
    async fn seen(headers: &[(&str, &str)]) -> String {
        let app = axum::Router::new()
            .route(
                "/",
                get(|client: Client, headers: axum::http::HeaderMap| async move {
                    assert!(!headers.contains_key(ORIGIN_VERIFY), "the secret reached the handler");
                    client.ip
                }),
            )
            .layer(axum::middleware::from_fn_with_state(Arc::<str>::from("s3cret"), viewer_address));
        let mut request = axum::http::Request::get("/");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[test]
    fn limits_count_an_ipv6_client_by_its_64() {
        let network = |ip: &str| Client { ip: ip.into(), user_agent: None }.network();
        assert_eq!(network("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(network("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
        assert_eq!(network("::ffff:198.51.100.10"), "198.51.100.10");
        assert_eq!(network("198.51.100.10"), "198.51.100.10");
        assert_eq!(network("unknown"), "unknown");
    }

    #[tokio::test]
    async fn the_viewer_address_is_trusted_only_with_the_edge_secret() {
        let viewer = (VIEWER_ADDRESS, "198.51.100.10:46532");
        assert_eq!(seen(&[viewer, (ORIGIN_VERIFY, "s3cret")]).await, "198.51.100.10");
        // Straight to API Gateway: whatever the client claims, not its address.
        assert_eq!(seen(&[viewer]).await, "unknown");
        assert_eq!(seen(&[viewer, (ORIGIN_VERIFY, "guess")]).await, "unknown");
        assert_eq!(seen(&[(VIEWER_ADDRESS, "garbage"), (ORIGIN_VERIFY, "s3cret")]).await, "unknown");
    }

    #[test]
    fn viewer_addresses_of_both_families() {
        assert_eq!(parse_viewer("198.51.100.10:46532"), Some("198.51.100.10".parse().unwrap()));
        assert_eq!(
            parse_viewer("2001:db8::8a2e:370:7334:443"),
            Some("2001:db8::8a2e:370:7334".parse().unwrap())
        );
        assert_eq!(parse_viewer("[2001:db8::1]:443"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_viewer("::ffff:198.51.100.10:443"), Some("198.51.100.10".parse().unwrap()));
        for bad in ["", "198.51.100.10", "198.51.100.10:port", "not-an-ip:443", "1.2.3.4:99999"] {
            assert_eq!(parse_viewer(bad), None, "{bad}");
        }
    }
}
