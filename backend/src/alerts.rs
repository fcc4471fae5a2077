//! `POST /v1/alerts`: a kiosk tells its backend about tampering (a door opened without the
//! operator key). The alert is stored in the chained audit log (`alert.<kind>`, the kiosk as
//! actor and subject), where the municipality's verification and the console already look, so
//! it cannot be dropped or edited afterwards without the chain showing it.

use crate::audit::{self, Entry};
use crate::error::ApiError;
use crate::flow::Principal;
use crate::server::{AppState, Body};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use madoguchi_api::error::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The alerts a kiosk may raise.
pub const KINDS: [&str; 1] = ["door-opened-without-key"];

/// What the kiosk sends.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRequest {
    /// One of [`KINDS`].
    pub kind: String,
    /// When the kiosk saw it (RFC 3339, the kiosk's clock).
    pub at: String,
}

/// The audit sequence number the alert was stored under.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertReply {
    pub recorded: i64,
}

/// Checks the alert: a kind of [`KINDS`] and a time in RFC 3339.
pub fn check(req: &AlertRequest) -> Result<(), ApiError> {
    if !KINDS.contains(&req.kind.as_str()) {
        return Err(ApiError::field(ErrorCode::InvalidField, "kind", format!("one of {KINDS:?}")));
    }
    if req.at.len() > 40 || OffsetDateTime::parse(&req.at, &Rfc3339).is_err() {
        return Err(ApiError::field(ErrorCode::InvalidField, "at", "an RFC 3339 time"));
    }
    Ok(())
}

/// Raise an alert from a kiosk (tampering); stored in the audit log.
#[utoipa::path(post, path = "/v1/alerts", tag = "kiosk",
    request_body = AlertRequest,
    responses((status = 201, body = AlertReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn post_alert(
    State(app): State<AppState>,
    p: Option<axum::Extension<Principal>>,
    Body(req): Body<AlertRequest>,
) -> Result<(StatusCode, Json<AlertReply>), ApiError> {
    let Some(axum::Extension(p)) = p else {
        return Err(ApiError::new(ErrorCode::CredentialUnknown, "a client certificate is required"));
    };
    let Principal::Kiosk { id, store } = &p else {
        return Err(ApiError::new(ErrorCode::Forbidden, "alerts come from kiosks"));
    };
    check(&req)?;
    let detail = serde_json::json!({ "store": store, "at": req.at });
    let entry = Entry::new(p.actor(), &format!("alert.{}", req.kind), id.clone(), detail);
    let recorded = audit::append_alone(&app.ctx.db, &entry).await?;
    log::error!("ALERT from kiosk {id} at store {store}: {} at {}", req.kind, req.at);
    Ok((StatusCode::CREATED, Json(AlertReply { recorded })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_kinds_and_real_times_are_taken() {
        let ok = AlertRequest { kind: "door-opened-without-key".into(), at: "2026-12-03T10:00:00+09:00".into() };
        assert!(check(&ok).is_ok());
        let e = check(&AlertRequest { kind: "fire".into(), ..ok }).unwrap_err();
        assert_eq!(e.body().field.as_deref(), Some("kind"));
        let bad_time = AlertRequest { kind: "door-opened-without-key".into(), at: "yesterday".into() };
        assert_eq!(check(&bad_time).unwrap_err().body().field.as_deref(), Some("at"));
    }
}
