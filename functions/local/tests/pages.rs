//! What a newcomer opens after the run command: the demo page at `/` (and the pages the links in
//! local mail open), its script and style, and the OpenAPI document, served by the real
//! `carpool-local` with their content types and a strict Content-Security-Policy.

mod common;

use common::*;

fn get(url: &str) -> (u16, String, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut reply = agent.get(url).call().expect("the server answers");
    let header =
        |name: &str| reply.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (content_type, policy) = (header("content-type"), header("content-security-policy"));
    (reply.status().as_u16(), content_type, policy, reply.body_mut().read_to_string().unwrap())
}

#[test]
fn the_demo_page_its_assets_and_the_api_document_are_served() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    for page in ["/", "/verify-email?token=abc", "/reset-password?token=abc"] {
        let (status, content_type, policy, body) = get(&format!("{}{page}", server.url));
        assert_eq!((status, content_type.as_str()), (200, "text/html; charset=utf-8"), "{page}");
        assert!(
            policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"),
            "{policy}"
        );
        assert!(body.contains(r#"<script src="/demo/app.js" defer></script>"#), "{page}");
        // Every field has a label: `for` it, or (checkboxes) around it.
        for tag in ["<input id=\"", "<textarea id=\""] {
            for field in body.split(tag).skip(1) {
                let (id, rest) = field.split_once('"').unwrap();
                let wrapped = rest.split('>').next().unwrap().contains("type=\"checkbox\"");
                assert!(wrapped || body.contains(&format!("for=\"{id}\"")), "field {id} has no label");
            }
        }
    }
    let (status, content_type, _, script) = get(&format!("{}/demo/app.js", server.url));
    assert_eq!((status, content_type.as_str()), (200, "text/javascript; charset=utf-8"));
    assert!(script.contains("/api/auth/signin") && script.contains("/ws"));
    let (status, content_type, _, _) = get(&format!("{}/demo/style.css", server.url));
    assert_eq!((status, content_type.as_str()), (200, "text/css; charset=utf-8"));
    let (status, content_type, _, document) = get(&format!("{}/api/openapi.json", server.url));
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/api/carpool/rides"]["post"].is_object());
    // Anything else is still the API's 404.
    let (status, _, _, body) = get(&format!("{}/nothing-here", server.url));
    assert_eq!(status, 404);
    assert!(body.contains("not_found"));
}
