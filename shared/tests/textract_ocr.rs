//! The Textract adapter (`TextractOcr`) against stubbed AnalyzeID answers (aws-smithy-mocks), no
//! AWS account needed: it asks AnalyzeID for the uploaded S3 object (bucket and key, nothing
//! else); it hands `read_license` what Textract read, so a good license reads in full (name,
//! normalised number, expiry from the normalised date) and empty, unsure or ambiguous answers
//! read as nothing; and it sorts service errors into `Unreadable` (the scan needs a review) and
//! `Unavailable` (try again later), also after the SDK's own retries. Recorded-style JSON
//! answers and errors go through the SDK's real deserializer as well.

mod support;

use aws_sdk_textract::config::http::HttpResponse;
use aws_sdk_textract::config::retry::RetryConfig;
use aws_sdk_textract::error::ErrorMetadata;
use aws_sdk_textract::operation::analyze_id::{AnalyzeIDError, AnalyzeIdInput, AnalyzeIdOutput};
use aws_sdk_textract::types::{
    error, AnalyzeIdDetections, Document, DocumentMetadata, IdentityDocument, IdentityDocumentField,
    NormalizedValue, S3Object, ValueType,
};
use aws_sdk_textract::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use carpool::documents::textract::TextractOcr;
use carpool::documents::{LicenseOcr, OcrError};
use carpool::domain::analyze_id::{read_license, AnalyzeIdResponse, LicenseReading};
use carpool::domain::name_match::DocumentName;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::macros::date;

const BUCKET: &str = "carpool-license-photos";
const KEY: &str = "licenses/01JD3M6Q5W8Y7T2R4K9X0B1C2D/01JD3M7A1B2C3D4E5F6G7H8J9K.png";

/// One field as AnalyzeID reports it: its type, the text read and the confidence (0-100).
type Field = (&'static str, &'static str, f32);

/// The front of Alice Example's license as AnalyzeID reads it. Fields the card does not print
/// come back as `""` with high confidence; dates also carry a normalised value (see `document`).
const ALICE: [Field; 13] = [
    ("FIRST_NAME", "ALICE", 98.91),
    ("LAST_NAME", "EXAMPLE", 98.47),
    ("MIDDLE_NAME", "", 99.24),
    ("SUFFIX", "", 99.39),
    ("CITY_IN_ADDRESS", "SEATTLE", 97.83),
    ("STATE_IN_ADDRESS", "WA", 98.61),
    ("STATE_NAME", "WASHINGTON", 98.92),
    ("DOCUMENT_NUMBER", "D123-4567", 96.43),
    ("EXPIRATION_DATE", "01/31/2029", 97.72),
    ("DATE_OF_BIRTH", "03/14/2001", 98.13),
    ("DATE_OF_ISSUE", "01/31/2021", 97.31),
    ("ID_TYPE", "DRIVER LICENSE FRONT", 99.02),
    ("CLASS", "C", 95.65),
];

/// The field types AnalyzeID normalises as dates.
const DATE_TYPES: [&str; 3] = ["EXPIRATION_DATE", "DATE_OF_BIRTH", "DATE_OF_ISSUE"];

/// The fields the reader uses.
const READ_TYPES: [&str; 4] = ["FIRST_NAME", "LAST_NAME", "DOCUMENT_NUMBER", "EXPIRATION_DATE"];

/// ALICE with some fields replaced (matched by type).
fn alice_with(changes: &[Field]) -> Vec<Field> {
    for change in changes {
        assert!(ALICE.iter().any(|f| f.0 == change.0), "ALICE has no {} field", change.0);
    }
    ALICE.iter().map(|&field| changes.iter().copied().find(|c| c.0 == field.0).unwrap_or(field)).collect()
}

fn text_of(kind: &str) -> &'static str {
    ALICE.iter().find(|f| f.0 == kind).expect("a field of ALICE").1
}

/// `01/31/2029` as AnalyzeID normalises it: `2029-01-31T00:00:00`.
fn normalised(us_date: &str) -> String {
    let (month, day, year) = (&us_date[0..2], &us_date[3..5], &us_date[6..10]);
    format!("{year}-{month}-{day}T00:00:00")
}

fn document(index: i32, fields: &[Field]) -> IdentityDocument {
    fields
        .iter()
        .fold(IdentityDocument::builder().document_index(index), |document, &(kind, text, confidence)| {
            let mut value = AnalyzeIdDetections::builder().text(text).confidence(confidence);
            if DATE_TYPES.contains(&kind) && !text.is_empty() {
                value = value.normalized_value(
                    NormalizedValue::builder().value(normalised(text)).value_type(ValueType::Date).build(),
                );
            }
            document.identity_document_fields(
                IdentityDocumentField::builder()
                    .r#type(AnalyzeIdDetections::builder().text(kind).build().expect("a type has text"))
                    .value_detection(value.build().expect("a value has text"))
                    .build(),
            )
        })
        .build()
}

/// An AnalyzeID answer with one identity document per field list (`DocumentIndex` from 1).
fn analyze_id_output(documents: &[&[Field]]) -> AnalyzeIdOutput {
    let pages = i32::try_from(documents.len()).expect("a few pages");
    documents
        .iter()
        .zip(1..)
        .fold(AnalyzeIdOutput::builder(), |output, (fields, index)| {
            output.identity_documents(document(index, fields))
        })
        .document_metadata(DocumentMetadata::builder().pages(pages).build())
        .analyze_id_model_version("1.0")
        .build()
}

/// The adapter over a client whose AnalyzeID calls `rule` answers; retries are off so each test
/// sees exactly the attempt it stubbed (`retries_then_gives_up` turns them back on).
fn ocr(rule: &Rule) -> TextractOcr {
    let no_retries = |c: aws_sdk_textract::config::Builder| c.retry_config(RetryConfig::disabled());
    let client = mock_client!(aws_sdk_textract, RuleMode::MatchAny, [rule], no_retries);
    TextractOcr::new(client, BUCKET.to_owned())
}

/// Runs the adapter on one stubbed answer and returns what it handed on, checked to be one call.
async fn analyze(rule: Rule) -> Result<AnalyzeIdResponse, OcrError> {
    let result = ocr(&rule).analyze(KEY).await;
    assert_eq!(rule.num_calls(), 1, "one AnalyzeID call");
    result
}

async fn read(output: AnalyzeIdOutput) -> LicenseReading {
    let rule = mock!(Client::analyze_id).then_output(move || output.clone());
    read_license(&analyze(rule).await.expect("AnalyzeID answered"))
}

fn alice_reading() -> LicenseReading {
    LicenseReading {
        name: Some(DocumentName { first: "ALICE".into(), middle: "".into(), last: "EXAMPLE".into() }),
        number: Some("D1234567".into()),
        expires_on: Some(date!(2029 - 01 - 31)),
    }
}

/// Alice's reading without what the field of type `kind` gives.
fn alice_reading_without(kind: &str) -> LicenseReading {
    let mut reading = alice_reading();
    match kind {
        "FIRST_NAME" | "LAST_NAME" => reading.name = None,
        "DOCUMENT_NUMBER" => reading.number = None,
        "EXPIRATION_DATE" => reading.expires_on = None,
        other => panic!("{other} is not read"),
    }
    reading
}

#[tokio::test]
async fn a_good_license_reads_every_field() {
    assert_eq!(read(analyze_id_output(&[&ALICE])).await, alice_reading());

    let with_middle = alice_with(&[("MIDDLE_NAME", "MARIE", 97.15)]);
    let name = read(analyze_id_output(&[&with_middle])).await.name.expect("a name");
    assert_eq!(name.middle, "MARIE");
}

#[tokio::test]
async fn the_adapter_hands_on_types_texts_confidences_and_normalised_dates() {
    let rule = mock!(Client::analyze_id).then_output(|| analyze_id_output(&[&ALICE]));
    let response = analyze(rule).await.expect("AnalyzeID answered");
    let [document] = response.identity_documents.as_slice() else { panic!("one document: {response:?}") };
    assert_eq!(document.identity_document_fields.len(), ALICE.len());
    for (field, &(kind, text, confidence)) in document.identity_document_fields.iter().zip(&ALICE) {
        assert_eq!(field.field_type.as_ref().map(|t| t.text.as_str()), Some(kind));
        let value = field.value_detection.as_ref().expect("a value");
        assert_eq!((value.text.as_str(), value.confidence), (text, confidence), "{kind}");
        let normalised_value = value.normalized_value.as_ref().map(|n| n.value.clone());
        let expected = DATE_TYPES.contains(&kind).then(|| normalised(text));
        assert_eq!(normalised_value, expected, "{kind}");
    }
}

#[tokio::test]
async fn fields_that_come_back_empty_read_as_none() {
    for kind in READ_TYPES {
        let fields = alice_with(&[(kind, "", 99.37)]);
        assert_eq!(read(analyze_id_output(&[&fields])).await, alice_reading_without(kind), "{kind} empty");
    }
}

#[tokio::test]
async fn fields_read_with_low_confidence_read_as_none() {
    for kind in READ_TYPES {
        let unsure = alice_with(&[(kind, text_of(kind), 79.99)]);
        assert_eq!(read(analyze_id_output(&[&unsure])).await, alice_reading_without(kind), "{kind} at 79.99");
        let sure_enough = alice_with(&[(kind, text_of(kind), 80.0)]);
        assert_eq!(read(analyze_id_output(&[&sure_enough])).await, alice_reading(), "{kind} at 80");
    }
}

#[tokio::test]
async fn two_documents_in_one_answer_read_as_nothing() {
    let bob = alice_with(&[("FIRST_NAME", "BOB", 98.2), ("DOCUMENT_NUMBER", "B765-4321", 97.4)]);
    let rule = mock!(Client::analyze_id).then_output(move || analyze_id_output(&[&ALICE, &bob]));
    let response = analyze(rule).await.expect("AnalyzeID answered");
    assert_eq!(response.identity_documents.len(), 2, "the adapter keeps both documents");
    assert_eq!(read_license(&response), LicenseReading::default());
}

#[tokio::test]
async fn the_request_names_the_bucket_and_key_as_an_s3_object() {
    let seen = Arc::new(Mutex::new(Vec::<AnalyzeIdInput>::new()));
    let rule = mock!(Client::analyze_id).then_compute_output({
        let seen = Arc::clone(&seen);
        move |input| {
            seen.lock().unwrap().push(input.clone());
            analyze_id_output(&[&ALICE])
        }
    });
    analyze(rule).await.expect("AnalyzeID answered");

    let expected = AnalyzeIdInput::builder()
        .document_pages(
            Document::builder().s3_object(S3Object::builder().bucket(BUCKET).name(KEY).build()).build(),
        )
        .build()
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), [expected], "one page, by S3 object, no bytes, no version");
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Read,
    Unreadable,
    Unavailable,
}

fn outcome(result: &Result<AnalyzeIdResponse, OcrError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Read,
        Err(OcrError::Unreadable(_)) => Outcome::Unreadable,
        Err(OcrError::Unavailable(_)) => Outcome::Unavailable,
    }
}

/// A modeled AnalyzeID error as the SDK's deserializer builds it (code and message in the
/// metadata too, which the retry classifier reads).
macro_rules! service_error {
    ($variant:ident) => {{
        let (code, message) = (stringify!($variant), concat!("stubbed ", stringify!($variant)));
        AnalyzeIDError::$variant(
            error::$variant::builder()
                .code(code)
                .message(message)
                .meta(ErrorMetadata::builder().code(code).message(message).build())
                .build(),
        )
    }};
}

#[tokio::test]
async fn service_errors_are_unreadable_or_unavailable() {
    let cases: [(fn() -> AnalyzeIDError, Outcome); 10] = [
        (|| service_error!(ThrottlingException), Outcome::Unavailable),
        (|| service_error!(ProvisionedThroughputExceededException), Outcome::Unavailable),
        (|| service_error!(InternalServerError), Outcome::Unavailable),
        (|| service_error!(AccessDeniedException), Outcome::Unavailable),
        (|| service_error!(InvalidParameterException), Outcome::Unavailable),
        (
            || AnalyzeIDError::generic(ErrorMetadata::builder().code("ServiceUnavailable").build()),
            Outcome::Unavailable,
        ),
        (|| service_error!(UnsupportedDocumentException), Outcome::Unreadable),
        (|| service_error!(BadDocumentException), Outcome::Unreadable),
        (|| service_error!(DocumentTooLargeException), Outcome::Unreadable),
        (|| service_error!(InvalidS3ObjectException), Outcome::Unavailable),
    ];
    for (error, expected) in cases {
        let code = error().meta().code().unwrap_or_default().to_owned();
        let result = analyze(mock!(Client::analyze_id).then_error(error)).await;
        assert_eq!(outcome(&result), expected, "{code}: {result:?}");
        let Err(e) = result else { unreachable!() };
        assert!(e.to_string().contains(&code), "the detail names the error: {e}");
    }
}

/// With the SDK's standard retries (as in production, backoff shortened), a throttled call is
/// tried three times and still ends as `Unavailable`.
#[tokio::test]
async fn retries_then_gives_up() {
    let rule = mock!(Client::analyze_id).then_error(|| service_error!(ThrottlingException));
    let retrying =
        RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1));
    let client =
        mock_client!(aws_sdk_textract, RuleMode::MatchAny, [&rule], |c| c.retry_config(retrying.clone()));
    let result = TextractOcr::new(client, BUCKET.to_owned()).analyze(KEY).await;
    assert_eq!(outcome(&result), Outcome::Unavailable, "{result:?}");
    assert_eq!(rule.num_calls(), 3, "the SDK retried throttling");
}

/// An AnalyzeID HTTP answer as recorded off the wire.
fn http_answer(status: u16, body: &'static str) -> HttpResponse {
    let mut response = HttpResponse::new(status.try_into().expect("a status code"), body.into());
    response.headers_mut().insert("content-type", "application/x-amz-json-1.1");
    response.headers_mut().insert("x-amzn-requestid", "0c5e6d1a-3f4b-4c2d-9e8f-7a6b5c4d3e2f");
    response
}

/// Alice's license as AnalyzeID's JSON spells it, `Blocks` (the page's text) included.
const ALICE_JSON: &str = r#"{
  "IdentityDocuments": [{
    "DocumentIndex": 1,
    "IdentityDocumentFields": [
      {"Type": {"Text": "FIRST_NAME"}, "ValueDetection": {"Text": "ALICE", "Confidence": 98.91}},
      {"Type": {"Text": "LAST_NAME"}, "ValueDetection": {"Text": "EXAMPLE", "Confidence": 98.47}},
      {"Type": {"Text": "MIDDLE_NAME"}, "ValueDetection": {"Text": "", "Confidence": 99.24}},
      {"Type": {"Text": "SUFFIX"}, "ValueDetection": {"Text": "", "Confidence": 99.39}},
      {"Type": {"Text": "CITY_IN_ADDRESS"}, "ValueDetection": {"Text": "SEATTLE", "Confidence": 97.83}},
      {"Type": {"Text": "STATE_IN_ADDRESS"}, "ValueDetection": {"Text": "WA", "Confidence": 98.61}},
      {"Type": {"Text": "STATE_NAME"}, "ValueDetection": {"Text": "WASHINGTON", "Confidence": 98.92}},
      {"Type": {"Text": "DOCUMENT_NUMBER"}, "ValueDetection": {"Text": "D123-4567", "Confidence": 96.43}},
      {"Type": {"Text": "EXPIRATION_DATE"}, "ValueDetection": {"Text": "01/31/2029",
        "NormalizedValue": {"Value": "2029-01-31T00:00:00", "ValueType": "Date"}, "Confidence": 97.72}},
      {"Type": {"Text": "DATE_OF_BIRTH"}, "ValueDetection": {"Text": "03/14/2001",
        "NormalizedValue": {"Value": "2001-03-14T00:00:00", "ValueType": "Date"}, "Confidence": 98.13}},
      {"Type": {"Text": "DATE_OF_ISSUE"}, "ValueDetection": {"Text": "01/31/2021",
        "NormalizedValue": {"Value": "2021-01-31T00:00:00", "ValueType": "Date"}, "Confidence": 97.31}},
      {"Type": {"Text": "ID_TYPE"}, "ValueDetection": {"Text": "DRIVER LICENSE FRONT", "Confidence": 99.02}},
      {"Type": {"Text": "CLASS"}, "ValueDetection": {"Text": "C", "Confidence": 95.65}}
    ],
    "Blocks": [
      {"BlockType": "PAGE", "Id": "6b5e2a3c-1d4f-4e8a-9b7c-0f1e2d3c4b5a",
       "Geometry": {"BoundingBox": {"Width": 1.0, "Height": 1.0, "Left": 0.0, "Top": 0.0},
                    "Polygon": [{"X": 0.0, "Y": 0.0}, {"X": 1.0, "Y": 0.0}, {"X": 1.0, "Y": 1.0}, {"X": 0.0, "Y": 1.0}]},
       "Relationships": [{"Type": "CHILD", "Ids": ["9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"]}]},
      {"BlockType": "LINE", "Id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "Confidence": 99.51, "Text": "WASHINGTON",
       "Geometry": {"BoundingBox": {"Width": 0.31, "Height": 0.05, "Left": 0.05, "Top": 0.04},
                    "Polygon": [{"X": 0.05, "Y": 0.04}, {"X": 0.36, "Y": 0.04}, {"X": 0.36, "Y": 0.09}, {"X": 0.05, "Y": 0.09}]}}
    ]
  }],
  "DocumentMetadata": {"Pages": 1},
  "AnalyzeIDModelVersion": "1.0"
}"#;

#[tokio::test]
async fn a_recorded_json_answer_goes_through_the_sdks_deserializer() {
    let rule = mock!(Client::analyze_id).then_http_response(|| http_answer(200, ALICE_JSON));
    let response = analyze(rule).await.expect("AnalyzeID answered");
    assert_eq!(read_license(&response), alice_reading());
}

#[tokio::test]
async fn recorded_json_errors_are_unreadable_or_unavailable() {
    let cases = [
        (
            400,
            r#"{"__type":"ThrottlingException","Code":"ThrottlingException","Message":"Slow down"}"#,
            Outcome::Unavailable,
        ),
        (
            400,
            r#"{"__type":"ProvisionedThroughputExceededException","Code":"ProvisionedThroughputExceededException","Message":"Provisioned rate exceeded"}"#,
            Outcome::Unavailable,
        ),
        (
            500,
            r#"{"__type":"InternalServerError","Code":"InternalServerError","Message":"Internal server error"}"#,
            Outcome::Unavailable,
        ),
        (
            400,
            r#"{"__type":"AccessDeniedException","Message":"User is not authorized to perform: textract:AnalyzeID"}"#,
            Outcome::Unavailable,
        ),
        (
            503,
            r#"{"__type":"ServiceUnavailableException","Message":"Service unavailable"}"#,
            Outcome::Unavailable,
        ),
        // A garbled answer is no verdict on the document.
        (200, r#"{"IdentityDocuments": [{"DocumentIndex": "one"}]}"#, Outcome::Unavailable),
        (
            400,
            r#"{"__type":"UnsupportedDocumentException","Code":"UnsupportedDocumentException","Message":"Request has unsupported document format"}"#,
            Outcome::Unreadable,
        ),
        (
            400,
            r#"{"__type":"BadDocumentException","Code":"BadDocumentException","Message":"Request has invalid image format"}"#,
            Outcome::Unreadable,
        ),
        (
            400,
            r#"{"__type":"DocumentTooLargeException","Code":"DocumentTooLargeException","Message":"S3 object size 11534336 is more than the maximum limit 10485760"}"#,
            Outcome::Unreadable,
        ),
        (
            400,
            r#"{"__type":"InvalidS3ObjectException","Code":"InvalidS3ObjectException","Message":"Unable to get object metadata from S3. Check object key, region and/or access permissions."}"#,
            Outcome::Unavailable,
        ),
    ];
    for (status, body, expected) in cases {
        let result =
            analyze(mock!(Client::analyze_id).then_http_response(move || http_answer(status, body))).await;
        assert_eq!(outcome(&result), expected, "{status} {body}: {result:?}");
    }
}
