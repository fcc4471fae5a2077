//! Request and reply bodies of the `/v1` API, one definition for the backend that serves them
//! and the kiosk that calls it. Every type refuses unknown fields. The backend's OpenAPI document
//! is generated from these types (feature `openapi`); the kiosk checks every reply it reads
//! with the `validate` next to its type ([`validate`]).

mod validate;

#[cfg(test)]
mod tests;

pub use validate::{InvalidReply, SIGNATURE_SCHEME};

use crate::municipality::MunicipalityConfig;
use crate::signed::SignedBlob;
use crate::DocumentKind;
use serde::{Deserialize, Serialize};

/// The version of this contract. A kiosk refuses a backend that speaks another (`GET /v1/info`):
/// raise it with every change a kiosk of the previous build could misread.
pub const API_VERSION: u32 = 1;

/// How a backend is deployed. One instance on its own database (SQLite) may keep state in
/// process; several instances share one (PostgreSQL) and must not. A site that runs one mode
/// with a build or configuration made for the other hands residents each other's documents
/// (Takamatsu 2024: a multi-server site given the single-server build), so kiosk and backend
/// both state it and the kiosk refuses a mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Deployment {
    /// One backend instance (SQLite).
    Single,
    /// Several instances on one shared database (PostgreSQL).
    Multi,
}

impl Deployment {
    pub fn as_str(self) -> &'static str {
        match self {
            Deployment::Single => "single",
            Deployment::Multi => "multi",
        }
    }
}

/// `GET /v1/info`: what the backend is, for the kiosk's start-up check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServiceInfo {
    /// [`API_VERSION`] of the backend's build.
    pub api_version: u32,
    pub deployment: Deployment,
    /// The backend's package version (for the operator's message only).
    pub build: String,
}

/// `POST /v1/sessions`: a new session and its challenge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChallengeReply {
    /// Chosen by the server; every later request of this resident names it.
    pub session_id: String,
    /// A madoguchi challenge ([`crate::challenge`]: domain tag, `authenticate`, this kiosk's
    /// id, 32 random bytes), base64. The card signs SHA-256 of these bytes (PKCS#1 v1.5
    /// DigestInfo) once the kiosk has checked the tag, purpose and kiosk id.
    pub challenge: String,
    /// RFC 3339, at most 30 s on; after it the challenge is refused (`challenge_expired`).
    pub challenge_expires_at: String,
    /// Always `RSASSA-PKCS1-v1_5-SHA256`.
    pub signature_scheme: String,
}

/// `POST /v1/sessions/{session_id}/authenticate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuthenticateRequest {
    /// The user-authentication certificate (EF 000A), DER, base64.
    pub certificate: String,
    /// The card's signature over the challenge, base64 (256 bytes for RSA-2048).
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuthenticateReply {
    pub session_id: String,
    /// RFC 3339; the session's issuances must be requested before this.
    pub session_expires_at: String,
    /// SHA-256 of the certificate DER, hex: every document of this session is bound to it.
    pub certificate_fingerprint: String,
    /// The certificate's last day of validity (RFC 3339).
    pub certificate_not_after: String,
    /// The resident's name, for the greeting.
    pub holder_name: String,
}

/// A person the resident may choose on a document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PersonChoice {
    pub id: String,
    pub name: String,
    /// 続柄 as it would be printed (世帯主, 妻, 子 …; for 戸籍, the 戸籍 relationship).
    pub relationship: String,
    /// True for the resident themself.
    pub is_self: bool,
}

/// One document the resident may get now.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Offer {
    pub municipality_code: String,
    pub municipality_name: String,
    /// `residence` (住所地) or `honseki` (本籍地).
    pub route: String,
    pub document: DocumentKind,
    /// The document's Japanese title.
    pub title: String,
    pub fee_yen: i64,
    pub max_copies: i64,
    /// Options the resident may switch on (e.g. `setainushi`, `honseki`, `kojin_bango`).
    pub options: Vec<String>,
    /// People who may appear on it; empty when the document is about the resident alone or a
    /// whole 戸籍.
    pub persons: Vec<PersonChoice>,
    /// Fiscal years on offer (課税証明書), newest first; empty otherwise.
    pub years: Vec<i32>,
}

/// A document the municipality enables but that the resident cannot get now, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Unavailable {
    pub municipality_code: String,
    pub document: DocumentKind,
    /// `closed_day`, `outside_service_hours`, `not_eligible`, `no_record`, `restricted`,
    /// `unprintable` (the record holds a character the kiosk cannot print: the counter).
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NoticeOut {
    pub municipality_code: String,
    pub text: String,
}

/// `GET /v1/sessions/{session_id}/offers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OffersReply {
    pub session_id: String,
    /// The moment the offers were computed for (RFC 3339, +09:00).
    pub at: String,
    pub catalog_version: i64,
    pub offers: Vec<Offer>,
    pub unavailable: Vec<Unavailable>,
    pub notices: Vec<NoticeOut>,
}

/// `POST /v1/sessions/{session_id}/issuances`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IssuanceRequest {
    pub municipality_code: String,
    pub document: DocumentKind,
    /// Options to switch on; each must be in the offer.
    #[serde(default)]
    pub options: Vec<String>,
    /// Person ids from the offer; empty means the resident alone.
    #[serde(default)]
    pub persons: Vec<String>,
    /// Fiscal year (課税証明書 only).
    #[serde(default)]
    pub year: Option<i32>,
    pub copies: i64,
    /// What the kiosk collected; must equal fee × copies.
    pub paid_yen: i64,
    /// The cash unit's transaction reference.
    pub payment_reference: String,
    /// Chosen by the kiosk, unique per kiosk: a repeat with the same key returns the same issuance.
    pub idempotency_key: String,
}

/// The issuance and its signed document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IssuanceReply {
    pub issuance_number: String,
    /// `issued` (waiting for the outcome), `printed` or `voided`.
    pub status: String,
    pub fee_yen: i64,
    pub copies: i64,
    pub total_yen: i64,
    pub issued_at: String,
    /// The document data: `payload` is the JSON text of a `DocumentPayload`, signed by the
    /// backend and bound to the session id and the certificate fingerprint. Check the binding
    /// before printing.
    pub document: SignedBlob,
}

/// `POST /v1/sessions/{session_id}/issuances/{number}/outcome`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OutcomeRequest {
    /// `printed`, `failed`, `printing` or `refunded`.
    pub outcome: OutcomeKind,
    /// Why it failed (printer fault, paper out …); required for `failed`.
    #[serde(default)]
    pub reason: Option<String>,
    /// `refunded`: the cash the kiosk paid back for the voided issuance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_yen: Option<i64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The printer confirmed the document. After the issuance was voided for want of an
    /// outcome (the kiosk printed but was offline), it is recorded as `printed_late`: the paper
    /// is valid, the refund is cancelled, and an alert is raised.
    Printed,
    Failed,
    /// The kiosk is still printing it: renews its lease (`outcome_timeout_s` from now), during
    /// which nothing voids it. The issuance stays `issued`.
    Printing,
    /// The kiosk paid the refund of a voided issuance back in cash (`refunded_yen`): the refund
    /// is `paid_at_kiosk`, no longer `due`.
    Refunded,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OutcomeReply {
    pub issuance_number: String,
    /// `printed`, `printed_late`, `voided` or (after `printing`) `issued`.
    pub status: String,
    /// Amount marked for refund (0 when printed).
    pub refund_yen: i64,
}

/// `DELETE /v1/sessions/{session_id}`: issuances still waiting for an outcome are voided.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CloseReply {
    pub session_id: String,
    pub voided: Vec<String>,
}

/// `GET /v1/verify/{issuance_number}?code=...`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifyReply {
    pub issuance_number: String,
    pub genuine: bool,
    pub document: DocumentKind,
    pub title: String,
    pub municipality_code: String,
    pub municipality_name: String,
    /// Date of issue (YYYY-MM-DD, Japan time).
    pub issued_on: String,
    pub holder_name: String,
    /// `valid` or `voided` (a voided document must not be accepted).
    pub status: String,
    /// SHA-256 of the signed payload, hex (matches what the kiosk printed from).
    pub payload_sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SettlementLine {
    pub municipality_code: String,
    pub document: DocumentKind,
    pub issuances: i64,
    pub copies_printed: i64,
    pub printed: i64,
    pub voided: i64,
    /// Still waiting for an outcome.
    pub pending: i64,
    pub charged_yen: i64,
    pub refunded_yen: i64,
    pub net_yen: i64,
}

/// `GET /v1/settlement?date=YYYY-MM-DD`: the requesting kiosk's store, one day (Japan time).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SettlementReply {
    pub store: String,
    pub date: String,
    pub lines: Vec<SettlementLine>,
    pub charged_yen: i64,
    pub refunded_yen: i64,
    pub net_yen: i64,
    /// Voided issuances whose refund is due.
    pub refunds_due: Vec<String>,
}

/// The catalog as signed (the `payload` of `GET /v1/catalog`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub format: u32,
    /// Grows with every configuration change; a kiosk never goes back to a lower one.
    pub version: i64,
    pub issued_at: String,
    pub municipalities: Vec<CatalogMunicipality>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CatalogMunicipality {
    pub code: String,
    pub name: String,
    pub prefecture: String,
    pub config_version: i64,
    pub config: MunicipalityConfig,
}

/// `GET`/`PUT /v1/admin/municipalities/{code}/config`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigReply {
    pub code: String,
    pub name: String,
    pub config_version: i64,
    pub catalog_version: i64,
    pub config: MunicipalityConfig,
}

// ---------------------------------------------------------------------------------------------
// PIN reset (reference/jpki.md, "PIN reset at the kiosk: our protocol (v1)")

/// `POST /v1/pin-reset/reservations` (an administrator of the resident's municipality): what
/// the phone app's reservation stands in for. Name the resident or one of the card's
/// certificates (SHA-256 of its DER, hex).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_fingerprint: Option<String>,
    pub credential: crate::ResetCredential,
    /// RFC 3339; when the resident reserved (default: now; never in the future).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_at: Option<String>,
}

/// A reservation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    /// Usable until `expires_at`.
    Live,
    /// A kiosk reset the credential with it (single use).
    Used,
    /// Past `expires_at` unused.
    Expired,
    Cancelled,
}

/// One reservation, as the administration endpoints and the CLI show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    pub id: String,
    pub resident: String,
    pub credential: crate::ResetCredential,
    /// SHA-256 of the card's user-authentication certificate, hex: the card it is for.
    pub card_fingerprint: String,
    pub reserved_at: String,
    pub expires_at: String,
    pub state: ReservationState,
    /// When a kiosk used it, or it was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

/// `GET /v1/pin-reset/reservations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReservationList {
    pub reservations: Vec<Reservation>,
}

/// `POST /v1/pin-reset/sessions` (a kiosk), sent as soon as the card is read: the reservation
/// and the certificates are checked before any password try is risked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetOpenRequest {
    pub credential: crate::ResetCredential,
    /// The card's user-authentication certificate (EF 000A, free to read), DER, base64.
    pub auth_certificate: String,
}

/// The reset session and the challenge the card signs with the *other* credential's key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetOpenReply {
    pub session_id: String,
    /// A madoguchi challenge ([`crate::challenge`]: domain tag, `pin-reset`, this kiosk's id,
    /// 32 random bytes), base64; the card signs SHA-256 of them (PKCS#1 v1.5 DigestInfo).
    pub challenge: String,
    pub challenge_expires_at: String,
    /// Always `RSASSA-PKCS1-v1_5-SHA256`.
    pub signature_scheme: String,
    /// The reservation's last moment (told to the resident if the reset is interrupted).
    pub reservation_expires_at: String,
}

/// `POST /v1/pin-reset/sessions/{session_id}/authenticate`: the proving credential's
/// certificate (the signature certificate, EF 0001, for an auth-PIN reset; the
/// user-authentication certificate for a signature-password reset) and its key's signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetAuthenticateRequest {
    pub certificate: String,
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetAuthenticateReply {
    pub session_id: String,
    /// RFC 3339; authorisations are given until then.
    pub session_expires_at: String,
}

/// `POST /v1/pin-reset/sessions/{session_id}/authorisation`: the card's GET CHALLENGE answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetAuthorisationRequest {
    /// 8 bytes, base64.
    pub card_challenge: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetAuthorisationReply {
    /// The card-management key's Ed25519 signature over the protocol's message, 64 bytes, base64.
    pub authorisation: String,
}

/// `POST /v1/pin-reset/sessions/{session_id}/outcome`: what the card answered. Only `reset`
/// uses the reservation up; the new value never reaches the backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetOutcomeRequest {
    pub outcome: ResetOutcomeKind,
    /// Why not (a failure code id, a status word); never a PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResetOutcomeKind {
    /// RESET RETRY COUNTER answered `9000` and the empty VERIFY showed a full counter.
    Reset,
    /// Not reset (card pulled, card refused, resident cancelled): the reservation stays usable.
    NotReset,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetOutcomeReply {
    pub session_id: String,
    /// The reservation after the outcome (`used` after a reset, else `live` or `expired`).
    pub reservation_state: ReservationState,
}
