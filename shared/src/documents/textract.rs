//! License OCR by Textract AnalyzeID on the uploaded S3 object. Documents Textract cannot read
//! become `Unreadable` (the scan answers `needs_review`); throttling, service failures and an
//! object Textract cannot fetch become `Unavailable` (a clean 503), never an internal error.

use super::{LicenseOcr, OcrError};
use crate::domain::analyze_id::{
    AnalyzeIdResponse, DocumentField, FieldType, IdentityDocument, NormalizedValue, ValueDetection,
};
use async_trait::async_trait;
use aws_sdk_textract::operation::analyze_id::{AnalyzeIDError, AnalyzeIdOutput};
use aws_sdk_textract::types::{AnalyzeIdDetections, Document, S3Object};

pub struct TextractOcr {
    client: aws_sdk_textract::Client,
    bucket: String,
}

impl TextractOcr {
    pub fn new(client: aws_sdk_textract::Client, bucket: String) -> Self {
        TextractOcr { client, bucket }
    }
}

#[async_trait]
impl LicenseOcr for TextractOcr {
    async fn analyze(&self, key: &str) -> Result<AnalyzeIdResponse, OcrError> {
        let document =
            Document::builder().s3_object(S3Object::builder().bucket(&self.bucket).name(key).build()).build();
        match self.client.analyze_id().document_pages(document).send().await {
            Ok(output) => Ok(from_output(&output)),
            Err(e) => {
                let detail = format!("{}", aws_sdk_textract::error::DisplayErrorContext(&e));
                match e.as_service_error() {
                    Some(
                        AnalyzeIDError::UnsupportedDocumentException(_)
                        | AnalyzeIDError::BadDocumentException(_)
                        | AnalyzeIDError::DocumentTooLargeException(_),
                    ) => Err(OcrError::Unreadable(detail)),
                    // The scan has just read the object, so Textract failing to is configuration
                    // (its access to the bucket, a region mismatch): an outage, not a bad photo.
                    _ => Err(OcrError::Unavailable(detail)),
                }
            }
        }
    }
}

/// The SDK's answer in the shape the reader takes (the same as AnalyzeID's JSON).
fn from_output(output: &AnalyzeIdOutput) -> AnalyzeIdResponse {
    let detection = |d: &AnalyzeIdDetections| ValueDetection {
        text: d.text().to_owned(),
        confidence: d.confidence().unwrap_or(0.0),
        normalized_value: d
            .normalized_value()
            .and_then(|n| n.value())
            .map(|value| NormalizedValue { value: value.to_owned() }),
    };
    AnalyzeIdResponse {
        identity_documents: output
            .identity_documents()
            .iter()
            .map(|document| IdentityDocument {
                identity_document_fields: document
                    .identity_document_fields()
                    .iter()
                    .map(|field| DocumentField {
                        field_type: field.r#type().map(|t| FieldType { text: t.text().to_owned() }),
                        value_detection: field.value_detection().map(detection),
                    })
                    .collect(),
            })
            .collect(),
    }
}
