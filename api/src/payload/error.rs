//! Why a payload cannot be printed, naming the field and never its value.

use super::{FORMAT, MAX_PAYLOAD_BYTES};

/// Why a payload cannot be printed. Messages name fields (`body.persons[1].birth_date`), never
/// their values, so that the error may be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the document payload is {0} bytes, more than {MAX_PAYLOAD_BYTES}")]
    TooLarge(usize),
    #[error("the document payload does not have the expected form at {path}: {reason}")]
    Malformed { path: String, reason: String },
    #[error("document payload format {0} is not the one this kiosk reads ({FORMAT})")]
    UnsupportedFormat(u32),
    #[error("{field} is missing, and the document cannot be printed without it")]
    Missing { field: String },
    #[error("{field} {why}")]
    Invalid { field: String, why: &'static str },
    #[error("{field} does not agree with {with}")]
    Inconsistent { field: String, with: &'static str },
}

/// The class of a [`PayloadError`], for audit records and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadErrorKind {
    TooLarge,
    Malformed,
    UnsupportedFormat,
    Missing,
    Invalid,
    Inconsistent,
}

impl PayloadError {
    pub fn kind(&self) -> PayloadErrorKind {
        match self {
            PayloadError::TooLarge(_) => PayloadErrorKind::TooLarge,
            PayloadError::Malformed { .. } => PayloadErrorKind::Malformed,
            PayloadError::UnsupportedFormat(_) => PayloadErrorKind::UnsupportedFormat,
            PayloadError::Missing { .. } => PayloadErrorKind::Missing,
            PayloadError::Invalid { .. } => PayloadErrorKind::Invalid,
            PayloadError::Inconsistent { .. } => PayloadErrorKind::Inconsistent,
        }
    }

    /// The field the error is about (`binding.copies`), or `""` for the payload as a whole.
    pub fn field(&self) -> &str {
        match self {
            PayloadError::Malformed { path, .. } => path,
            PayloadError::Missing { field } | PayloadError::Invalid { field, .. } => field,
            PayloadError::Inconsistent { field, .. } => field,
            PayloadError::TooLarge(_) | PayloadError::UnsupportedFormat(_) => "",
        }
    }

    pub fn invalid(field: impl Into<String>, why: &'static str) -> PayloadError {
        PayloadError::Invalid { field: field.into(), why }
    }

    pub fn missing(field: impl Into<String>) -> PayloadError {
        PayloadError::Missing { field: field.into() }
    }

    pub fn inconsistent(field: impl Into<String>, with: &'static str) -> PayloadError {
        PayloadError::Inconsistent { field: field.into(), with }
    }
}

/// serde_json's message without the offending value (which may be the resident's data): field
/// and variant names are the schema's and stay; a value of the wrong type is only described.
pub(super) fn sanitized(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("not well-formed JSON (line {}, column {})", e.line(), e.column())
        }
        Category::Data => {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or_default();
            let names_only = ["unknown field", "missing field", "duplicate field", "unknown variant"];
            if names_only.iter().any(|p| msg.starts_with(p)) && msg.chars().count() <= 300 {
                msg.to_string()
            } else {
                "a value of the wrong type or out of range".to_string()
            }
        }
    }
}
