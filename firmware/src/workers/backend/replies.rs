//! Requests and replies as the session sees them: the `/v1` bodies (the contract's types,
//! `madoguchi_api::v1`) checked and turned into [`BackendOk`] / [`BackendError`]. Pure: no I/O.

use madoguchi_api::client::{ClientError, ClientErrorKind};
use madoguchi_api::v1::{
    AuthenticateReply, ChallengeReply, IssuanceReply, IssuanceRequest, OffersReply, ResetAuthenticateReply,
    ResetAuthorisationReply, ResetOpenReply,
};
use madoguchi_api::{DocumentKind, ErrorCode, ReplyCode, SignedBlob};
use madoguchi_session::{BackendError, BackendOk, IssueRequest, Issued, Refusal, Request};
use serde::Deserialize;

pub(super) fn request_name(request: &Request) -> &'static str {
    match request {
        Request::Challenge => "challenge",
        Request::Authenticate { .. } => "authenticate",
        Request::Offers { .. } => "offers",
        Request::Issue(_) => "issue",
        Request::Outcome { .. } => "outcome",
        Request::Close { .. } => "close",
        Request::ResetOpen { .. } => "pin-reset open",
        Request::ResetAuthenticate { .. } => "pin-reset authenticate",
        Request::ResetAuthorise { .. } => "pin-reset authorisation",
        Request::ResetOutcome { .. } => "pin-reset outcome",
    }
}

/// Percent-encodes a path segment (ids come from the backend and are validated, but a path is
/// never built from raw text).
pub(super) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The issuance request's body; a document the contract does not know is never sent.
pub(super) fn issuance_body(r: &IssueRequest) -> Result<serde_json::Value, BackendError> {
    let document = DocumentKind::parse(&r.document).ok_or(BackendError::Protocol)?;
    let body = IssuanceRequest {
        municipality_code: r.municipality_code.clone(),
        document,
        options: r.options.clone(),
        // Empty: the resident alone.
        persons: r.persons.clone(),
        year: r.year,
        copies: i64::from(r.copies),
        paid_yen: i64::from(r.paid_yen),
        payment_reference: r.payment_reference.clone(),
        idempotency_key: r.idempotency_key.clone(),
    };
    serde_json::to_value(body).map_err(|_| BackendError::Protocol)
}

/// Why an exchange produced no HTTP answer, as the session reads it.
pub(super) fn transport_error(e: ClientError) -> BackendError {
    match e.kind() {
        ClientErrorKind::Unreachable => BackendError::Unreachable,
        ClientErrorKind::Timeout => BackendError::Timeout,
        ClientErrorKind::Protocol | ClientErrorKind::Configuration => BackendError::Protocol,
    }
}

/// What a non-2xx answer means.
pub(super) fn error_reply(status: u16, body: &[u8]) -> BackendError {
    match ReplyCode::of_body(body) {
        // Retried with the same idempotency key: a committed change is answered from its record.
        Some(ReplyCode::Known(
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseUnavailable | ErrorCode::CommitUnconfirmed,
        )) => BackendError::Busy,
        Some(code) => BackendError::Refused(Refusal::from_reply(&code)),
        // A proxy or an overloaded front without the backend's error body.
        None if status == 503 => BackendError::Busy,
        None => BackendError::Protocol,
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, BackendError> {
    serde_json::from_slice(body).map_err(|_| BackendError::Protocol)
}

pub(super) fn parse_challenge(body: &[u8]) -> Result<BackendOk, BackendError> {
    let w: ChallengeReply = parse(body)?;
    let challenge = w.validate().map_err(|_| BackendError::Protocol)?;
    Ok(BackendOk::Challenge { session_id: w.session_id, challenge })
}

pub(super) fn parse_authenticated(body: &[u8], asked: &str) -> Result<BackendOk, BackendError> {
    // `holder_name` is in the reply too: the session has no use for it, so it is not kept.
    let w: AuthenticateReply = parse(body)?;
    w.validate(asked).map_err(|_| BackendError::Protocol)?;
    Ok(BackendOk::Authenticated {
        session_id: w.session_id,
        certificate_fingerprint: w.certificate_fingerprint.to_ascii_lowercase(),
    })
}

/// `GET /v1/sessions/{id}/offers` as validated. The household's names go to the session (the
/// resident chooses who appears on a 住民票) and are dropped with the offers at the end.
pub(super) fn parse_offers(body: &[u8], asked: &str) -> Result<OffersReply, BackendError> {
    let w: OffersReply = parse(body)?;
    w.validate(asked).map_err(|_| BackendError::Protocol)?;
    Ok(w)
}

/// Whether offers made with catalog `version` need a newer catalog than the session holds.
pub(super) fn needs_catalog(held: Option<i64>, version: i64) -> bool {
    held.is_none_or(|h| h < version)
}

/// `GET /v1/catalog`: the signed form only; the session verifies it.
pub(crate) fn parse_catalog(body: &[u8]) -> Result<SignedBlob, BackendError> {
    parse(body)
}

pub(super) fn parse_issued(body: &[u8], asked: &IssueRequest) -> Result<BackendOk, BackendError> {
    let w: IssuanceReply = parse(body)?;
    let total_yen = w.validate(i64::from(asked.copies)).map_err(|_| BackendError::Protocol)?;
    // A repeat of the idempotency key after the outcome: never print that document again.
    match w.status.as_str() {
        "issued" => {}
        "printed" => return Err(BackendError::Refused(Refusal::from(ErrorCode::OutcomeAlreadyRecorded))),
        "voided" => return Err(BackendError::Refused(Refusal::from(ErrorCode::IssuanceVoided))),
        _ => return Err(BackendError::Protocol),
    }
    Ok(BackendOk::Issued(Issued { issuance_number: w.issuance_number, total_yen, document: w.document }))
}

/// `POST /v1/pin-reset/sessions`: the reset session and the challenge for the proving key.
pub(super) fn parse_reset_opened(body: &[u8]) -> Result<BackendOk, BackendError> {
    let w: ResetOpenReply = parse(body)?;
    let challenge = w.validate().map_err(|_| BackendError::Protocol)?;
    Ok(BackendOk::ResetOpened { session_id: w.session_id, challenge, reservation_expires_at: w.reservation_expires_at })
}

pub(super) fn parse_reset_authenticated(body: &[u8], asked: &str) -> Result<BackendOk, BackendError> {
    let w: ResetAuthenticateReply = parse(body)?;
    w.validate(asked).map_err(|_| BackendError::Protocol)?;
    Ok(BackendOk::ResetAuthenticated { session_id: w.session_id })
}

/// The authorisation is passed to the card as it is: the card, not the kiosk, judges it.
pub(super) fn parse_reset_authorised(body: &[u8]) -> Result<BackendOk, BackendError> {
    let w: ResetAuthorisationReply = parse(body)?;
    let authorisation = w.validate().map_err(|_| BackendError::Protocol)?;
    Ok(BackendOk::ResetAuthorised { authorisation })
}
