//! Registry storage: municipalities, residents, households, 戸籍, tax records, seals and the
//! certificate-to-resident links; reads for the flow and writes for `load-world`.

use crate::db::{now_ms, WriteTx};
use crate::domain::{
    Household, Koseki, Municipality, MunicipalityConfig, MunicipalityView, Resident, ResidentDetails, ResidentStatus,
    ResidentView, SealRegistration, TaxRecord,
};
use crate::error::{ApiError, ErrorCode};
use sqlx::any::AnyRow;
use sqlx::Row;

const RESIDENT_COLS: &str =
    "id, household_id, municipality_code, koseki_id, name, name_kana, birth_date, sex, relationship, address, status, restricted, koseki_registered, details";

fn resident_from(r: &AnyRow) -> Resident {
    Resident {
        id: r.get(0),
        household_id: r.get(1),
        municipality_code: r.get(2),
        koseki_id: r.get(3),
        name: r.get(4),
        name_kana: r.get(5),
        birth_date: r.get(6),
        sex: r.get(7),
        relationship: r.get(8),
        address: r.get(9),
        status: ResidentStatus::parse(&r.get::<String, _>(10)),
        restricted: r.get::<i64, _>(11) != 0,
        koseki_registered: r.get::<i64, _>(12) != 0,
        details: serde_json::from_str::<ResidentDetails>(&r.get::<String, _>(13)).unwrap_or_default(),
    }
}

pub async fn resident<'e, E>(ex: E, id: &str) -> Result<Option<Resident>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query(&format!("SELECT {RESIDENT_COLS} FROM residents WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(resident_from))
}

/// Everything the offers and documents need about one resident: the materialised view, or
/// built from the tables if there is none.
pub async fn resident_view(pool: &crate::db::Pool, id: &str) -> Result<ResidentView, ApiError> {
    if let Some(r) = sqlx::query("SELECT view FROM resident_views WHERE resident_id = $1")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?
    {
        if let Ok(v) = serde_json::from_str::<ResidentView>(&r.get::<String, _>(0)) {
            return Ok(v);
        }
    }
    build_resident_view(pool, id).await
}

/// Rebuilds every resident's materialised view from the tables (after a registry change).
pub async fn rebuild_views(db: &crate::db::Db) -> Result<usize, ApiError> {
    let ids: Vec<String> = sqlx::query("SELECT id FROM residents ORDER BY id")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut views = Vec::new();
    for id in &ids {
        views.push(build_resident_view(&db.pool, id).await?);
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM resident_views").execute(&mut *tx).await?;
    for v in views {
        sqlx::query(
            "INSERT INTO resident_views (resident_id, residence_code, honseki_code, view) VALUES ($1, $2, $3, $4)",
        )
        .bind(v.resident.id.clone())
        .bind(v.resident.municipality_code.clone().unwrap_or_default())
        .bind(v.koseki.as_ref().map(|k| k.municipality_code.clone()).unwrap_or_default())
        .bind(serde_json::to_string(&v).expect("view serialises"))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(ids.len())
}

/// Builds a resident's view from the registry tables.
pub async fn build_resident_view(pool: &crate::db::Pool, id: &str) -> Result<ResidentView, ApiError> {
    let me = resident(pool, id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::CertificateUnlinked, "the linked resident is not in the registry"))?;
    let hh = me.household_id.clone().unwrap_or_default();
    let kk = me.koseki_id.clone().unwrap_or_default();
    let related = sqlx::query(&format!(
        "SELECT {RESIDENT_COLS} FROM residents WHERE household_id = $1 OR koseki_id = $2 ORDER BY id"
    ))
    .bind(hh.clone())
    .bind(kk.clone())
    .fetch_all(pool)
    .await?;
    let related: Vec<Resident> = related.iter().map(resident_from).collect();
    let household = if hh.is_empty() {
        None
    } else {
        sqlx::query("SELECT id, municipality_code, address, head_id FROM households WHERE id = $1")
            .bind(hh.clone())
            .fetch_optional(pool)
            .await?
            .map(|r| Household { id: r.get(0), municipality_code: r.get(1), address: r.get(2), head_id: r.get(3) })
    };
    let koseki = if kk.is_empty() { None } else { koseki(pool, &kk).await? };
    let head = household.as_ref().and_then(|h| h.head_id.clone());
    let mut household_members: Vec<Resident> =
        related.iter().filter(|r| !hh.is_empty() && r.household_id.as_deref() == Some(hh.as_str())).cloned().collect();
    household_members.sort_by_key(|r| (Some(&r.id) != head.as_ref(), r.id.clone()));
    let koseki_members =
        related.iter().filter(|r| !kk.is_empty() && r.koseki_id.as_deref() == Some(kk.as_str())).cloned().collect();
    let tax_records = sqlx::query("SELECT record FROM tax_records WHERE resident_id = $1 ORDER BY fiscal_year DESC")
        .bind(id.to_string())
        .fetch_all(pool)
        .await?
        .iter()
        .filter_map(|r| serde_json::from_str::<TaxRecord>(&r.get::<String, _>(0)).ok())
        .collect();
    let seal = sqlx::query("SELECT record FROM seal_registrations WHERE resident_id = $1")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?
        .and_then(|r| serde_json::from_str::<SealRegistration>(&r.get::<String, _>(0)).ok());
    Ok(ResidentView { resident: me, household, household_members, koseki, koseki_members, tax_records, seal })
}

pub async fn koseki<'e, E>(ex: E, id: &str) -> Result<Option<Koseki>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query("SELECT id, municipality_code, honseki, hittousha FROM koseki WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?
        .map(|r| Koseki { id: r.get(0), municipality_code: r.get(1), honseki: r.get(2), hittousha: r.get(3) }))
}

fn municipality_from(r: &AnyRow) -> Result<MunicipalityView, ApiError> {
    municipality_at(r, 0)
}

/// A municipality from five columns starting at `i` (code, name, prefecture, config, version).
pub fn municipality_at(r: &AnyRow, i: usize) -> Result<MunicipalityView, ApiError> {
    let config: MunicipalityConfig = serde_json::from_str(&r.get::<String, _>(i + 3)).map_err(|e| {
        log::error!("stored configuration does not parse: {e}");
        ApiError::new(ErrorCode::Internal, "stored municipality configuration is unreadable")
    })?;
    Ok(MunicipalityView {
        municipality: Municipality { code: r.get(i), name: r.get(i + 1), prefecture: r.get(i + 2) },
        config,
        config_version: r.get(i + 4),
    })
}

pub async fn municipality<'e, E>(ex: E, code: &str) -> Result<Option<MunicipalityView>, ApiError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    match sqlx::query("SELECT code, name, prefecture, config, config_version FROM municipalities WHERE code = $1")
        .bind(code.to_string())
        .fetch_optional(ex)
        .await?
    {
        Some(r) => Ok(Some(municipality_from(&r)?)),
        None => Ok(None),
    }
}

pub async fn municipalities(pool: &crate::db::Pool) -> Result<Vec<MunicipalityView>, ApiError> {
    sqlx::query("SELECT code, name, prefecture, config, config_version FROM municipalities ORDER BY code")
        .fetch_all(pool)
        .await?
        .iter()
        .map(municipality_from)
        .collect()
}

/// The municipalities that matter to this resident (residence and 本籍).
/// With the catalog version, in one round trip.
pub async fn municipalities_for(
    pool: &crate::db::Pool,
    view: &ResidentView,
) -> Result<(Vec<MunicipalityView>, i64), ApiError> {
    let residence = view.resident.municipality_code.clone().unwrap_or_default();
    let honseki = view.koseki.as_ref().map(|k| k.municipality_code.clone()).unwrap_or_default();
    let rows = sqlx::query(
        "SELECT c.version, m.code, m.name, m.prefecture, m.config, m.config_version FROM catalog_state c
         LEFT JOIN municipalities m ON m.code = $1 OR m.code = $2 WHERE c.id = 1 ORDER BY m.code",
    )
    .bind(residence)
    .bind(honseki)
    .fetch_all(pool)
    .await?;
    let mut version = 0;
    let mut out = Vec::new();
    for r in &rows {
        version = r.get(0);
        if r.get::<Option<String>, _>(1).is_none() {
            continue;
        }
        let config: MunicipalityConfig = serde_json::from_str(&r.get::<String, _>(4)).map_err(|e| {
            log::error!("stored configuration does not parse: {e}");
            ApiError::new(ErrorCode::Internal, "stored municipality configuration is unreadable")
        })?;
        out.push(MunicipalityView {
            municipality: Municipality { code: r.get(1), name: r.get(2), prefecture: r.get(3) },
            config,
            config_version: r.get(5),
        });
    }
    Ok((out, version))
}

pub async fn catalog_version<'e, E>(ex: E) -> Result<i64, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query("SELECT version FROM catalog_state WHERE id = 1").fetch_one(ex).await?.get(0))
}

// ---------------------------------------------------------------------------------------------
// Writes (load-world)

pub async fn upsert_municipality(
    tx: &mut WriteTx,
    m: &Municipality,
    config: &MunicipalityConfig,
) -> Result<(), sqlx::Error> {
    let json = serde_json::to_string(config).expect("config serialises");
    sqlx::query(
        "INSERT INTO municipalities (code, name, prefecture, config, config_version, updated_at) VALUES ($1, $2, $3, $4, 1, $5)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, prefecture = excluded.prefecture, config = excluded.config,
         config_version = municipalities.config_version + 1, updated_at = excluded.updated_at",
    )
    .bind(m.code.clone())
    .bind(m.name.clone())
    .bind(m.prefecture.clone())
    .bind(json)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn bump_catalog(tx: &mut WriteTx) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query("UPDATE catalog_state SET version = version + 1 WHERE id = 1 RETURNING version")
        .fetch_one(&mut **tx)
        .await?
        .get(0))
}

pub async fn upsert_household(tx: &mut WriteTx, h: &Household) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO households (id, municipality_code, address, head_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET municipality_code = excluded.municipality_code, address = excluded.address, head_id = excluded.head_id",
    )
    .bind(h.id.clone())
    .bind(h.municipality_code.clone())
    .bind(h.address.clone())
    .bind(h.head_id.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn upsert_koseki(tx: &mut WriteTx, k: &Koseki) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO koseki (id, municipality_code, honseki, hittousha) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET municipality_code = excluded.municipality_code, honseki = excluded.honseki, hittousha = excluded.hittousha",
    )
    .bind(k.id.clone())
    .bind(k.municipality_code.clone())
    .bind(k.honseki.clone())
    .bind(k.hittousha.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn upsert_resident(tx: &mut WriteTx, r: &Resident) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO residents (id, household_id, municipality_code, koseki_id, name, name_kana, birth_date, sex, relationship, address, status, restricted, koseki_registered, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (id) DO UPDATE SET household_id = excluded.household_id, municipality_code = excluded.municipality_code,
         koseki_id = excluded.koseki_id, name = excluded.name, name_kana = excluded.name_kana, birth_date = excluded.birth_date,
         sex = excluded.sex, relationship = excluded.relationship, address = excluded.address, status = excluded.status,
         restricted = excluded.restricted, koseki_registered = excluded.koseki_registered, details = excluded.details",
    )
    .bind(r.id.clone())
    .bind(r.household_id.clone())
    .bind(r.municipality_code.clone())
    .bind(r.koseki_id.clone())
    .bind(r.name.clone())
    .bind(r.name_kana.clone())
    .bind(r.birth_date.clone())
    .bind(r.sex.clone())
    .bind(r.relationship.clone())
    .bind(r.address.clone())
    .bind(r.status.as_str())
    .bind(r.restricted as i64)
    .bind(r.koseki_registered as i64)
    .bind(serde_json::to_string(&r.details).expect("details serialise"))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn upsert_tax(tx: &mut WriteTx, resident_id: &str, t: &TaxRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tax_records (resident_id, municipality_code, fiscal_year, record) VALUES ($1, $2, $3, $4)
         ON CONFLICT (resident_id, municipality_code, fiscal_year) DO UPDATE SET record = excluded.record",
    )
    .bind(resident_id.to_string())
    .bind(t.municipality_code.clone())
    .bind(t.fiscal_year as i64)
    .bind(serde_json::to_string(t).expect("tax record serialises"))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn upsert_seal(tx: &mut WriteTx, s: &SealRegistration) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO seal_registrations (resident_id, municipality_code, record) VALUES ($1, $2, $3)
         ON CONFLICT (resident_id) DO UPDATE SET municipality_code = excluded.municipality_code, record = excluded.record",
    )
    .bind(s.resident_id.clone())
    .bind(s.municipality_code.clone())
    .bind(serde_json::to_string(s).expect("seal serialises"))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Links a user-authentication certificate (by issuer and serial) to a resident.
pub async fn link_certificate(
    tx: &mut WriteTx,
    issuer: &str,
    serial: &str,
    resident_id: &str,
    token: &str,
    fingerprint: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cert_links (issuer, serial, resident_id, token, fingerprint) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (issuer, serial) DO UPDATE SET resident_id = excluded.resident_id, token = excluded.token, fingerprint = excluded.fingerprint",
    )
    .bind(issuer.to_string())
    .bind(serial.to_string())
    .bind(resident_id.to_string())
    .bind(token.to_string())
    .bind(fingerprint.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How a certificate names its issuing CA for links and revocation: the authority key
/// identifier (several CA generations share one DN), else the DN.
pub fn issuer_id_of_cert(cert: &madoguchi_certs::JpkiCertificate) -> String {
    match cert.authority_key_id() {
        Some(aki) => hex::encode(aki),
        None => format!("dn:{}", cert.issuer()),
    }
}

/// The same name for an anchor (its subject key identifier, else its DN).
pub fn issuer_id_of_anchor(anchor: &madoguchi_certs::JpkiCertificate) -> String {
    match anchor.subject_key_id() {
        Some(ski) => hex::encode(ski),
        None => format!("dn:{}", anchor.subject()),
    }
}
