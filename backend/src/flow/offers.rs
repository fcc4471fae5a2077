//! The authenticated session's view of the registry (the resident, the municipalities
//! concerned, the catalog version), read in one round trip, and the offers computed from it.

use super::context::{check_authenticated, check_session_id, kiosk_of, session_from, Context, Principal, SessionRow};
use crate::db::ms;
use crate::domain;
use crate::error::ApiError;
use crate::registry;
use madoguchi_api::municipality::jst;
use madoguchi_api::v1::OffersReply;
use madoguchi_api::ErrorCode;
use sqlx::Row;
use time::OffsetDateTime;

async fn authenticated_view(
    ctx: &Context,
    who: &Principal,
    session_id: &str,
    now: OffsetDateTime,
) -> Result<View, ApiError> {
    match view_or_replay(ctx, who, session_id, now, "").await? {
        Ok(v) => Ok(v),
        Err(_) => Err(ApiError::new(ErrorCode::Internal, "unexpected replay")),
    }
}

pub(super) type View = (SessionRow, domain::ResidentView, Vec<domain::MunicipalityView>, i64);

/// The view, or (when `idempotency_key` names an earlier issuance of this kiosk) that
/// issuance's number, found in the same round trip.
pub(super) async fn view_or_replay(
    ctx: &Context,
    who: &Principal,
    session_id: &str,
    now: OffsetDateTime,
    idempotency_key: &str,
) -> Result<Result<View, String>, ApiError> {
    let (kiosk, _) = kiosk_of(who)?;
    check_session_id(session_id)?;
    // The session, its resident's view, the municipalities concerned and the catalog version in
    // one round trip.
    let mut reader = ctx.db.reader().await?;
    let rows = sqlx::query(
        "SELECT s.id, s.kiosk_id, s.store, s.challenge, s.challenge_expires_at, s.state, s.resident_id, s.cert_fingerprint, s.expires_at,
                v.view, c.version, m.code, m.name, m.prefecture, m.config, m.config_version, i.number
         FROM catalog_state c
         LEFT JOIN sessions s ON s.id = $1
         LEFT JOIN issuances i ON i.kiosk_id = $2 AND i.idempotency_key = $3
         LEFT JOIN resident_views v ON v.resident_id = s.resident_id
         LEFT JOIN municipalities m ON m.code = v.residence_code OR m.code = v.honseki_code
         WHERE c.id = 1
         ORDER BY m.code",
    )
    .bind(session_id.to_string())
    .bind(kiosk.to_string())
    .bind(idempotency_key.to_string())
    .fetch_all(&mut *reader)
    .await?;
    reader.release();
    let first = rows.first().ok_or_else(|| ApiError::new(ErrorCode::Internal, "catalog state missing"))?;
    if let Some(number) = first.get::<Option<String>, _>(16) {
        return Ok(Err(number));
    }
    if first.get::<Option<String>, _>(0).is_none() {
        return Err(ApiError::new(ErrorCode::SessionNotFound, "no such session"));
    }
    let s = session_from(first);
    check_authenticated(&s, kiosk, ms(now))?;
    let resident_id = s.resident_id.clone().unwrap_or_default();
    let stored: Option<domain::ResidentView> =
        first.get::<Option<String>, _>(9).and_then(|v| serde_json::from_str(&v).ok());
    let version: i64 = first.get(10);
    match stored {
        Some(view) => {
            let mut munis = Vec::new();
            for r in &rows {
                if r.get::<Option<String>, _>(11).is_some() {
                    munis.push(registry::municipality_at(r, 11)?);
                }
            }
            Ok(Ok((s, view, munis, version)))
        }
        None => {
            let view = registry::resident_view(&ctx.db.pool, &resident_id).await?;
            let (munis, version) = registry::municipalities_for(&ctx.db.pool, &view).await?;
            Ok(Ok((s, view, munis, version)))
        }
    }
}

pub async fn offers(
    ctx: &Context,
    who: &Principal,
    session_id: &str,
    now: OffsetDateTime,
) -> Result<OffersReply, ApiError> {
    let (s, view, munis, version) = authenticated_view(ctx, who, session_id, now).await?;
    let refs: Vec<&domain::MunicipalityView> = munis.iter().collect();
    let mut o = domain::compute_offers(&view, &refs, now);
    // Known before payment: a document the kiosk could not print is not offered. Without the
    // fonts (a backend host without them) the kiosk's own check before printing still refunds.
    match crate::console::renderer() {
        Ok(r) => domain::refuse_unprintable(&mut o, &view, &|t| r.fonts().unprintable(t)),
        Err(e) => log::warn!("offers: fonts unavailable, printability not checked: {e}"),
    }
    Ok(OffersReply {
        session_id: s.id,
        at: jst(now).format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        catalog_version: version,
        offers: o.offers,
        unavailable: o.unavailable,
        notices: o.notices,
    })
}
