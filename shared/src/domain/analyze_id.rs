//! Reading a driver's license out of a Textract AnalyzeID response. The Textract adapter turns
//! the SDK's answer into these types, and the local OCR stand-in parses the same JSON, so both
//! go through one reader. A field counts only when it is non-empty and read with at least
//! `MIN_CONFIDENCE`; AnalyzeID reports absent fields as `""` with high confidence.

use super::name_match::DocumentName;
use serde::Deserialize;
use time::Date;

/// Textract's confidence (0-100) below which a field counts as unread.
pub const MIN_CONFIDENCE: f32 = 80.0;

/// The parts of an AnalyzeID response the reader uses, as AWS's JSON spells them.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AnalyzeIdResponse {
    #[serde(default)]
    pub identity_documents: Vec<IdentityDocument>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityDocument {
    #[serde(default)]
    pub identity_document_fields: Vec<DocumentField>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentField {
    #[serde(rename = "Type")]
    pub field_type: Option<FieldType>,
    pub value_detection: Option<ValueDetection>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldType {
    #[serde(default)]
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValueDetection {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub confidence: f32,
    pub normalized_value: Option<NormalizedValue>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NormalizedValue {
    #[serde(default)]
    pub value: String,
}

/// What a scan could read; `None` for each field it could not read with confidence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LicenseReading {
    pub name: Option<DocumentName>,
    /// Upper-case letters and digits (spaces and dashes removed), as entered numbers are kept.
    pub number: Option<String>,
    pub expires_on: Option<Date>,
}

impl LicenseReading {
    pub fn is_complete(&self) -> bool {
        self.name.is_some() && self.number.is_some() && self.expires_on.is_some()
    }
}

/// Reads the license fields. No document, or more than one (whose license would it be?), reads
/// as nothing.
pub fn read_license(response: &AnalyzeIdResponse) -> LicenseReading {
    let [document] = response.identity_documents.as_slice() else { return LicenseReading::default() };
    let field = |wanted: &str| {
        document
            .identity_document_fields
            .iter()
            .find(|f| f.field_type.as_ref().is_some_and(|t| same_type(&t.text, wanted)))
            .and_then(|f| f.value_detection.as_ref())
            .filter(|v| !v.text.trim().is_empty() && v.confidence >= MIN_CONFIDENCE)
    };
    let text = |wanted: &str| field(wanted).map(|v| v.text.trim().to_owned());
    let name = match (text("FIRST_NAME"), text("LAST_NAME")) {
        (Some(first), Some(last)) => {
            Some(DocumentName { first, middle: text("MIDDLE_NAME").unwrap_or_default(), last })
        }
        _ => None,
    };
    let number = text("DOCUMENT_NUMBER")
        .map(|n| normalise_number(&n))
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()));
    let expires_on = field("EXPIRATION_DATE").and_then(|v| {
        v.normalized_value.as_ref().and_then(|n| iso_date(&n.value)).or_else(|| us_date(&v.text))
    });
    LicenseReading { name, number, expires_on }
}

/// License numbers compare without spaces and dashes, in upper case.
pub fn normalise_number(number: &str) -> String {
    number.chars().filter(|c| !matches!(c, ' ' | '-')).collect::<String>().to_uppercase()
}

/// Field types are read case-insensitively with spaces and underscores alike ("first name").
fn same_type(found: &str, wanted: &str) -> bool {
    found.trim().replace(' ', "_").eq_ignore_ascii_case(wanted)
}

/// `2029-01-31T00:00:00` (a normalised date) or `2029-01-31`.
fn iso_date(text: &str) -> Option<Date> {
    let day = text.get(..10)?;
    Date::parse(day, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// `01/31/2029`, as US licenses print dates, when no normalised value came.
fn us_date(text: &str) -> Option<Date> {
    Date::parse(text.trim(), time::macros::format_description!("[month]/[day]/[year]")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn response(fields: &[(&str, &str, f32)]) -> AnalyzeIdResponse {
        let fields: Vec<serde_json::Value> = fields
            .iter()
            .map(|(t, text, confidence)| {
                let mut value = serde_json::json!({ "Text": text, "Confidence": confidence });
                if *t == "EXPIRATION_DATE" && !text.is_empty() {
                    let (m, rest) = text.split_at(2);
                    let (d, y) = (&rest[1..3], &rest[4..]);
                    value["NormalizedValue"] =
                        serde_json::json!({ "Value": format!("{y}-{m}-{d}T00:00:00"), "ValueType": "Date" });
                }
                serde_json::json!({ "Type": { "Text": t }, "ValueDetection": value })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "IdentityDocuments": [{ "DocumentIndex": 1, "IdentityDocumentFields": fields }],
            "DocumentMetadata": { "Pages": 1 },
            "AnalyzeIDModelVersion": "1.0"
        }))
        .unwrap()
    }

    const GOOD: [(&str, &str, f32); 5] = [
        ("FIRST_NAME", "ALICE", 98.7),
        ("MIDDLE_NAME", "", 99.1),
        ("LAST_NAME", "EXAMPLE", 97.9),
        ("DOCUMENT_NUMBER", "D123-4567", 96.0),
        ("EXPIRATION_DATE", "01/31/2029", 95.5),
    ];

    #[test]
    fn reads_every_field() {
        let reading = read_license(&response(&GOOD));
        assert!(reading.is_complete());
        assert_eq!(
            reading.name,
            Some(DocumentName { first: "ALICE".into(), middle: "".into(), last: "EXAMPLE".into() })
        );
        assert_eq!(reading.number.as_deref(), Some("D1234567"));
        assert_eq!(reading.expires_on, Some(date!(2029 - 01 - 31)));
    }

    #[test]
    fn empty_or_unsure_fields_are_unread() {
        let mut fields = GOOD;
        fields[3] = ("DOCUMENT_NUMBER", "", 99.0);
        assert_eq!(read_license(&response(&fields)).number, None);
        let mut fields = GOOD;
        fields[0] = ("FIRST_NAME", "ALICE", 41.0);
        assert_eq!(read_license(&response(&fields)).name, None);
        let mut fields = GOOD;
        fields[4] = ("EXPIRATION_DATE", "", 99.0);
        assert_eq!(read_license(&response(&fields)).expires_on, None);
    }

    #[test]
    fn field_types_are_read_loosely() {
        let mut fields = GOOD;
        fields[0] = ("first name", "ALICE", 98.0);
        assert!(read_license(&response(&fields)).name.is_some());
    }

    #[test]
    fn no_document_or_two_documents_read_as_nothing() {
        assert_eq!(read_license(&AnalyzeIdResponse::default()), LicenseReading::default());
        let mut two = response(&GOOD);
        two.identity_documents.push(two.identity_documents[0].clone());
        assert_eq!(read_license(&two), LicenseReading::default());
    }
}
