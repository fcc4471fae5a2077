//! What the console reads for one municipality: its settlement per day and store, its refunds,
//! one issuance's state, the configuration history. Read-only; never a document's contents
//! (no payload, no holder) leaves here.

use crate::error::ApiError;
use madoguchi_api::DocumentKind;
use serde::Serialize;
use sqlx::Row;

/// A moment as a clerk reads it: `2026-12-03 05:12:16 JST`.
pub fn jst_time(ms: i64) -> String {
    let t = madoguchi_api::municipality::jst(crate::db::from_ms(ms));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} JST",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// One store's issuances of one document on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SettlementRow {
    pub store: String,
    pub document: String,
    pub title: String,
    pub issuances: i64,
    pub printed: i64,
    pub voided: i64,
    pub pending: i64,
    pub copies_printed: i64,
    pub charged_yen: i64,
    pub refunded_yen: i64,
    pub net_yen: i64,
}

/// The day's settlement: rows per store and document, and the totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settlement {
    pub date: String,
    pub rows: Vec<SettlementRow>,
    pub total: SettlementRow,
}

/// Counts as the kiosk's `/v1/settlement` does (a late `printed` is printed; a voided issuance's
/// refund is refunded), but for every store of this municipality.
pub async fn settlement(pool: &sqlx::AnyPool, code: &str, date: &str) -> Result<Settlement, ApiError> {
    let rows = sqlx::query(
        "SELECT store, document, status, copies, total_yen, refund_yen FROM issuances WHERE municipality_code = $1 AND local_date = $2 ORDER BY store, document",
    )
    .bind(code.to_string())
    .bind(date.to_string())
    .fetch_all(pool)
    .await?;
    let mut by: std::collections::BTreeMap<(String, String), SettlementRow> = Default::default();
    let mut total = SettlementRow { store: "合計 Total".into(), ..Default::default() };
    for r in &rows {
        let (store, doc, status): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let (copies, charged, refund): (i64, i64, i64) = (r.get(3), r.get(4), r.get(5));
        let title = DocumentKind::parse(&doc).map(|k| k.title().to_string()).unwrap_or_else(|| doc.clone());
        let line = by.entry((store.clone(), doc.clone())).or_insert(SettlementRow {
            store,
            document: doc,
            title,
            ..Default::default()
        });
        for l in [&mut *line, &mut total] {
            l.issuances += 1;
            l.charged_yen += charged;
            match status.as_str() {
                "printed" | "printed_late" => {
                    l.printed += 1;
                    l.copies_printed += copies;
                }
                "voided" => {
                    l.voided += 1;
                    l.refunded_yen += refund;
                }
                _ => l.pending += 1,
            }
            l.net_yen = l.charged_yen - l.refunded_yen;
        }
    }
    Ok(Settlement { date: date.to_string(), rows: by.into_values().collect(), total })
}

/// A CSV field: quoted when needed; a leading `= + - @` is defused so a spreadsheet never runs it.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The settlement as CSV (UTF-8 with a byte-order mark, so Excel in Japan reads the 漢字).
pub fn settlement_csv(code: &str, s: &Settlement) -> String {
    let mut out = String::from("\u{feff}date,municipality_code,store,document,title,issuances,printed,voided,pending,copies_printed,charged_yen,refunded_yen,net_yen\r\n");
    for r in s.rows.iter().chain(std::iter::once(&s.total)) {
        let fields = [
            s.date.clone(),
            code.to_string(),
            r.store.clone(),
            r.document.clone(),
            r.title.clone(),
            r.issuances.to_string(),
            r.printed.to_string(),
            r.voided.to_string(),
            r.pending.to_string(),
            r.copies_printed.to_string(),
            r.charged_yen.to_string(),
            r.refunded_yen.to_string(),
            r.net_yen.to_string(),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Refund {
    pub number: String,
    pub date: String,
    pub store: String,
    pub kiosk: String,
    pub title: String,
    pub refund_yen: i64,
    pub state: String,
    pub paid_yen: i64,
    pub paid_at: String,
    pub reason: String,
}

/// Voided issuances with money to give back: due, paid at the kiosk, or cancelled (printed late).
pub async fn refunds(pool: &sqlx::AnyPool, code: &str) -> Result<Vec<Refund>, ApiError> {
    let rows = sqlx::query(
        "SELECT number, local_date, store, kiosk_id, document, refund_yen, refund_state, refund_paid_yen, refund_paid_at, outcome_reason FROM issuances
         WHERE municipality_code = $1 AND refund_state IN ('due', 'paid_at_kiosk', 'cancelled') ORDER BY issued_at DESC LIMIT 500",
    )
    .bind(code.to_string())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let doc: String = r.get(4);
            Refund {
                number: r.get(0),
                date: r.get(1),
                store: r.get(2),
                kiosk: r.get(3),
                title: DocumentKind::parse(&doc).map(|k| k.title().to_string()).unwrap_or(doc),
                refund_yen: r.get(5),
                state: r.get(6),
                paid_yen: r.get(7),
                paid_at: r.get::<Option<i64>, _>(8).map(jst_time).unwrap_or_default(),
                reason: r.get::<Option<String>, _>(9).unwrap_or_default(),
            }
        })
        .collect())
}

/// One issuance as the municipality may see it: its state, never its contents.
#[derive(Debug, Clone, Serialize)]
pub struct IssuanceState {
    pub number: String,
    pub title: String,
    pub date: String,
    pub issued_at: String,
    pub store: String,
    pub kiosk: String,
    pub copies: i64,
    pub total_yen: i64,
    pub status: String,
    pub outcome_at: String,
    pub refund_state: String,
    pub refund_yen: i64,
}

/// Only this municipality's issuances are found (another's number looks like no number).
pub async fn issuance(pool: &sqlx::AnyPool, code: &str, number: &str) -> Result<Option<IssuanceState>, ApiError> {
    if number.len() > 40 {
        return Ok(None);
    }
    let r = sqlx::query(
        "SELECT number, document, local_date, issued_at, store, kiosk_id, copies, total_yen, status, outcome_at, refund_state, refund_yen
         FROM issuances WHERE number = $1 AND municipality_code = $2",
    )
    .bind(number.to_string())
    .bind(code.to_string())
    .fetch_optional(pool)
    .await?;
    Ok(r.map(|r| {
        let doc: String = r.get(1);
        IssuanceState {
            number: r.get(0),
            title: DocumentKind::parse(&doc).map(|k| k.title().to_string()).unwrap_or(doc),
            date: r.get(2),
            issued_at: jst_time(r.get(3)),
            store: r.get(4),
            kiosk: r.get(5),
            copies: r.get(6),
            total_yen: r.get(7),
            status: r.get(8),
            outcome_at: r.get::<Option<i64>, _>(9).map(jst_time).unwrap_or_default(),
            refund_state: r.get(10),
            refund_yen: r.get(11),
        }
    }))
}

/// One saved configuration change, from the audit chain.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigChange {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub config_version: String,
    pub catalog_version: String,
    pub changed: String,
}

pub async fn config_history(pool: &sqlx::AnyPool, code: &str) -> Result<Vec<ConfigChange>, ApiError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, detail FROM audit_log WHERE action = 'config.changed' AND subject = $1 ORDER BY seq DESC LIMIT 20",
    )
    .bind(code.to_string())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let detail: serde_json::Value = serde_json::from_str(&r.get::<String, _>(3)).unwrap_or_default();
            let list = |k: &str| {
                detail[k].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", "))
            };
            ConfigChange {
                seq: r.get(0),
                at: jst_time(r.get(1)),
                actor: r.get(2),
                config_version: detail["config_version"].to_string(),
                catalog_version: detail["catalog_version"].to_string(),
                changed: list("changed")
                    .map(|fields| fields.split(", ").map(super::change::label).collect::<Vec<_>>().join("、"))
                    .unwrap_or_default(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_japan_time() {
        // 2026-12-02T20:12:16Z is 05:12:16 on the 3rd in Japan.
        assert_eq!(jst_time(1_796_242_336_000), "2026-12-03 05:12:16 JST");
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("清瀬中里店"), "清瀬中里店");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        let s = Settlement {
            date: "2026-12-02".into(),
            rows: vec![SettlementRow {
                store: "店".into(),
                document: "inkan".into(),
                charged_yen: 300,
                net_yen: 300,
                ..Default::default()
            }],
            total: SettlementRow { store: "合計 Total".into(), charged_yen: 300, net_yen: 300, ..Default::default() },
        };
        let csv = settlement_csv("132217", &s);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(lines[0].starts_with("\u{feff}date,"));
        assert_eq!(lines[1], "2026-12-02,132217,店,inkan,,0,0,0,0,0,300,0,300");
        assert_eq!(lines.len(), 4, "header, one row, total, and the final newline");
    }
}
