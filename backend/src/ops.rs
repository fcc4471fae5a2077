//! Operator commands that work on the database and key directory directly: enrolment and
//! revocation of kiosk and administrator credentials, CRL import, `load-world`.

use crate::audit::{self, Entry};
use crate::db::{ms, now_ms, Db};
use crate::pki::{CredentialInfo, Keys};
use crate::registry;
use madoguchi_certs::{Crl, RevocationReason, TrustAnchors};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::path::Path;

pub type OpResult<T> = Result<T, String>;

fn e<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |err| format!("{what}: {err}")
}

fn check_id(kind: &str, id: &str) -> OpResult<()> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(format!("{kind} id must be 1–64 characters of A–Z a–z 0–9 - _ ."));
    }
    Ok(())
}

/// Issues a client certificate and registers it. `kind` is `kiosk` or `admin`.
pub async fn enroll(db: &Db, keys: &Keys, info: CredentialInfo, out: &Path) -> OpResult<String> {
    check_id(&info.kind, &info.id)?;
    if let Some(store) = &info.store {
        if store.trim().is_empty() || store.chars().count() > 100 || store.chars().any(|c| c.is_control()) {
            return Err("store name must be 1–100 printable characters".into());
        }
    }
    if let Some(code) = &info.municipality_code {
        if registry::municipality(&db.pool, code).await.map_err(|x| x.to_string())?.is_none() {
            return Err(format!("no municipality {code} (run load-world first)"));
        }
    }
    let active: i64 = sqlx::query("SELECT COUNT(*) FROM credentials WHERE kind = $1 AND id = $2 AND status = 'active'")
        .bind(info.kind.clone())
        .bind(info.id.clone())
        .fetch_one(&db.pool)
        .await
        .map_err(e("database"))?
        .get(0);
    if active > 0 {
        return Err(format!("{} {} already has an active credential; revoke it first", info.kind, info.id));
    }
    let fp = keys.issue_client(&info, out).map_err(e("issuing the certificate"))?;
    let mut tx = db.begin_write().await.map_err(e("database"))?;
    sqlx::query("INSERT INTO credentials (fingerprint, kind, id, store, municipality_code, status, issued_at) VALUES ($1, $2, $3, $4, $5, 'active', $6)")
        .bind(fp.clone())
        .bind(info.kind.clone())
        .bind(info.id.clone())
        .bind(info.store.clone())
        .bind(info.municipality_code.clone())
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(e("database"))?;
    audit::append(
        &mut tx,
        &Entry::new(
            "cli",
            &format!("{}.enrolled", info.kind),
            info.id.clone(),
            json!({ "fingerprint": fp, "store": info.store, "municipality_code": info.municipality_code }),
        ),
    )
    .await
    .map_err(e("audit"))?;
    tx.commit().await.map_err(e("database"))?;
    Ok(fp)
}

/// Revokes every active credential of this kiosk or administrator.
pub async fn revoke(db: &Db, kind: &str, id: &str) -> OpResult<u64> {
    let mut tx = db.begin_write().await.map_err(e("database"))?;
    let n = sqlx::query(
        "UPDATE credentials SET status = 'revoked', revoked_at = $1 WHERE kind = $2 AND id = $3 AND status = 'active'",
    )
    .bind(now_ms())
    .bind(kind.to_string())
    .bind(id.to_string())
    .execute(&mut *tx)
    .await
    .map_err(e("database"))?
    .rows_affected();
    if n == 0 {
        return Err(format!("no active {kind} credential with id {id}"));
    }
    audit::append(&mut tx, &Entry::new("cli", &format!("{kind}.revoked"), id, json!({ "credentials": n })))
        .await
        .map_err(e("audit"))?;
    tx.commit().await.map_err(e("database"))?;
    Ok(n)
}

pub async fn list_credentials(db: &Db) -> OpResult<Vec<serde_json::Value>> {
    let rows = sqlx::query("SELECT kind, id, store, municipality_code, status, fingerprint, issued_at, revoked_at FROM credentials ORDER BY kind, id, issued_at")
        .fetch_all(&db.pool)
        .await
        .map_err(e("database"))?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "kind": r.get::<String, _>(0), "id": r.get::<String, _>(1), "store": r.get::<Option<String>, _>(2),
                "municipality_code": r.get::<Option<String>, _>(3), "status": r.get::<String, _>(4),
                "fingerprint": r.get::<String, _>(5), "issued_at": crate::db::rfc3339(r.get::<i64, _>(6)),
                "revoked_at": r.get::<Option<i64>, _>(7).map(crate::db::rfc3339),
            })
        })
        .collect())
}

/// Normalised serial: lower-case hex without leading zeros.
pub fn serial_key(hex_serial: &str) -> String {
    let s = hex_serial.trim().to_ascii_lowercase();
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        "0".into()
    } else {
        t.into()
    }
}

/// Imports a CRL after checking its signature against the pinned anchors: the issuer's list of
/// revoked and suspended serials is replaced by the CRL's (a lifted hold disappears). A CRL older
/// than the one imported is refused.
pub async fn import_crl(db: &Db, anchors: &TrustAnchors, der: &[u8], source: &str) -> OpResult<(String, usize)> {
    let crl = Crl::from_der(der).map_err(e("CRL"))?;
    let anchor = anchors.crl_issuer(&crl).map_err(e("CRL signature (is its CA pinned in jpki_anchors_dir?)"))?;
    let issuer = registry::issuer_id_of_anchor(anchor.cert());
    let this_update = ms(crl.this_update());
    let mut tx = db.begin_write().await.map_err(e("database"))?;
    if let Some(r) = sqlx::query("SELECT this_update FROM jpki_crls WHERE issuer = $1")
        .bind(issuer.clone())
        .fetch_optional(&mut *tx)
        .await
        .map_err(e("database"))?
    {
        let prev: i64 = r.get(0);
        if prev > this_update {
            return Err(format!(
                "{source}: older than the CRL already imported for this CA ({})",
                crate::db::rfc3339(prev)
            ));
        }
    }
    sqlx::query("DELETE FROM jpki_revocations WHERE issuer = $1")
        .bind(issuer.clone())
        .execute(&mut *tx)
        .await
        .map_err(e("database"))?;
    for entry in crl.entries() {
        sqlx::query("INSERT INTO jpki_revocations (issuer, serial, since, hold) VALUES ($1, $2, $3, $4) ON CONFLICT (issuer, serial) DO UPDATE SET since = excluded.since, hold = excluded.hold")
            .bind(issuer.clone())
            .bind(serial_key(&hex::encode(&entry.serial)))
            .bind(ms(entry.since))
            .bind((entry.reason == RevocationReason::Hold) as i64)
            .execute(&mut *tx)
            .await
            .map_err(e("database"))?;
    }
    let sha = hex::encode(Sha256::digest(der));
    sqlx::query(
        "INSERT INTO jpki_crls (issuer, issuer_name, this_update, next_update, crl_sha256, entries, imported_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (issuer) DO UPDATE SET issuer_name = excluded.issuer_name, this_update = excluded.this_update, next_update = excluded.next_update,
         crl_sha256 = excluded.crl_sha256, entries = excluded.entries, imported_at = excluded.imported_at",
    )
    .bind(issuer.clone())
    .bind(crl.issuer())
    .bind(this_update)
    .bind(crl.next_update().map(ms))
    .bind(sha.clone())
    .bind(crl.entries().len() as i64)
    .bind(now_ms())
    .execute(&mut *tx)
    .await
    .map_err(e("database"))?;
    audit::append(
        &mut tx,
        &Entry::new(
            "cli",
            "crl.imported",
            issuer.clone(),
            json!({ "source": source, "sha256": sha, "entries": crl.entries().len() }),
        ),
    )
    .await
    .map_err(e("audit"))?;
    tx.commit().await.map_err(e("database"))?;
    Ok((crl.issuer(), crl.entries().len()))
}

/// Erases the payloads of documents whose outcome is older than `retention_days` (they hold the
/// resident's data, possibly the 個人番号; what printed paper needs later is the number, the
/// verification code and `payload_sha256`, which stay). Issuances still waiting for an outcome
/// are never touched. Audited with the count. Returns the number erased.
pub async fn erase_payloads(db: &Db, retention_days: i64, now_ms: i64) -> Result<u64, sqlx::Error> {
    if retention_days <= 0 {
        return Ok(0);
    }
    let cutoff = now_ms - retention_days * 86_400_000;
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE issuances SET payload = '', payload_erased_at = $1
         WHERE status <> 'issued' AND outcome_at IS NOT NULL AND outcome_at < $2 AND payload_erased_at IS NULL",
    )
    .bind(now_ms)
    .bind(cutoff)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n > 0 {
        audit::append(
            &mut tx,
            &Entry::new(
                "system",
                "payload.erased",
                "issuances",
                json!({ "count": n, "outcome_before": crate::db::rfc3339(cutoff), "retention_days": retention_days }),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// Erases expired payloads hourly until the process ends.
pub async fn payload_eraser(ctx: crate::flow::Ctx) {
    loop {
        match erase_payloads(&ctx.db, ctx.config.payload_retention_days, now_ms()).await {
            Ok(0) => {}
            Ok(n) => log::info!("erased {n} document payload(s) past payload_retention_days"),
            Err(e) => log::warn!("payload erasure failed: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// load-world: imports the demo world's registry.json with the one registry schema (registry.rs).

pub use crate::registry::{load_world, LoadReport};

/// `load-world`'s part for PIN resets: the world's card-management key
/// (`<world>/pki/card-management-key.pem`, the private half of what its cards hold) copied to
/// `dest` with mode 0600, after checking it is a key. `None` when the world has none.
pub async fn install_card_management_key(db: &Db, world: &Path, dest: &Path) -> OpResult<Option<String>> {
    let src = world.join("pki").join(crate::pki::CARD_MANAGEMENT_KEY);
    let Some(key) = crate::signing::CardManagementKey::load(&src).map_err(|x| x.to_string())? else {
        return Ok(None);
    };
    let pem = zeroize::Zeroizing::new(std::fs::read_to_string(&src).map_err(e("card-management key"))?);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(e("key directory"))?;
    }
    crate::pki::write_private(dest, &pem).map_err(e("card-management key"))?;
    let public = hex::encode(key.public());
    audit::append_alone(
        db,
        &Entry::new("cli", "pin_reset.key_installed", dest.display().to_string(), json!({ "public_key": public })),
    )
    .await
    .map_err(e("audit"))?;
    Ok(Some(public))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn issuance(db: &Db, number: &str, status: &str, outcome_at: Option<i64>) {
        sqlx::query(
            "INSERT INTO issuances (number, session_id, kiosk_id, store, resident_id, cert_fingerprint, municipality_code, document, copies,
             fee_yen, total_yen, payment_reference, idempotency_key, request_hash, payload, payload_sha256, holder_name, issued_at,
             local_date, status, outcome_at, refund_yen, refund_state)
             VALUES ($1, 's', 'K1', 'store', 'R0001', 'fp', '132217', 'juminhyo', 1, 200, 200, 'cash', $1, 'h',
             '{\"my_number\":\"123456789012\"}', 'sha', 'name', 0, '2026-01-01', $2, $3, 0, 'none')",
        )
        .bind(number.to_string())
        .bind(status.to_string())
        .bind(outcome_at)
        .execute(&db.pool)
        .await
        .unwrap();
    }

    /// Payloads past the retention after their outcome are erased (once, audited); recent ones
    /// and issuances still waiting for an outcome keep theirs; the SHA-256 stays.
    #[tokio::test]
    async fn payloads_are_erased_after_the_retention_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            database: format!("sqlite://{}", dir.path().join("t.db").display()),
            ..Default::default()
        };
        let db = Db::connect(&config).await.unwrap();
        db.migrate().await.unwrap();
        let day = 86_400_000i64;
        let now = 400 * day;
        issuance(&db, "old-printed", "printed", Some(now - 91 * day)).await;
        issuance(&db, "old-voided", "voided", Some(now - 200 * day)).await;
        issuance(&db, "recent", "printed", Some(now - 89 * day)).await;
        issuance(&db, "waiting", "issued", None).await;
        assert_eq!(erase_payloads(&db, 0, now).await.unwrap(), 0, "0 keeps everything");
        assert_eq!(erase_payloads(&db, 90, now).await.unwrap(), 2);
        let rows: Vec<(String, String, String, Option<i64>)> =
            sqlx::query("SELECT number, payload, payload_sha256, payload_erased_at FROM issuances ORDER BY number")
                .fetch_all(&db.pool)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect();
        for (number, payload, sha, erased) in rows {
            let old = number.starts_with("old");
            assert_eq!(payload.is_empty(), old, "{number}");
            assert_eq!(erased.is_some(), old, "{number}");
            assert_eq!(sha, "sha", "{number}: the hash stays");
        }
        assert_eq!(erase_payloads(&db, 90, now).await.unwrap(), 0, "once");
        let audited: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'payload.erased'")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(audited, 1);
        assert!(crate::audit::verify(&db.pool).await.unwrap().ok);
    }
}
