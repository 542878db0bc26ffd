//! License photos through the HTTP layer and the local upload server, on both stores: upload
//! grants, the signed PUT, and the scan with the OCR stand-in (a PNG carrying AnalyzeID JSON).

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::app::*;
use support::driver::*;
use time::Duration;

async fn upload_grants_are_for_one_image_of_a_declared_size(app: App) {
    let cookie = app.with_license("photo@example.edu", 100).await;
    for (content_type, length) in [
        ("image/gif", 100),
        ("application/pdf", 100),
        ("image/png", 0),
        ("image/jpeg", 10 * 1024 * 1024 + 1),
        ("image/png", -5),
    ] {
        let res = app
            .post(
                "/api/auth/driver/license/upload",
                json!({"contentType": content_type, "contentLength": length}),
                Some(&cookie),
            )
            .await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_upload"),
            "{content_type} {length}"
        );
    }
    for length in [json!(1e10), json!(u64::MAX), json!(1.5), json!(-1)] {
        let body = json!({"contentType": "image/png", "contentLength": length});
        let res = app.post("/api/auth/driver/license/upload", body, Some(&cookie)).await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_upload"),
            "{length}"
        );
    }
    let grant = app
        .post(
            "/api/auth/driver/license/upload",
            json!({"contentType": "image/png", "contentLength": 4}),
            Some(&cookie),
        )
        .await;
    assert_eq!(grant.status, StatusCode::OK);
    assert_eq!(grant.body["expiresIn"], 300);
    assert_eq!(grant.body["headers"], json!({"content-type": "image/png"}));
    let id = app.user_id("photo@example.edu").await;
    assert!(grant.body["objectKey"].as_str().unwrap().starts_with(&format!("licenses/{id}/")));

    // The PUT must match what was signed: type, length, URL, time.
    let bytes = b"\x89PNG".to_vec();
    assert_eq!(app.put_bytes(&grant.body, "image/jpeg", bytes.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(app.put_bytes(&grant.body, "image/png", b"\x89PNG!".to_vec()).await, StatusCode::FORBIDDEN);
    let url = grant.body["uploadUrl"].as_str().unwrap().strip_prefix(UPLOAD_BASE).unwrap();
    let other_key = url.replace(&id, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    assert_eq!(app.put_to(&other_key, "image/png", bytes.clone()).await, StatusCode::FORBIDDEN);
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(app.put_to(unsigned, "image/png", bytes.clone()).await, StatusCode::FORBIDDEN);
    app.clock.advance(Duration::seconds(301));
    assert_eq!(
        app.put_bytes(&grant.body, "image/png", bytes.clone()).await,
        StatusCode::FORBIDDEN,
        "expired"
    );
    app.clock.advance(Duration::seconds(-301));
    assert_eq!(app.put_bytes(&grant.body, "image/png", bytes).await, StatusCode::OK);
}

async fn a_readable_photo_of_the_entered_license_matches(app: App) {
    let cookie = app.with_license("scan@example.edu", 400).await;
    let expires = app.campus_today() + Duration::days(400);
    let key = app.upload_photo(&cookie, "image/png", png_of(&alice_fields(expires))).await;
    let scan = app.post("/api/auth/driver/license/scan", json!({"objectKey": key}), Some(&cookie)).await;
    assert_eq!(scan.status, StatusCode::OK, "{}", scan.body);
    assert_eq!(scan.body["verification"], "ocr_matched");
    assert_eq!(
        scan.body["extracted"],
        json!({"legalName": "ALICE EXAMPLE", "numberLast4": "4567", "expiresOn": expires.to_string()})
    );
    assert_eq!(scan.body["match"]["legalName"], json!({"score": 1.0, "matched": true}));
    assert_eq!(
        (scan.body["match"]["number"].clone(), scan.body["match"]["expiresOn"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(scan.body["driver"]["license"]["verification"], "ocr_matched");

    // The admin's review shows the reading and a working link to the image.
    let admin = app.admin("admin@example.edu").await;
    app.post("/api/auth/driver/enable", json!({}), Some(&cookie)).await;
    let review = &app.get("/api/admin/driver-reviews", Some(&admin)).await.body["reviews"][0];
    assert_eq!(review["verification"], "ocr_matched");
    assert_eq!(review["extracted"]["numberLast4"], "4567");
    let link = review["imageUrl"].as_str().unwrap().strip_prefix(UPLOAD_BASE).unwrap().to_owned();
    let (status, image) = app.get_bytes(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(image.starts_with(b"\x89PNG"));
    app.clock.advance(Duration::seconds(301));
    assert_eq!(app.get_bytes(&link).await.0, StatusCode::FORBIDDEN, "the link is short-lived");

    // A new license goes back to manual.
    let renewed = license("Alice Example", expires + Duration::days(1));
    let put = app.put("/api/auth/driver/license", renewed, Some(&cookie)).await;
    assert_eq!(put.body["license"]["verification"], "manual");
}

async fn scans_that_differ_or_cannot_read_say_so(app: App) {
    let cookie = app.with_license("mismatch@example.edu", 400).await;
    let expires = app.campus_today() + Duration::days(400);
    let scan = |fields: Vec<(&'static str, String, f32)>| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let key = app.upload_photo(&cookie, "image/png", png_of(&fields)).await;
            let res =
                app.post("/api/auth/driver/license/scan", json!({"objectKey": key}), Some(&cookie)).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            res.body
        }
    };
    let mut other_number = alice_fields(expires);
    other_number[3].1 = "D7654321".into();
    let body = scan(other_number).await;
    assert_eq!(
        (body["verification"].clone(), body["match"]["number"].clone()),
        (json!("ocr_mismatch"), json!(false))
    );

    let mut other_person = alice_fields(expires);
    other_person[0].1 = "ROBERT".into();
    let body = scan(other_person).await;
    assert_eq!(body["verification"], "ocr_mismatch");
    assert_eq!(body["match"]["legalName"]["matched"], false);

    let mut unsure = alice_fields(expires);
    unsure[3].2 = 42.0;
    let body = scan(unsure).await;
    assert_eq!(
        (body["verification"].clone(), body["extracted"]["numberLast4"].clone()),
        (json!("needs_review"), json!(null))
    );

    let mut blank = alice_fields(expires);
    blank[4].1 = String::new();
    assert_eq!(scan(blank).await["verification"], "needs_review");

    // Not an image at all (S3 never looks at the bytes), or a plain photo without the stand-in.
    let key = app.upload_photo(&cookie, "image/png", b"%PDF-1.7 not an image".to_vec()).await;
    let res = app.post("/api/auth/driver/license/scan", json!({"objectKey": key}), Some(&cookie)).await;
    assert_eq!(res.body["verification"], "needs_review");
    let key = app.upload_photo(&cookie, "image/jpeg", b"\xFF\xD8\xFF\xE0 a jpeg".to_vec()).await;
    let res = app.post("/api/auth/driver/license/scan", json!({"objectKey": key}), Some(&cookie)).await;
    assert_eq!(res.body["verification"], "needs_review");
    assert_eq!(res.body["extracted"], json!({"legalName": null, "numberLast4": null, "expiresOn": null}));
}

async fn licenses_from_outside_the_us_go_to_review(app: App) {
    let cookie = app.signed_in("abroad@example.edu", false).await;
    let expires = app.campus_today() + Duration::days(400);
    let mut body = license("Alice Example", expires);
    body["region"] = json!("Germany");
    let put = app.put("/api/auth/driver/license", body, Some(&cookie)).await;
    assert_eq!(put.body["license"]["region"], "Germany (DE)");
    let key = app.upload_photo(&cookie, "image/png", png_of(&alice_fields(expires))).await;
    let res = app.post("/api/auth/driver/license/scan", json!({"objectKey": key}), Some(&cookie)).await;
    assert_eq!(res.body["verification"], "needs_review", "AnalyzeID reads US documents only");
}

async fn nobody_scans_another_users_upload(app: App) {
    let owner = app.with_license("owner@example.edu", 400).await;
    let key = app.upload_photo(&owner, "image/png", png_of(&alice_fields(app.campus_today()))).await;
    let thief = app.with_license("thief@example.edu", 400).await;
    let stolen = app.post("/api/auth/driver/license/scan", json!({"objectKey": key}), Some(&thief)).await;
    assert_eq!((stolen.status, stolen.code()), (StatusCode::NOT_FOUND, "not_found"));
    let id = app.user_id("owner@example.edu").await;
    for key in
        [format!("licenses/{id}/01ARZ3NDEKTSV4RRFFQ69G5FAV.png"), "../../etc/passwd".into(), String::new()]
    {
        let res = app.post("/api/auth/driver/license/scan", json!({"objectKey": key}), Some(&owner)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{key}");
    }
    let no_license = app.signed_in("nolicense@example.edu", false).await;
    let own = app.upload_photo(&no_license, "image/png", b"\x89PNG\r\n\x1a\n".to_vec()).await;
    let res = app.post("/api/auth/driver/license/scan", json!({"objectKey": own}), Some(&no_license)).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "license_required"));
}

on_both_stores!(embedded, dynamo;
    upload_grants_are_for_one_image_of_a_declared_size,
    a_readable_photo_of_the_entered_license_matches,
    scans_that_differ_or_cannot_read_say_so,
    licenses_from_outside_the_us_go_to_review,
    nobody_scans_another_users_upload,
);
