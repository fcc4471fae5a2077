//! The HTTP side of an error: an [`ApiError`] carries a stable [`ErrorCode`] (the contract's,
//! `madoguchi_api::error`, which the kiosk branches on) with the message and field of the reply
//! it becomes.

use madoguchi_api::error::{ErrorBody, ErrorCode};
use madoguchi_api::municipality::ConfigError;

/// An error on its way to becoming a reply.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), field: None }
    }
    pub fn field(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        ApiError { code, message: format!("{field}: {message}"), field: Some(field) }
    }
    pub fn body(&self) -> ErrorBody {
        ErrorBody { code: self.code, message: self.message.clone(), field: self.field.clone() }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

/// A refused municipality configuration is `invalid_config`, naming the field.
impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        ApiError::field(ErrorCode::InvalidConfig, e.field, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_api::municipality::MunicipalityConfig;

    #[test]
    fn invalid_config_is_its_code_and_names_the_field() {
        let mut c = MunicipalityConfig::standard("横浜市長", "山中　竹春");
        c.documents.get_mut("juminhyo").unwrap().fee_yen = -1;
        let e = ApiError::from(c.validate().unwrap_err());
        assert_eq!(e.field.as_deref(), Some("documents.juminhyo.fee_yen"));
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert_eq!(e.message, "documents.juminhyo.fee_yen: -1 is not a fee (0–100000 yen)");
    }
}
