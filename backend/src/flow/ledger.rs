//! What is read back after issuance: the public verification of a printed document, and a
//! store's daily settlement.

use super::context::{kiosk_of, Context, Principal};
use crate::error::ApiError;
use crate::registry;
use madoguchi_api::v1::{SettlementLine, SettlementReply, VerifyReply};
use madoguchi_api::{DocumentKind, ErrorCode};
use sqlx::Row;

pub async fn verify(ctx: &Context, number: &str, code: &str) -> Result<VerifyReply, ApiError> {
    let fail = || ApiError::new(ErrorCode::VerificationFailed, "no genuine document with this number and code");
    // The code is checked before the database is asked, so a wrong code costs the same whether
    // the number exists or not.
    if number.len() > 40 || code.len() > 40 || !ctx.key.check_verification_code(number, code) {
        return Err(fail());
    }
    let r = sqlx::query("SELECT number, document, municipality_code, local_date, holder_name, status, payload_sha256 FROM issuances WHERE number = $1")
        .bind(number.to_string())
        .fetch_optional(&ctx.db.pool)
        .await?
        .ok_or_else(fail)?;
    let kind = DocumentKind::parse(&r.get::<String, _>(1)).ok_or_else(fail)?;
    let code: String = r.get(2);
    let name = registry::municipality(&ctx.db.pool, &code).await?.map(|m| m.municipality.name).unwrap_or_default();
    let status: String = r.get(5);
    Ok(VerifyReply {
        issuance_number: r.get(0),
        genuine: true,
        document: kind,
        title: kind.title().into(),
        municipality_code: code,
        municipality_name: name,
        issued_on: r.get(3),
        holder_name: r.get(4),
        status: if status == "voided" { "voided".into() } else { "valid".into() },
        payload_sha256: r.get(6),
    })
}

pub async fn settlement(ctx: &Context, who: &Principal, date: &str) -> Result<SettlementReply, ApiError> {
    let (_, store) = kiosk_of(who)?;
    if time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]")).is_err() || date.len() != 10 {
        return Err(ApiError::field(ErrorCode::InvalidField, "date", "must be YYYY-MM-DD"));
    }
    let rows = sqlx::query(
        "SELECT municipality_code, document, status, copies, total_yen, refund_yen, number, refund_state FROM issuances WHERE store = $1 AND local_date = $2 ORDER BY number",
    )
    .bind(store.to_string())
    .bind(date.to_string())
    .fetch_all(&ctx.db.pool)
    .await?;
    let mut lines: std::collections::BTreeMap<(String, String), SettlementLine> = Default::default();
    let mut refunds_due = Vec::new();
    for r in &rows {
        let (code, doc, status): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let (copies, total, refund): (i64, i64, i64) = (r.get(3), r.get(4), r.get(5));
        let Some(kind) = DocumentKind::parse(&doc) else { continue };
        let l = lines.entry((code.clone(), doc)).or_insert(SettlementLine {
            municipality_code: code,
            document: kind,
            issuances: 0,
            copies_printed: 0,
            printed: 0,
            voided: 0,
            pending: 0,
            charged_yen: 0,
            refunded_yen: 0,
            net_yen: 0,
        });
        l.issuances += 1;
        l.charged_yen += total;
        match status.as_str() {
            // A late `printed` for an issuance voided meanwhile: the paper is valid.
            "printed" | "printed_late" => {
                l.printed += 1;
                l.copies_printed += copies;
            }
            "voided" => {
                l.voided += 1;
                l.refunded_yen += refund;
                if r.get::<String, _>(7) == "due" {
                    refunds_due.push(r.get::<String, _>(6));
                }
            }
            _ => l.pending += 1,
        }
        l.net_yen = l.charged_yen - l.refunded_yen;
    }
    let lines: Vec<SettlementLine> = lines.into_values().collect();
    let charged = lines.iter().map(|l| l.charged_yen).sum();
    let refunded = lines.iter().map(|l| l.refunded_yen).sum();
    Ok(SettlementReply {
        store: store.to_string(),
        date: date.to_string(),
        lines,
        charged_yen: charged,
        refunded_yen: refunded,
        net_yen: charged - refunded,
        refunds_due,
    })
}
