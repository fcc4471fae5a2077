//! What a kiosk checks in every reply before anything else sees it: lengths, hex, base64 and
//! ranges, so that a bad reply is a refusal and never a panic further on.

use super::{
    AuthenticateReply, ChallengeReply, IssuanceReply, OffersReply, ResetAuthenticateReply, ResetAuthorisationReply,
    ResetOpenReply, ResetOutcomeReply,
};
use crate::challenge::{self, Purpose};
use crate::pin_reset::AUTHORISATION_LEN;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// The signature the card makes over the challenge (a SHA-256 DigestInfo).
pub const SIGNATURE_SCHEME: &str = "RSASSA-PKCS1-v1_5-SHA256";

/// The challenge's bytes if they are in madoguchi's form for `purpose` ([`crate::challenge`]);
/// whether it names this kiosk is the session's check.
fn challenge_of(b64: &str, purpose: Purpose) -> Result<Vec<u8>, InvalidReply> {
    let field = InvalidReply { field: "challenge" };
    ensure(b64.len() <= challenge::MAX_LEN.div_ceil(3) * 4, "challenge")?;
    let bytes = B64.decode(b64).map_err(|_| field)?;
    let parsed = challenge::parse(&bytes).map_err(|_| field)?;
    ensure(parsed.purpose == purpose, "challenge")?;
    Ok(bytes)
}

/// A reply field out of its range. Names the field, never its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("reply field {field} is not what the API allows")]
pub struct InvalidReply {
    pub field: &'static str,
}

fn ensure(ok: bool, field: &'static str) -> Result<(), InvalidReply> {
    if ok {
        Ok(())
    } else {
        Err(InvalidReply { field })
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The backend's session ids: 16 random bytes, hex.
fn is_session_id(s: &str) -> bool {
    is_hex(s, 32)
}

/// A short identifier: issuance numbers, options, reasons.
fn is_token(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
}

/// Display text (titles, municipality names): present, bounded, no control characters.
fn is_text(s: &str, max_chars: usize) -> bool {
    let n = s.chars().count();
    (1..=max_chars).contains(&n) && !s.chars().any(char::is_control)
}

fn is_municipality_code(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

impl ChallengeReply {
    /// Checks the reply and returns the challenge's bytes (what the card signs, once the
    /// session has checked that it names this kiosk).
    pub fn validate(&self) -> Result<Vec<u8>, InvalidReply> {
        ensure(is_session_id(&self.session_id), "session_id")?;
        // The card signs a SHA-256 DigestInfo: any other scheme would be refused at authentication.
        ensure(self.signature_scheme == SIGNATURE_SCHEME, "signature_scheme")?;
        challenge_of(&self.challenge, Purpose::Authenticate)
    }
}

impl AuthenticateReply {
    /// Checks the reply to the authentication of session `asked`.
    pub fn validate(&self, asked: &str) -> Result<(), InvalidReply> {
        ensure(self.session_id == asked, "session_id")?;
        ensure(is_hex(&self.certificate_fingerprint, 64), "certificate_fingerprint")
    }
}

impl OffersReply {
    /// Checks the offers made in session `asked` (the kiosk still checks them against the
    /// signed catalog).
    pub fn validate(&self, asked: &str) -> Result<(), InvalidReply> {
        ensure(self.session_id == asked, "session_id")?;
        ensure(self.catalog_version >= 0, "catalog_version")?;
        ensure(self.offers.len() <= 200, "offers")?;
        ensure(self.unavailable.len() <= 200, "unavailable")?;
        for o in &self.offers {
            ensure(is_municipality_code(&o.municipality_code), "offers.municipality_code")?;
            ensure(is_text(&o.municipality_name, 64), "offers.municipality_name")?;
            ensure(matches!(o.route.as_str(), "residence" | "honseki"), "offers.route")?;
            ensure(is_text(&o.title, 64), "offers.title")?;
            ensure((0..=1_000_000).contains(&o.fee_yen), "offers.fee_yen")?;
            ensure((0..=99).contains(&o.max_copies), "offers.max_copies")?;
            ensure(o.options.len() <= 16 && o.options.iter().all(|x| is_token(x, 32)), "offers.options")?;
            ensure(o.years.len() <= 20 && o.years.iter().all(|y| (1900..=2200).contains(y)), "offers.years")?;
        }
        for u in &self.unavailable {
            ensure(is_municipality_code(&u.municipality_code), "unavailable.municipality_code")?;
            ensure(is_token(&u.reason, 64), "unavailable.reason")?;
        }
        Ok(())
    }
}

impl IssuanceReply {
    /// Checks the reply to an issuance of `copies` copies and returns the total in yen. The
    /// status is one of `issued`, `printed` and `voided`; what a repeat after the outcome means
    /// is the caller's to decide.
    pub fn validate(&self, copies: i64) -> Result<u32, InvalidReply> {
        ensure(is_token(&self.issuance_number, 40), "issuance_number")?;
        ensure(self.copies == copies, "copies")?;
        ensure(self.fee_yen >= 0, "fee_yen")?;
        let total = self
            .fee_yen
            .checked_mul(self.copies)
            .filter(|t| *t == self.total_yen)
            .ok_or(InvalidReply { field: "total_yen" })?;
        let total_yen = u32::try_from(total).map_err(|_| InvalidReply { field: "total_yen" })?;
        let d = &self.document;
        ensure(!d.payload.is_empty(), "document.payload")?;
        ensure(B64.decode(&d.signature).is_ok_and(|s| s.len() == 64), "document.signature")?;
        ensure(is_hex(&d.key_id, 16), "document.key_id")?;
        ensure(is_token(&d.algorithm, 32), "document.algorithm")?;
        ensure(matches!(self.status.as_str(), "issued" | "printed" | "voided"), "status")?;
        Ok(total_yen)
    }
}

/// An RFC 3339 time as the backend writes it.
fn is_time(s: &str) -> bool {
    s.len() <= 40 && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

impl ResetOpenReply {
    /// Checks the reply to `POST /v1/pin-reset/sessions` and returns the challenge's bytes (what
    /// the card signs with the proving credential's key).
    pub fn validate(&self) -> Result<Vec<u8>, InvalidReply> {
        ensure(is_session_id(&self.session_id), "session_id")?;
        ensure(self.signature_scheme == SIGNATURE_SCHEME, "signature_scheme")?;
        let challenge = challenge_of(&self.challenge, Purpose::PinReset)?;
        ensure(is_time(&self.challenge_expires_at), "challenge_expires_at")?;
        ensure(is_time(&self.reservation_expires_at), "reservation_expires_at")?;
        Ok(challenge)
    }
}

impl ResetAuthenticateReply {
    /// Checks the reply to the authentication of reset session `asked_session`.
    pub fn validate(&self, asked_session: &str) -> Result<(), InvalidReply> {
        ensure(self.session_id == asked_session, "session_id")?;
        ensure(is_time(&self.session_expires_at), "session_expires_at")
    }
}

impl ResetAuthorisationReply {
    /// Checks the reply and returns the authorisation the card checks in RESET RETRY COUNTER
    /// (the card, not the kiosk, verifies it).
    pub fn validate(&self) -> Result<[u8; AUTHORISATION_LEN], InvalidReply> {
        let bytes = B64.decode(&self.authorisation).map_err(|_| InvalidReply { field: "authorisation" })?;
        <[u8; AUTHORISATION_LEN]>::try_from(bytes.as_slice()).map_err(|_| InvalidReply { field: "authorisation" })
    }
}

impl ResetOutcomeReply {
    /// Checks the reply to the outcome of reset session `asked_session`.
    pub fn validate(&self, asked_session: &str) -> Result<(), InvalidReply> {
        ensure(self.session_id == asked_session, "session_id")
    }
}
