//! Every error reply carries a stable machine-readable `code` and a human `message`.
//!
//! The codes are part of the API: kiosks branch on them, so a code never changes meaning and is
//! never reused. `madoguchi-backend codes` prints this table; the README lists it.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($( $variant:ident = ($code:literal, $status:literal, $doc:literal), )*) => {
        /// A stable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $( #[doc = $doc] $variant, )* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];
            /// The code as it appears on the wire.
            pub fn as_str(self) -> &'static str { match self { $( ErrorCode::$variant => $code, )* } }
            /// The HTTP status that goes with it.
            pub fn status(self) -> u16 { match self { $( ErrorCode::$variant => $status, )* } }
            /// What it means (for the README and `codes`).
            pub fn describe(self) -> &'static str { match self { $( ErrorCode::$variant => $doc, )* } }
            pub fn parse(s: &str) -> Option<ErrorCode> { match s { $( $code => Some(ErrorCode::$variant), )* _ => None } }
        }
    };
}

error_codes! {
    // transport and credentials
    CredentialUnknown = ("credential_unknown", 403, "The client certificate chains to the kiosk CA but belongs to no enrolled kiosk or administrator."),
    CredentialRevoked = ("credential_revoked", 403, "The kiosk or administrator credential has been revoked."),
    Forbidden = ("forbidden", 403, "This credential may not use this endpoint (a kiosk on an administrator path, or the reverse)."),
    WrongMunicipality = ("wrong_municipality", 403, "An administrator asked for a municipality other than its own."),
    // request shape
    MalformedJson = ("malformed_json", 400, "The body is not well-formed JSON, or not a JSON object."),
    UnknownField = ("unknown_field", 400, "The body has a field the API does not define; `field` names it."),
    InvalidField = ("invalid_field", 422, "A field is missing, of the wrong type or out of range; `field` names it."),
    InvalidConfig = ("invalid_config", 422, "Municipality configuration rejected; `field` names the offending field."),
    PayloadTooLarge = ("payload_too_large", 413, "The body exceeds `max_body_bytes`."),
    UnsupportedMediaType = ("unsupported_media_type", 415, "A body was sent without `Content-Type: application/json`."),
    NotFound = ("not_found", 404, "No such endpoint."),
    MethodNotAllowed = ("method_not_allowed", 405, "The endpoint exists but not with this method."),
    // sessions and challenges
    SessionNotFound = ("session_not_found", 404, "No session with this id."),
    SessionKioskMismatch = ("session_kiosk_mismatch", 403, "The session was opened by another kiosk."),
    SessionExpired = ("session_expired", 410, "The authenticated session has expired (`session_ttl_s`)."),
    ChallengeExpired = ("challenge_expired", 410, "The challenge is older than `challenge_ttl_s`; ask for a new one."),
    ChallengeUsed = ("challenge_used", 409, "The challenge has already been answered (it is single-use)."),
    NotAuthenticated = ("not_authenticated", 409, "The session has not been authenticated yet."),
    // the resident's certificate
    CertificateMalformed = ("certificate_malformed", 400, "The certificate is not a decodable X.509 certificate."),
    CertificateWrongProfile = ("certificate_wrong_profile", 422, "Not a JPKI user-authentication certificate (e.g. a signature or CA certificate)."),
    CertificateUntrusted = ("certificate_untrusted", 401, "The certificate does not chain to a pinned JPKI anchor (or is test material where it is not allowed)."),
    CertificateExpired = ("certificate_expired", 401, "The certificate is past its validity."),
    CertificateNotYetValid = ("certificate_not_yet_valid", 401, "The certificate is not valid yet."),
    CertificateRevoked = ("certificate_revoked", 401, "The certificate is revoked on the imported CRL."),
    CertificateSuspended = ("certificate_suspended", 401, "The certificate is on hold (一時保留 / 一時利用停止) on the imported CRL."),
    RevocationUnavailable = ("revocation_unavailable", 503, "No current CRL for the certificate's issuer has been imported; revocation cannot be checked."),
    SignatureInvalid = ("signature_invalid", 401, "The card's signature over the challenge does not verify with the certificate's key."),
    CertificateUnlinked = ("certificate_unlinked", 401, "The certificate is valid but linked to no resident."),
    // offers and issuance
    DocumentNotOffered = ("document_not_offered", 422, "The document is not offered to this resident by this municipality."),
    OutsideServiceHours = ("outside_service_hours", 409, "The document is offered, but not at this time of day or on this day of the week."),
    ClosedDay = ("closed_day", 409, "The municipality's service is closed today."),
    ResidentNotEligible = ("resident_not_eligible", 403, "The resident may not obtain this document at a kiosk (moved out, under age, support measures, no record)."),
    PersonNotAllowed = ("person_not_allowed", 403, "A requested person is not in the resident's household or 戸籍, or may not appear on a kiosk document."),
    InvalidOption = ("invalid_option", 422, "An option or tax year that this municipality does not offer for this document."),
    TooManyCopies = ("too_many_copies", 422, "More copies than the municipality allows for this document."),
    PaymentMismatch = ("payment_mismatch", 422, "`paid_yen` is not the fee times the copies."),
    SessionLimit = ("session_limit", 409, "The session already has `max_issuances_per_session` issuances."),
    IdempotencyKeyReused = ("idempotency_key_reused", 409, "This idempotency key was already used by this kiosk for a different request."),
    IssuanceNotFound = ("issuance_not_found", 404, "No issuance with this number in this session."),
    OutcomeAlreadyRecorded = ("outcome_already_recorded", 409, "The outcome of this issuance was already reported (it arrives once)."),
    IssuanceVoided = ("issuance_voided", 409, "The issuance was voided (unconfirmed too long) before the outcome arrived."),
    // PIN reset (reference/jpki.md, our protocol v1)
    ResetNotReserved = ("reset_not_reserved", 409, "No PIN-reset reservation for this card and credential (reserve in the phone app first)."),
    ResetReservationExpired = ("reset_reservation_expired", 410, "The card's PIN-reset reservation has expired (reservations last `reservation_ttl_s`, default 24 h)."),
    ResetSignatureRevoked = ("reset_signature_revoked", 409, "The card's signature certificate is revoked (e.g. after a move): the PIN can be reset only at city hall."),
    ResetNoSignatureCertificate = ("reset_no_signature_certificate", 409, "The card carries no signature certificate (under 15, adult wards): the PIN can be reset only at city hall."),
    ResetPhoneToken = ("reset_phone_token", 409, "The certificate is a smartphone's: phone credentials are reset in the Mynaportal app, not at a kiosk."),
    ResetCertificateMismatch = ("reset_certificate_mismatch", 401, "The proving certificate does not belong to the same card as the user-authentication certificate."),
    ResetTooManyAuthorisations = ("reset_too_many_authorisations", 409, "The reset session has asked for the most authorisations it may."),
    ReservationNotFound = ("reservation_not_found", 404, "No reservation with this id (for this administrator's municipality)."),
    ReservationClosed = ("reservation_closed", 409, "The reservation is used, expired or cancelled already."),
    ResetUnavailable = ("reset_unavailable", 503, "PIN resets are off: the backend has no card-management key (`card_management_key`, or `load-world` of a world with `pki/card-management-key.pem`)."),
    // verification
    VerificationFailed = ("verification_failed", 404, "No genuine document with this number and code (the reply never says which was wrong)."),
    RateLimited = ("rate_limited", 429, "Too many requests from this address on the public listener (`public_rate_per_s`, `public_burst`); retry after `Retry-After` seconds."),
    // storage
    DatabaseBusy = ("database_busy", 503, "The database is locked or overloaded; retry later. Nothing was changed."),
    DatabaseUnavailable = ("database_unavailable", 503, "The database cannot be reached. Nothing was changed."),
    CommitUnconfirmed = ("commit_unconfirmed", 503, "The change was committed but the disk did not confirm it is stored. Retry the same request with the same idempotency key: it is answered from what was recorded, never done twice."),
    Internal = ("internal", 500, "An unexpected server error."),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// The offending field (dotted path) for `unknown_field`, `invalid_field` and `invalid_config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The README table of codes.
pub fn codes_markdown() -> String {
    let mut s = String::from("| code | HTTP | meaning |\n|---|---|---|\n");
    for c in ErrorCode::ALL {
        s.push_str(&format!("| `{}` | {} | {} |\n", c.as_str(), c.status(), c.describe()));
    }
    s
}

/// The `code` of an error reply as a kiosk reads it: one it knows, or one a newer backend added
/// (kept as text, so that it still reaches the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyCode {
    Known(ErrorCode),
    Unknown(String),
}

impl ReplyCode {
    /// The code of an error reply's body; `None` when the body is not the backend's error body
    /// (a proxy's page) or its code is not of a code's form (1 to 64 of `a-z 0-9 _`).
    pub fn of_body(body: &[u8]) -> Option<ReplyCode> {
        /// Only the code is read: the message and field are for people.
        #[derive(Deserialize)]
        struct Head {
            code: String,
        }
        let code = serde_json::from_slice::<Head>(body).ok()?.code;
        let well_formed = (1..=64).contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            return None;
        }
        Some(ErrorCode::parse(&code).map_or(ReplyCode::Unknown(code), ReplyCode::Known))
    }

    pub fn as_str(&self) -> &str {
        match self {
            ReplyCode::Known(c) => c.as_str(),
            ReplyCode::Unknown(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {}", c.as_str());
            assert_eq!(ErrorCode::parse(c.as_str()), Some(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert!((400..600).contains(&c.status()));
        }
    }

    #[test]
    fn reply_codes_tolerate_newer_backends_but_not_junk() {
        let body = |c: &str| serde_json::json!({"code": c, "message": "m"}).to_string().into_bytes();
        assert_eq!(ReplyCode::of_body(&body("session_limit")), Some(ReplyCode::Known(ErrorCode::SessionLimit)));
        assert_eq!(ReplyCode::of_body(&body("something_new")), Some(ReplyCode::Unknown("something_new".into())));
        assert_eq!(ReplyCode::of_body(&body("NOT A CODE")), None);
        assert_eq!(ReplyCode::of_body(&body("")), None);
        assert_eq!(ReplyCode::of_body(b"{\"code\": 7}"), None);
        assert_eq!(ReplyCode::of_body(b"<html>bad gateway</html>"), None);
    }
}
