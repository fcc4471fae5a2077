//! Issuances and their outcome: recording a planned issuance with its signed document
//! (idempotent per kiosk and key), the printed-or-failed outcome, and voiding what never got one
//! (the sweeper, a closed session).

use super::context::{check_session_id, kiosk_of, load_session, new_issuance_number, Context, Principal};
use super::offers::view_or_replay;
use crate::audit::{self, Entry};
use crate::db::{self, ms, rfc3339};
use crate::domain;
use crate::error::ApiError;
use crate::registry;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use madoguchi_api::municipality::jst;
use madoguchi_api::payload::{Binding, IssuerInfo};
use madoguchi_api::v1::{CloseReply, IssuanceReply, IssuanceRequest, OutcomeKind, OutcomeReply, OutcomeRequest};
use madoguchi_api::ErrorCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

fn request_hash(session_id: &str, req: &IssuanceRequest) -> String {
    let mut options = req.options.clone();
    options.sort();
    let canonical = json!({
        "session_id": session_id,
        "municipality_code": req.municipality_code,
        "document": req.document,
        "options": options,
        "persons": req.persons,
        "year": req.year,
        "copies": req.copies,
        "paid_yen": req.paid_yen,
        "payment_reference": req.payment_reference,
    });
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

const ISSUANCE_COLS: &str =
    "number, session_id, request_hash, status, fee_yen, copies, total_yen, issued_at, payload, kiosk_id, document, municipality_code, local_date, holder_name, payload_sha256, refund_yen, outcome_reason";

fn reply_from(ctx: &Context, r: &AnyRow) -> IssuanceReply {
    let payload: String = r.get(8);
    IssuanceReply {
        issuance_number: r.get(0),
        status: r.get(3),
        fee_yen: r.get(4),
        copies: r.get(5),
        total_yen: r.get(6),
        issued_at: rfc3339(r.get(7)),
        document: ctx.key.sign(&payload),
    }
}

/// Records an issuance and returns its signed document. Returns `(reply, replayed)`.
pub async fn issue(
    ctx: &Context,
    who: &Principal,
    session_id: &str,
    req: &IssuanceRequest,
    now: OffsetDateTime,
) -> Result<(IssuanceReply, bool), ApiError> {
    let (kiosk, store) = kiosk_of(who)?;
    domain::check_request_shape(req)?;
    let hash = request_hash(session_id, req);
    // A repeat: the same issuance, whatever happened since (even if the session expired).
    let (s, view, munis, _) = match view_or_replay(ctx, who, session_id, now, &req.idempotency_key).await? {
        Ok(v) => v,
        Err(number) => {
            let r = sqlx::query(&format!("SELECT {ISSUANCE_COLS} FROM issuances WHERE number = $1"))
                .bind(number)
                .fetch_one(&ctx.db.pool)
                .await?;
            // Not a document the kiosk prints before the issuance is on disk.
            ctx.db.wait_durable().await?;
            return replay(ctx, &r, &hash);
        }
    };
    let refs: Vec<&domain::MunicipalityView> = munis.iter().collect();
    let plan = domain::plan_issuance(req, &view, &refs, now)?;
    let muni = munis.iter().find(|m| m.municipality.code == plan.municipality_code).expect("planned from these");
    let number = new_issuance_number(now);
    let issued_at = rfc3339(ms(now));
    let binding = Binding {
        session_id: s.id.clone(),
        certificate_fingerprint: s.cert_fingerprint.clone().unwrap_or_default(),
        kiosk_id: kiosk.to_string(),
        issuance_number: number.clone(),
        issued_at: issued_at.clone(),
        document: plan.kind,
        copies: plan.copies,
    };
    let issuer = IssuerInfo {
        code: muni.municipality.code.clone(),
        name: muni.municipality.name.clone(),
        prefecture: muni.municipality.prefecture.clone(),
        issuer_title: muni.config.issuer_title.clone(),
        issuer_name: muni.config.issuer_name.clone(),
        seal_sha256: muni
            .config
            .seal_png
            .as_ref()
            .map(|p| hex::encode(Sha256::digest(B64.decode(p).unwrap_or_default()))),
    };
    let verify_url = format!(
        "{}/{}?code={}",
        ctx.config.verify_base_url.trim_end_matches('/'),
        number,
        ctx.key.verification_code(&number)
    );
    // 本籍 of household members for the `honseki` option: each member's own 戸籍.
    let mut kosekis = std::collections::HashMap::new();
    if plan.options.iter().any(|o| o == "honseki") {
        for m in &view.household_members {
            if let Some(kid) = &m.koseki_id {
                if let Some(k) = registry::koseki(&ctx.db.pool, kid).await? {
                    kosekis.insert(m.id.clone(), k);
                }
            }
        }
    }
    let payload =
        domain::build_payload(&plan, &view, issuer, binding, now, verify_url, &|r| kosekis.get(&r.id).cloned())?;
    let holder_name = view.resident.name.clone();
    let payload_text = serde_json::to_string(&payload).expect("payload serialises");
    let payload_sha = hex::encode(Sha256::digest(payload_text.as_bytes()));
    let local = jst(now).date();
    let local_date = format!("{:04}-{:02}-{:02}", local.year(), local.month() as u8, local.day());

    // A signed document leaves with this commit: durable. On SQLite this is one statement (the
    // batch's write lock makes it exclusive); on PostgreSQL the session row is locked first.
    let mut tx = ctx.db.begin_durable_single().await?;
    if ctx.db.postgres {
        // The no-op update locks the session row, so issuances of one session (on any instance)
        // queue here and the count below sees every earlier one.
        sqlx::query("UPDATE sessions SET expires_at = expires_at WHERE id = $1")
            .bind(s.id.clone())
            .execute(&mut *tx)
            .await?;
    }
    // The session must still be open when the issuance is written (a close or expiry may have
    // come in since it was read), and the session limit holds: both are part of the insert, no
    // read-then-write window.
    let inserted = sqlx::query(
        "INSERT INTO issuances (number, session_id, kiosk_id, store, resident_id, cert_fingerprint, municipality_code, document, copies, fee_yen, total_yen,
         payment_reference, idempotency_key, request_hash, payload, payload_sha256, holder_name, issued_at, local_date, status, refund_yen, refund_state)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 'issued', 0, 'none'
         WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $2 AND kiosk_id = $3 AND state = 'authenticated' AND expires_at >= $18)
           AND (SELECT COUNT(*) FROM issuances WHERE session_id = $2) < $20",
    )
    .bind(number.clone())
    .bind(s.id.clone())
    .bind(kiosk.to_string())
    .bind(store.to_string())
    .bind(view.resident.id.clone())
    .bind(s.cert_fingerprint.clone().unwrap_or_default())
    .bind(plan.municipality_code.clone())
    .bind(plan.kind.id())
    .bind(plan.copies)
    .bind(plan.offer.fee_yen)
    .bind(plan.total_yen)
    .bind(req.payment_reference.clone())
    .bind(req.idempotency_key.clone())
    .bind(hash.clone())
    .bind(payload_text.clone())
    .bind(payload_sha.clone())
    .bind(holder_name)
    .bind(ms(now))
    .bind(local_date)
    .bind(ctx.config.max_issuances_per_session)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(r) if r.rows_affected() == 1 => {}
        Ok(_) => {
            // Closed or expired since it was read, or at its limit: which one, from the row now.
            drop(tx);
            let now_row = load_session(ctx, &s.id).await?;
            super::context::check_authenticated(&now_row, kiosk, ms(now))?;
            return Err(ApiError::new(
                ErrorCode::SessionLimit,
                format!("at most {} issuances per session", ctx.config.max_issuances_per_session),
            ));
        }
        Err(e) if db::is_unique_violation(&e) => {
            // The same key raced in from another request: answer with the winner.
            drop(tx);
            let r = sqlx::query(&format!(
                "SELECT {ISSUANCE_COLS} FROM issuances WHERE kiosk_id = $1 AND idempotency_key = $2"
            ))
            .bind(kiosk.to_string())
            .bind(req.idempotency_key.clone())
            .fetch_optional(&ctx.db.pool)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::DatabaseBusy, "concurrent request; try again"))?;
            ctx.db.wait_durable().await?;
            return replay(ctx, &r, &hash);
        }
        Err(e) => return Err(e.into()),
    }
    audit::append(
        &mut tx,
        &Entry::new(
            who.actor(),
            "issuance.created",
            number.clone(),
            json!({
                "session_id": s.id, "store": store, "resident_id": view.resident.id, "certificate_fingerprint": s.cert_fingerprint,
                "municipality_code": plan.municipality_code, "document": plan.kind, "copies": plan.copies, "total_yen": plan.total_yen,
                "payment_reference": req.payment_reference, "persons": plan.persons, "payload_sha256": payload_sha,
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((
        IssuanceReply {
            issuance_number: number,
            status: "issued".into(),
            fee_yen: plan.offer.fee_yen,
            copies: plan.copies,
            total_yen: plan.total_yen,
            issued_at,
            document: ctx.key.sign(&payload_text),
        },
        false,
    ))
}

fn replay(ctx: &Context, r: &AnyRow, hash: &str) -> Result<(IssuanceReply, bool), ApiError> {
    if r.get::<String, _>(2) != hash {
        return Err(ApiError::field(
            ErrorCode::IdempotencyKeyReused,
            "idempotency_key",
            "already used by this kiosk for a different request (or another session)",
        ));
    }
    // Erased after `payload_retention_days` (only ever after an outcome): nothing to sign.
    if r.get::<String, _>(8).is_empty() {
        return Err(ApiError::new(
            ErrorCode::OutcomeAlreadyRecorded,
            "this issuance's outcome was recorded and its document erased after the retention period",
        ));
    }
    Ok((reply_from(ctx, r), true))
}

pub async fn outcome(
    ctx: &Context,
    who: &Principal,
    session_id: &str,
    number: &str,
    req: &OutcomeRequest,
    now: OffsetDateTime,
) -> Result<OutcomeReply, ApiError> {
    let (kiosk, _) = kiosk_of(who)?;
    check_session_id(session_id)?;
    let reason = req.reason.clone().unwrap_or_default();
    if reason.chars().count() > 200 || reason.chars().any(|c| c.is_control()) {
        return Err(ApiError::field(ErrorCode::InvalidField, "reason", "at most 200 printable characters"));
    }
    if req.outcome == OutcomeKind::Failed && reason.trim().is_empty() {
        return Err(ApiError::field(ErrorCode::InvalidField, "reason", "required when the outcome is failed"));
    }
    if number.len() > 40 {
        return Err(ApiError::new(ErrorCode::IssuanceNotFound, "no such issuance in this session"));
    }
    let (status, refund_state, action) = match req.outcome {
        OutcomeKind::Printed => ("printed", "none", "issuance.printed"),
        OutcomeKind::Failed => ("voided", "due", "issuance.voided"),
        OutcomeKind::Printing => return renew_lease(ctx, who, kiosk, session_id, number, now).await,
        OutcomeKind::Refunded => return refund_paid(ctx, who, kiosk, session_id, number, req, now).await,
    };
    // One statement and its audit records: durable.
    let mut tx = ctx.db.begin_durable_single().await?;
    let done = sqlx::query(
        "UPDATE issuances SET status = $1, outcome_reason = $2, outcome_at = $3,
         refund_yen = CASE WHEN $1 = 'voided' THEN total_yen ELSE 0 END, refund_state = $4
         WHERE number = $5 AND session_id = $6 AND kiosk_id = $7 AND status = 'issued'
         RETURNING refund_yen",
    )
    .bind(status)
    .bind(if req.outcome == OutcomeKind::Failed { format!("failed: {reason}") } else { "printed".into() })
    .bind(ms(now))
    .bind(refund_state)
    .bind(number.to_string())
    .bind(session_id.to_string())
    .bind(kiosk.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(done) = done else {
        drop(tx);
        // Why not: read what is there.
        let row =
            sqlx::query("SELECT kiosk_id, status, outcome_reason FROM issuances WHERE number = $1 AND session_id = $2")
                .bind(number.to_string())
                .bind(session_id.to_string())
                .fetch_optional(&ctx.db.pool)
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::IssuanceNotFound, "no such issuance in this session"))?;
        // The kiosk takes "already recorded" as done: only once that outcome is on disk.
        ctx.db.wait_durable().await?;
        let (owner, st, why): (String, String, Option<String>) = (row.get(0), row.get(1), row.get(2));
        let voided_by_backend = st == "voided" && why.as_deref().is_some_and(|w| !w.starts_with("failed"));
        if owner == kiosk && voided_by_backend && req.outcome == OutcomeKind::Printed {
            return printed_late(ctx, who, kiosk, session_id, number, why.as_deref().unwrap_or_default(), now).await;
        }
        return Err(if owner != kiosk {
            ApiError::new(ErrorCode::SessionKioskMismatch, "this issuance belongs to another kiosk")
        } else if st == "voided" && why.as_deref().is_some_and(|w| !w.starts_with("failed")) {
            ApiError::new(
                ErrorCode::IssuanceVoided,
                format!("the issuance was voided ({}) and marked for refund", why.unwrap_or_default()),
            )
        } else {
            ApiError::new(ErrorCode::OutcomeAlreadyRecorded, format!("the outcome was already recorded ({st})"))
        });
    };
    let refund: i64 = done.get(0);
    audit::append(
        &mut tx,
        &Entry::new(
            who.actor(),
            action,
            number,
            json!({ "session_id": session_id, "reason": reason, "refund_yen": refund }),
        ),
    )
    .await?;
    if refund > 0 {
        audit::append(
            &mut tx,
            &Entry::new(who.actor(), "refund.due", number, json!({ "refund_yen": refund, "reason": reason })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(OutcomeReply { issuance_number: number.to_string(), status: status.into(), refund_yen: refund })
}

/// A `printed` for an issuance the backend voided for want of an outcome (the kiosk printed but
/// was offline past `outcome_timeout_s`): the paper the resident holds is valid, so it is
/// recorded as `printed_late`, its refund cancelled (unless the kiosk already paid it back), and
/// an alert goes to the audit log and the operator's log.
async fn printed_late(
    ctx: &Context,
    who: &Principal,
    kiosk: &str,
    session_id: &str,
    number: &str,
    voided_because: &str,
    now: OffsetDateTime,
) -> Result<OutcomeReply, ApiError> {
    let mut tx = ctx.db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE issuances SET status = 'printed_late', outcome_reason = $1, outcome_at = $2, refund_yen = 0,
         refund_state = CASE WHEN refund_state = 'paid_at_kiosk' THEN 'paid_at_kiosk' ELSE 'cancelled' END
         WHERE number = $3 AND session_id = $4 AND kiosk_id = $5 AND status = 'voided'
         RETURNING refund_state, refund_paid_yen",
    )
    .bind(format!("printed late (was voided: {voided_because})"))
    .bind(ms(now))
    .bind(number.to_string())
    .bind(session_id.to_string())
    .bind(kiosk.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(done) = done else {
        return Err(ApiError::new(ErrorCode::OutcomeAlreadyRecorded, "the outcome was already recorded"));
    };
    let (refund_state, paid): (String, i64) = (done.get(0), done.get(1));
    let detail = json!({
        "session_id": session_id, "voided_because": voided_because, "refund_state": refund_state,
        "refund_paid_yen": paid,
    });
    audit::append(&mut tx, &Entry::new(who.actor(), "issuance.printed_late", number, detail.clone())).await?;
    audit::append(&mut tx, &Entry::new("system", "alert.printed_late", number, detail)).await?;
    tx.commit().await?;
    log::error!(
        "ALERT issuance {number}: printed after it was voided ({voided_because}); recorded as printed_late, refund {refund_state}"
    );
    Ok(OutcomeReply { issuance_number: number.to_string(), status: "printed_late".into(), refund_yen: 0 })
}

/// `printing`: the kiosk still prints the issuance; nothing voids it for `outcome_timeout_s`.
async fn renew_lease(
    ctx: &Context,
    who: &Principal,
    kiosk: &str,
    session_id: &str,
    number: &str,
    now: OffsetDateTime,
) -> Result<OutcomeReply, ApiError> {
    let until = ms(now) + ctx.config.outcome_timeout_s * 1000;
    let mut tx = ctx.db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE issuances SET lease_until = $1 WHERE number = $2 AND session_id = $3 AND kiosk_id = $4 AND status = 'issued'",
    )
    .bind(until)
    .bind(number.to_string())
    .bind(session_id.to_string())
    .bind(kiosk.to_string())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        drop(tx);
        let row = sqlx::query("SELECT kiosk_id, status FROM issuances WHERE number = $1 AND session_id = $2")
            .bind(number.to_string())
            .bind(session_id.to_string())
            .fetch_optional(&ctx.db.pool)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::IssuanceNotFound, "no such issuance in this session"))?;
        ctx.db.wait_durable().await?;
        let (owner, st): (String, String) = (row.get(0), row.get(1));
        return Err(if owner != kiosk {
            ApiError::new(ErrorCode::SessionKioskMismatch, "this issuance belongs to another kiosk")
        } else {
            ApiError::new(ErrorCode::OutcomeAlreadyRecorded, format!("the outcome was already recorded ({st})"))
        });
    }
    audit::append(
        &mut tx,
        &Entry::new(
            who.actor(),
            "issuance.printing",
            number,
            json!({ "session_id": session_id, "lease_until": rfc3339(until) }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(OutcomeReply { issuance_number: number.to_string(), status: "issued".into(), refund_yen: 0 })
}

/// `refunded`: the kiosk paid the refund of a voided issuance back in cash. The amount must be
/// the refund the backend marked; a repeat of the same report is answered the same.
async fn refund_paid(
    ctx: &Context,
    who: &Principal,
    kiosk: &str,
    session_id: &str,
    number: &str,
    req: &OutcomeRequest,
    now: OffsetDateTime,
) -> Result<OutcomeReply, ApiError> {
    let Some(yen) = req.refunded_yen.filter(|y| *y > 0) else {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "refunded_yen",
            "required (above 0) when the outcome is refunded",
        ));
    };
    let mut tx = ctx.db.begin_write().await?;
    let row = sqlx::query(
        "SELECT kiosk_id, status, refund_yen, refund_state, refund_paid_yen FROM issuances WHERE number = $1 AND session_id = $2",
    )
    .bind(number.to_string())
    .bind(session_id.to_string())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::new(ErrorCode::IssuanceNotFound, "no such issuance in this session"))?;
    let (owner, status, refund, state, paid): (String, String, i64, String, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    if owner != kiosk {
        return Err(ApiError::new(ErrorCode::SessionKioskMismatch, "this issuance belongs to another kiosk"));
    }
    if state == "paid_at_kiosk" && paid == yen {
        return Ok(OutcomeReply { issuance_number: number.to_string(), status, refund_yen: refund });
    }
    if status != "voided" || state != "due" {
        return Err(ApiError::new(
            ErrorCode::OutcomeAlreadyRecorded,
            format!("no refund is due for this issuance ({status}, refund {state})"),
        ));
    }
    if yen != refund {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "refunded_yen",
            format!("the refund due is {refund} yen, not {yen}"),
        ));
    }
    sqlx::query(
        "UPDATE issuances SET refund_state = 'paid_at_kiosk', refund_paid_yen = $1, refund_paid_at = $2
         WHERE number = $3 AND refund_state = 'due'",
    )
    .bind(yen)
    .bind(ms(now))
    .bind(number.to_string())
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &Entry::new(
            who.actor(),
            "refund.paid_at_kiosk",
            number,
            json!({ "session_id": session_id, "refund_yen": yen }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(OutcomeReply { issuance_number: number.to_string(), status, refund_yen: refund })
}

/// Voids one issuance still waiting for its outcome (timeout or session closed).
async fn void_pending(
    ctx: &Context,
    number: &str,
    why: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<bool, ApiError> {
    let mut tx = ctx.db.begin_write().await?;
    // Never one the kiosk still prints (a live lease from `printing`).
    let done = sqlx::query(
        "UPDATE issuances SET status = 'voided', outcome_reason = $1, outcome_at = $2, refund_yen = total_yen, refund_state = 'due'
         WHERE number = $3 AND status = 'issued' AND (lease_until IS NULL OR lease_until <= $2)",
    )
    .bind(why.to_string())
    .bind(ms(now))
    .bind(number.to_string())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    let refund: i64 = sqlx::query("SELECT refund_yen FROM issuances WHERE number = $1")
        .bind(number.to_string())
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    audit::append(&mut tx, &Entry::new(actor, "issuance.voided", number, json!({ "reason": why }))).await?;
    audit::append(&mut tx, &Entry::new(actor, "refund.due", number, json!({ "refund_yen": refund, "reason": why })))
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Voids issuances without an outcome after `outcome_timeout_s`. Safe on every instance.
pub async fn sweep(ctx: &Context, now: OffsetDateTime) -> Result<Vec<String>, ApiError> {
    let cutoff = ms(now) - ctx.config.outcome_timeout_s * 1000;
    let rows = sqlx::query(
        "SELECT number FROM issuances WHERE status = 'issued' AND issued_at < $1 ORDER BY issued_at LIMIT 500",
    )
    .bind(cutoff)
    .fetch_all(&ctx.db.pool)
    .await?;
    let mut voided = Vec::new();
    for r in rows {
        let n: String = r.get(0);
        if void_pending(ctx, &n, "unconfirmed: no outcome within outcome_timeout_s", "system", now).await? {
            voided.push(n);
        }
    }
    // Unanswered challenges are of no use after a day.
    let _gate = ctx.db.write_gate().await;
    sqlx::query("DELETE FROM sessions WHERE state = 'challenged' AND challenge_expires_at < $1")
        .bind(ms(now) - 86_400_000)
        .execute(&ctx.db.pool)
        .await?;
    Ok(voided)
}

pub async fn close_session(
    ctx: &Context,
    who: &Principal,
    session_id: &str,
    now: OffsetDateTime,
) -> Result<CloseReply, ApiError> {
    let (kiosk, _) = kiosk_of(who)?;
    let s = load_session(ctx, session_id).await?;
    if s.kiosk_id != kiosk {
        return Err(ApiError::new(ErrorCode::SessionKioskMismatch, "this session belongs to another kiosk"));
    }
    let gate = ctx.db.write_gate().await;
    sqlx::query("UPDATE sessions SET state = 'closed' WHERE id = $1 AND kiosk_id = $2")
        .bind(s.id.clone())
        .bind(kiosk.to_string())
        .execute(&ctx.db.pool)
        .await?;
    drop(gate);
    let pending = sqlx::query("SELECT number FROM issuances WHERE session_id = $1 AND status = 'issued'")
        .bind(s.id.clone())
        .fetch_all(&ctx.db.pool)
        .await?;
    let mut voided = Vec::new();
    for r in pending {
        let n: String = r.get(0);
        if void_pending(ctx, &n, "session closed without an outcome", &who.actor(), now).await? {
            voided.push(n);
        }
    }
    Ok(CloseReply { session_id: s.id, voided })
}
