//! The signed document data (`IssuanceReply.document.payload`, format 1): what the backend
//! builds from the registry and the kiosk prints. One definition for both sides, with the checks
//! a payload must pass before anything is printed from it ([`DocumentPayload::parse`]).
//!
//! A bad payload is a [`PayloadError`] that names the field, never its value (the value is the
//! resident's data), and never a panic.

mod error;
pub mod fields;
mod validate;

#[cfg(test)]
mod tests;

pub use error::{PayloadError, PayloadErrorKind};

use crate::binding::{BindingFields, BindingMismatch, Expected};
use crate::DocumentKind;
use serde::{Deserialize, Serialize};

/// The payload format this crate reads and writes.
pub const FORMAT: u32 = 1;

/// Largest payload accepted (a scanned 印影 is at most 256 KiB, base64 a third more).
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Most persons on one document (the backend takes at most 50 in a request).
pub const MAX_PERSONS: usize = 50;

/// Largest scanned 印影 (PNG bytes), as the backend's configuration allows for seals.
pub const MAX_SEAL_PNG: usize = 256 * 1024;

/// What the signature binds the document to. The kiosk prints only if `session_id` and
/// `certificate_fingerprint` are its own session's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub session_id: String,
    pub certificate_fingerprint: String,
    pub kiosk_id: String,
    pub issuance_number: String,
    pub issued_at: String,
    pub document: DocumentKind,
    pub copies: i64,
}

impl Binding {
    pub fn fields(&self) -> BindingFields<'_> {
        BindingFields {
            session_id: &self.session_id,
            certificate_fingerprint: &self.certificate_fingerprint,
            kiosk_id: &self.kiosk_id,
            issuance_number: &self.issuance_number,
            document: self.document.id(),
            copies: self.copies,
        }
    }

    /// Whether this is the binding `expected` (see [`crate::binding::check`]).
    pub fn check(&self, expected: &Expected<'_>) -> Result<(), BindingMismatch> {
        crate::binding::check(self.fields(), expected)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IssuerInfo {
    pub code: String,
    pub name: String,
    pub prefecture: String,
    /// e.g. `横浜市長`.
    pub issuer_title: String,
    pub issuer_name: String,
    /// SHA-256 of the seal PNG in the catalog (hex), if the municipality has one.
    pub seal_sha256: Option<String>,
}

/// The signed document data (`IssuanceReply.document.payload`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DocumentPayload {
    pub format: u32,
    pub binding: Binding,
    pub municipality: IssuerInfo,
    /// The title as printed, in the municipality's words.
    pub title: String,
    /// `YYYY-MM-DD` (JST).
    pub issued_on: String,
    /// e.g. `令和7年6月1日`.
    pub issued_on_era: String,
    /// The certification sentence printed above the issuer.
    pub certification: String,
    /// After the last item of the last page (以下余白).
    pub end_note: String,
    /// After the last item of a page that continues (以下次頁).
    pub continued_note: String,
    /// 住民票: the line naming the items left off (（世帯主・続柄・個人番号　省略）).
    pub omitted_note: Option<String>,
    /// The URL for the QR code (`GET /v1/verify/{number}?code=...`).
    pub verify_url: String,
    /// The code in that URL, to print next to the number.
    pub verification_code: String,
    pub body: DocumentBody,
}

/// The body is the resident's data: never in Debug output.
impl std::fmt::Debug for DocumentPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentPayload")
            .field("format", &self.format)
            .field("binding", &self.binding)
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PersonRecord {
    pub id: String,
    pub name: String,
    pub name_kana: String,
    pub birth_date: String,
    pub sex: String,
    /// 続柄 (with the `setainushi` option, or on 戸籍 documents).
    pub relationship: Option<String>,
    pub became_resident_on: Option<String>,
    pub address_since: Option<String>,
    pub previous_address: Option<String>,
    /// With the `honseki` option.
    pub honseki: Option<String>,
    pub hittousha: Option<String>,
    /// With the `kojin_bango` option.
    pub my_number: Option<String>,
    pub nationality: Option<String>,
    pub residence_status: Option<String>,
    pub residence_period_end: Option<String>,
    pub father: Option<String>,
    pub mother: Option<String>,
    /// 住民票コード (with the `juminhyo_code` option).
    #[serde(default)]
    pub resident_code: Option<String>,
    /// 届出日 of the move to the current address.
    #[serde(default)]
    pub notified_on: Option<String>,
    /// Foreign residents: 第30条の45に規定する区分, 在留期間 (`1年`), 在留カード等の番号 and 通称.
    #[serde(default)]
    pub residence_category: Option<String>,
    #[serde(default)]
    pub residence_period: Option<String>,
    #[serde(default)]
    pub residence_card_number: Option<String>,
    #[serde(default)]
    pub alias: Option<String>,
    /// 身分事項 (戸籍 documents), oldest first.
    #[serde(default)]
    pub koseki_events: Vec<KosekiEvent>,
}

/// One 身分事項: its kind (出生, 婚姻 …) and its items (`["出生日", "昭和53年5月14日"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KosekiEvent {
    pub kind: String,
    pub items: Vec<[String; 2]>,
}

/// One fiscal year's 課税・所得 record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaxRecord {
    /// The municipality that levied it (residence on 1 January of the fiscal year).
    pub municipality_code: String,
    /// 課税年度 (the certificate's year).
    pub fiscal_year: i32,
    /// 所得年 (fiscal_year − 1).
    pub income_year: i32,
    /// 給与収入.
    pub salary_income: i64,
    /// 公的年金等収入.
    pub pension_income: i64,
    /// 合計所得金額.
    pub total_income: i64,
    /// 課税標準額.
    pub taxable_income: i64,
    /// 市町村民税.
    pub municipal_tax: i64,
    /// 道府県民税.
    pub prefectural_tax: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum DocumentBody {
    /// 住民票の写し and 住民票記載事項証明書.
    #[serde(rename = "juminhyo")]
    Juminhyo {
        address: String,
        /// 世帯主 (with the `setainushi` option).
        household_head: Option<String>,
        whole_household: bool,
        persons: Vec<PersonRecord>,
        options: Vec<String>,
    },
    #[serde(rename = "kisaijiko")]
    Kisaijiko { address: String, persons: Vec<PersonRecord> },
    #[serde(rename = "inkan")]
    Inkan {
        person: PersonRecord,
        address: String,
        registration_number: String,
        registered_on: String,
        /// The characters of the 印影, to be drawn as a round seal of `seal_diameter_mm`.
        seal_impression: String,
        seal_diameter_mm: i64,
        /// A scanned 印影 (base64 PNG) when the register has one.
        seal_png: Option<String>,
    },
    #[serde(rename = "kazei")]
    Kazei { person: PersonRecord, address: String, record: TaxRecord },
    /// 戸籍全部事項証明書 / 個人事項証明書.
    #[serde(rename = "koseki")]
    Koseki {
        honseki: String,
        hittousha: String,
        whole: bool,
        persons: Vec<PersonRecord>,
        /// 戸籍編製日 (`YYYY-MM-DD`).
        #[serde(default)]
        created: Option<String>,
    },
    #[serde(rename = "fuhyo")]
    Fuhyo { honseki: String, hittousha: String, person: PersonRecord, address: String, address_since: Option<String> },
}

impl DocumentBody {
    /// The `kind` tag on the wire (one body kind carries both 戸籍 documents).
    pub fn kind(&self) -> &'static str {
        match self {
            DocumentBody::Juminhyo { .. } => "juminhyo",
            DocumentBody::Kisaijiko { .. } => "kisaijiko",
            DocumentBody::Inkan { .. } => "inkan",
            DocumentBody::Kazei { .. } => "kazei",
            DocumentBody::Koseki { .. } => "koseki",
            DocumentBody::Fuhyo { .. } => "fuhyo",
        }
    }

    /// The body kind that carries a document.
    pub fn kind_of(document: DocumentKind) -> &'static str {
        match document {
            DocumentKind::KosekiZenbu | DocumentKind::KosekiKojin => "koseki",
            other => other.id(),
        }
    }
}

impl DocumentPayload {
    /// The payload text (exactly as signed) as a document that may be printed: the size, the
    /// form (unknown fields refused, so that a payload not fully understood is never printed
    /// half-understood) and every check of [`DocumentPayload::validate`].
    pub fn parse(payload_json: &str) -> Result<DocumentPayload, PayloadError> {
        if payload_json.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge(payload_json.len()));
        }
        let mut de = serde_json::Deserializer::from_str(payload_json);
        let p: DocumentPayload = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| PayloadError::Malformed { path: e.path().to_string(), reason: error::sanitized(e.inner()) })?;
        de.end().map_err(|e| PayloadError::Malformed { path: ".".into(), reason: error::sanitized(&e) })?;
        p.validate()?;
        Ok(p)
    }

    /// The host of the verification URL (`https://HOST/v1/verify/...`); empty if it has none.
    pub fn verify_host(&self) -> &str {
        self.verify_url.strip_prefix("https://").and_then(|r| r.split_once('/')).map_or("", |(host, _)| host)
    }
}

/// Only the binding of a payload, for a reader that checks nothing else (the session, before
/// the printer sees the document).
pub fn binding_of(payload_json: &str) -> Result<Binding, serde_json::Error> {
    #[derive(Deserialize)]
    struct Head {
        binding: Binding,
    }
    serde_json::from_str::<Head>(payload_json).map(|h| h.binding)
}
