//! Registry storage: municipalities, residents, households, 戸籍, tax records, seals and the
//! certificate-to-resident links; reads for the flow, and `load-world`'s import of a world's
//! `registry.json` (the schema of `madoguchi_api::registry`) into them.

use crate::audit::{self, Entry};
use crate::db::{now_ms, Db, WriteTx};
use crate::domain::{
    Household, Koseki, Municipality, MunicipalityView, Resident, ResidentDetails, ResidentStatus, ResidentView,
    SealRegistration,
};
use crate::error::ApiError;
use crate::ops::OpResult;
use madoguchi_api::municipality::MunicipalityConfig;
use madoguchi_api::payload::TaxRecord;
use madoguchi_api::registry::{self as schema, iso_date};
use madoguchi_api::ErrorCode;
use madoguchi_certs::{JpkiCertificate, TrustAnchors};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::Path;

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

/// Why a certificate link was refused.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Another certificate, or another resident, is linked under this issuer key and serial: a
    /// CA never issues one serial twice, so the registry data is wrong and nothing is replaced.
    #[error(
        "certificate serial {serial} of issuer {issuer} is linked to resident {linked_resident} (certificate {linked_fingerprint}); refusing to link it to resident {resident} (certificate {fingerprint})"
    )]
    Conflict {
        issuer: String,
        serial: String,
        linked_resident: String,
        linked_fingerprint: String,
        resident: String,
        fingerprint: String,
    },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl LinkError {
    pub fn kind(&self) -> &'static str {
        match self {
            LinkError::Conflict { .. } => "conflict",
            LinkError::Database(_) => "database",
        }
    }
}

/// Links a user-authentication certificate (by its issuer's key identity and serial, see
/// [`issuer_id_of_anchor`]) to a resident. Linking the same certificate to the same resident
/// again is a no-op (the token may change); anything else under the same key is refused.
pub async fn link_certificate(
    tx: &mut WriteTx,
    issuer: &str,
    serial: &str,
    resident_id: &str,
    token: &str,
    fingerprint: &str,
) -> Result<(), LinkError> {
    sqlx::query(
        "INSERT INTO cert_links (issuer, serial, resident_id, token, fingerprint) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (issuer, serial) DO NOTHING",
    )
    .bind(issuer.to_string())
    .bind(serial.to_string())
    .bind(resident_id.to_string())
    .bind(token.to_string())
    .bind(fingerprint.to_string())
    .execute(&mut **tx)
    .await?;
    let row = sqlx::query("SELECT resident_id, fingerprint FROM cert_links WHERE issuer = $1 AND serial = $2")
        .bind(issuer.to_string())
        .bind(serial.to_string())
        .fetch_one(&mut **tx)
        .await?;
    let (linked_resident, linked_fingerprint): (String, String) = (row.get(0), row.get(1));
    if linked_resident != resident_id || !linked_fingerprint.eq_ignore_ascii_case(fingerprint) {
        return Err(LinkError::Conflict {
            issuer: issuer.into(),
            serial: serial.into(),
            linked_resident,
            linked_fingerprint,
            resident: resident_id.into(),
            fingerprint: fingerprint.into(),
        });
    }
    sqlx::query("UPDATE cert_links SET token = $1 WHERE issuer = $2 AND serial = $3 AND token <> $1")
        .bind(token.to_string())
        .bind(issuer.to_string())
        .bind(serial.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records every certificate of a resident's card and phone tokens (`card_certificates`), each
/// with the card it is on, so that a PIN reset can tell a card without a signature certificate,
/// a revoked one and a phone's certificate apart. Replaces what an earlier import recorded.
async fn record_card_certificates(
    tx: &mut WriteTx,
    r: &schema::ResidentRecord,
    anchor_ids: &BTreeMap<(String, u8), String>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM card_certificates WHERE resident_id = $1").bind(r.id.clone()).execute(&mut **tx).await?;
    let card = r.card.auth_cert.sha256.to_ascii_lowercase();
    let mut rows: Vec<(&schema::CertRecord, String, &str, bool)> =
        vec![(&r.card.auth_cert, card.clone(), "card", true)];
    rows.extend(r.card.sign_cert.iter().map(|c| (c, card.clone(), "card", true)));
    rows.extend(r.card.previous_certs.iter().map(|c| (c, card.clone(), "card", false)));
    for p in &r.card.phones {
        let phone = p.auth_cert.sha256.to_ascii_lowercase();
        rows.push((&p.auth_cert, phone.clone(), p.token.as_str(), true));
        rows.push((&p.sign_cert, phone, p.token.as_str(), true));
    }
    for (c, card_fingerprint, token, on_card) in rows {
        let kind = match c.kind {
            schema::CertKind::Auth => "auth",
            schema::CertKind::Sign => "sign",
        };
        let status = match c.status {
            schema::CertStatus::Valid => "valid",
            schema::CertStatus::Expired => "expired",
            schema::CertStatus::Revoked => "revoked",
            schema::CertStatus::Suspended => "suspended",
        };
        let issuer = anchor_ids.get(&(kind.to_string(), c.issuer_generation)).cloned().unwrap_or_default();
        sqlx::query(
            "INSERT INTO card_certificates (fingerprint, resident_id, card_fingerprint, kind, token, on_card, issuer, serial, status, expiry)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (fingerprint) DO UPDATE SET resident_id = excluded.resident_id, card_fingerprint = excluded.card_fingerprint,
             kind = excluded.kind, token = excluded.token, on_card = excluded.on_card, issuer = excluded.issuer,
             serial = excluded.serial, status = excluded.status, expiry = excluded.expiry",
        )
        .bind(c.sha256.to_ascii_lowercase())
        .bind(r.id.clone())
        .bind(card_fingerprint)
        .bind(kind)
        .bind(token.to_string())
        .bind(on_card as i64)
        .bind(issuer)
        .bind(crate::ops::serial_key(&c.serial))
        .bind(status)
        .bind(iso_date::format(&c.expiry))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// How links and revocations name an issuing CA: by its key, never by its name (generations of
/// a JPKI CA share one DN). The subject key identifier when the anchor has one (what its
/// certificates' and CRLs' authority key identifiers carry), else `spki:` and the SHA-256 of its
/// SubjectPublicKeyInfo. Always the anchor that verified the signature, so the name is proven,
/// not what a certificate claims.
pub fn issuer_id_of_anchor(anchor: &madoguchi_certs::JpkiCertificate) -> String {
    use der::Encode;
    let spki = anchor.x509().tbs_certificate.subject_public_key_info.to_der().unwrap_or_default();
    issuer_key_id(anchor.subject_key_id(), &spki)
}

/// See [`issuer_id_of_anchor`].
pub fn issuer_key_id(ski: Option<&[u8]>, spki_der: &[u8]) -> String {
    match ski {
        Some(ski) if !ski.is_empty() => hex::encode(ski),
        _ => format!("spki:{}", hex::encode(sha2::Sha256::digest(spki_der))),
    }
}

// ---------------------------------------------------------------------------------------------
// Import (load-world): a world's registry.json, read with the one registry schema
// (`madoguchi_api::registry`, what `madoguchi-sim world` writes), into the tables above.

/// What `load-world` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct LoadReport {
    pub municipalities: usize,
    pub households: usize,
    pub residents: usize,
    pub koseki: usize,
    pub tax_records: usize,
    pub seal_registrations: usize,
    pub certificate_links: usize,
    pub crls: Vec<String>,
    pub warnings: Vec<String>,
}

fn database(e: sqlx::Error) -> String {
    format!("database: {e}")
}

/// Subject key identifier (hex) of the world's anchor `anchors/{auth|sign}-ca-{generation}.der`.
fn world_anchor_ids(dir: &Path) -> OpResult<BTreeMap<(String, u8), String>> {
    let mut out = BTreeMap::new();
    let rd = std::fs::read_dir(dir.join("anchors")).map_err(|x| format!("anchors directory of the world: {x}"))?;
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".der") else { continue };
        let Some((kind, gen)) = stem.rsplit_once("-ca-") else { continue };
        let Ok(gen) = gen.parse::<u8>() else { continue };
        let der = std::fs::read(entry.path()).map_err(|x| format!("{name}: {x}"))?;
        let cert = JpkiCertificate::from_der(&der).map_err(|x| format!("{name}: {x}"))?;
        out.insert((kind.to_string(), gen), issuer_id_of_anchor(&cert));
    }
    Ok(out)
}

fn koseki_id(h: &schema::Honseki) -> String {
    let d = Sha256::new()
        .chain_update(h.municipality.as_bytes())
        .chain_update([0])
        .chain_update(h.address.as_bytes())
        .chain_update([0])
        .chain_update(h.hittosha.as_bytes())
        .finalize();
    format!("K{}", &hex::encode(d)[..15])
}

/// An amount of yen as the tables keep it.
fn yen(v: u64, what: &str) -> OpResult<i64> {
    i64::try_from(v).map_err(|_| format!("registry.json: {what} {v} is out of range"))
}

/// The tax record as stored.
fn tax_from(t: &schema::TaxRecord) -> OpResult<TaxRecord> {
    Ok(TaxRecord {
        municipality_code: t.municipality.clone(),
        fiscal_year: t.fiscal_year,
        income_year: t.income_year,
        salary_income: yen(t.salary_income, "salary_income")?,
        pension_income: yen(t.pension_income, "pension_income")?,
        total_income: yen(t.total_income, "total_income")?,
        taxable_income: yen(t.taxable_income, "taxable_income")?,
        municipal_tax: yen(t.municipal_tax, "municipal_tax")?,
        prefectural_tax: yen(t.prefectural_tax, "prefectural_tax")?,
    })
}

/// The resident as stored, linked to its 戸籍 by `koseki`.
fn resident_from_record(r: &schema::ResidentRecord, koseki: Option<String>) -> Resident {
    let status = if r.deceased {
        ResidentStatus::Deceased
    } else if r.residence.is_some() {
        ResidentStatus::Active
    } else if r.emigration.is_some() {
        ResidentStatus::MovedAbroad
    } else {
        ResidentStatus::MovedOut
    };
    let res = r.residence.as_ref();
    let since = res.map(|x| iso_date::format(&x.since));
    let became = res.map(|x| iso_date::format(x.became_resident_on.as_ref().unwrap_or(&x.since)));
    let foreign = r.foreign.as_ref();
    Resident {
        id: r.id.clone(),
        household_id: res.map(|x| x.household.clone()),
        municipality_code: res.map(|x| x.municipality.clone()),
        koseki_id: koseki,
        name: r.name.clone(),
        name_kana: r.name_kana.clone(),
        birth_date: iso_date::format(&r.birth_date),
        sex: match r.sex {
            schema::Sex::Male => "男",
            schema::Sex::Female => "女",
        }
        .into(),
        relationship: res.map(|x| x.relationship.clone()).unwrap_or_default(),
        address: res
            .map(|x| x.address.clone())
            .or_else(|| r.emigration.as_ref().map(|em| em.destination.clone()))
            .unwrap_or_default(),
        status,
        restricted: r.support_measures,
        koseki_registered: r.honseki.as_ref().and_then(|h| h.kiosk_registered).unwrap_or(true),
        details: ResidentDetails {
            became_resident_on: became,
            address_since: since,
            previous_address: res.and_then(|x| x.previous_address.clone()),
            koseki_relationship: r.koseki_relationship.clone(),
            father: r.father.clone(),
            mother: r.mother.clone(),
            my_number: Some(r.my_number.clone()).filter(|n| !n.is_empty()),
            nationality: r.foreign.as_ref().map(|f| f.nationality.clone()),
            residence_status: r.foreign.as_ref().map(|f| f.residence_status.clone()),
            residence_period_end: r.foreign.as_ref().and_then(|f| f.period_of_stay_end.as_ref().map(iso_date::format)),
            notified_on: res.and_then(|x| x.notified_on.as_ref().map(iso_date::format)),
            resident_code: r.resident_code.clone(),
            residence_category: foreign.and_then(|f| f.category.clone()),
            residence_period: foreign.and_then(|f| f.period_of_stay.clone()),
            residence_card_number: foreign.and_then(|f| f.card_number.clone()),
            alias: foreign.and_then(|f| f.alias.clone()),
            koseki_created: r.honseki.as_ref().and_then(|h| h.created.as_ref().map(iso_date::format)),
            koseki_events: r
                .koseki_events
                .iter()
                .map(|e| madoguchi_api::payload::KosekiEvent { kind: e.kind.clone(), items: e.items.clone() })
                .collect(),
        },
    }
}

/// Imports a world directory. Municipalities already present keep their configuration (an
/// administrator may have changed it); new ones get the standard configuration.
pub async fn load_world(db: &Db, anchors: &TrustAnchors, dir: &Path) -> OpResult<LoadReport> {
    let w = schema::Registry::load(dir).map_err(|x| x.to_string())?;
    let anchor_ids = world_anchor_ids(dir)?;
    let mut report = LoadReport::default();
    let heads: BTreeMap<&str, &str> = w.households.iter().map(|h| (h.id.as_str(), h.head.as_str())).collect();
    let mut tx = db.begin_write().await.map_err(database)?;
    for m in &w.municipalities {
        let muni = Municipality { code: m.code.clone(), name: m.name.clone(), prefecture: m.prefecture.clone() };
        let existing = municipality(&mut *tx, &m.code).await.map_err(|x| x.to_string())?;
        let config = match existing {
            Some(v) => v.config,
            None => {
                let title = if m.issuer_title.is_empty() { format!("{}長", m.name) } else { m.issuer_title.clone() };
                let name = if m.issuer_name.is_empty() {
                    report.warnings.push(format!(
                        "{}: the world names no issuer (mayor); set it with `municipality issuer`",
                        m.code
                    ));
                    format!("{}長", m.name)
                } else {
                    m.issuer_name.clone()
                };
                let mut c = MunicipalityConfig::standard(&title, &name);
                c.seal_png = m.seal_png.clone();
                c.validate().map_err(|x| format!("municipality {}: {x}", m.code))?;
                c
            }
        };
        upsert_municipality(&mut tx, &muni, &config).await.map_err(database)?;
        report.municipalities += 1;
    }
    for h in &w.households {
        let household = Household {
            id: h.id.clone(),
            municipality_code: h.municipality.clone(),
            address: h.address.clone(),
            head_id: Some(h.head.clone()),
        };
        upsert_household(&mut tx, &household).await.map_err(database)?;
        report.households += 1;
    }
    let mut kosekis = BTreeMap::new();
    for r in &w.residents {
        let koseki = r.honseki.as_ref().map(|h| {
            let id = koseki_id(h);
            kosekis.insert(
                id.clone(),
                Koseki {
                    id: id.clone(),
                    municipality_code: h.municipality.clone(),
                    honseki: h.address.clone(),
                    hittousha: h.hittosha.clone(),
                },
            );
            id
        });
        if let Some(x) = &r.residence {
            if !heads.contains_key(x.household.as_str()) {
                report.warnings.push(format!("{}: household {} is not in the registry", r.id, x.household));
            }
        }
        upsert_resident(&mut tx, &resident_from_record(r, koseki)).await.map_err(database)?;
        report.residents += 1;
        record_card_certificates(&mut tx, r, &anchor_ids).await.map_err(database)?;
        let mut certs: Vec<(&schema::CertRecord, &str)> = vec![(&r.card.auth_cert, "card")];
        certs.extend(r.card.previous_certs.iter().map(|c| (c, "card")));
        certs.extend(r.card.phones.iter().map(|p| (&p.auth_cert, p.token.as_str())));
        for (c, token) in certs {
            if c.kind != schema::CertKind::Auth {
                continue;
            }
            let Some(issuer) = anchor_ids.get(&("auth".to_string(), c.issuer_generation)) else {
                report.warnings.push(format!("{}: no anchor auth-ca-{} in the world", r.id, c.issuer_generation));
                continue;
            };
            let serial = crate::ops::serial_key(&c.serial);
            link_certificate(&mut tx, issuer, &serial, &r.id, token, &c.sha256.to_ascii_lowercase())
                .await
                .map_err(|x| x.to_string())?;
            report.certificate_links += 1;
        }
    }
    for k in kosekis.values() {
        upsert_koseki(&mut tx, k).await.map_err(database)?;
    }
    report.koseki = kosekis.len();
    for t in &w.tax_records {
        upsert_tax(&mut tx, &t.resident, &tax_from(t)?).await.map_err(database)?;
        report.tax_records += 1;
    }
    sqlx::query("DELETE FROM seal_registrations WHERE resident_id IN (SELECT id FROM residents)")
        .execute(&mut *tx)
        .await
        .map_err(database)?;
    for s in w.seal_registrations.iter().filter(|s| s.status == schema::SealStatus::Active) {
        let seal = SealRegistration {
            resident_id: s.resident.clone(),
            municipality_code: s.municipality.clone(),
            registration_number: s.registration_number.clone(),
            registered_on: iso_date::format(&s.registered_on),
            impression: s.impression.clone(),
            diameter_mm: i64::from(s.diameter_mm),
            seal_png: s.seal_png.clone(),
        };
        upsert_seal(&mut tx, &seal).await.map_err(database)?;
        report.seal_registrations += 1;
    }
    let version = bump_catalog(&mut tx).await.map_err(database)?;
    audit::append(
        &mut tx,
        &Entry::new(
            "cli",
            "registry.loaded",
            dir.display().to_string(),
            json!({
                "municipalities": report.municipalities, "residents": report.residents, "households": report.households,
                "links": report.certificate_links, "catalog_version": version,
            }),
        ),
    )
    .await
    .map_err(|x| format!("audit: {x}"))?;
    tx.commit().await.map_err(database)?;
    rebuild_views(db).await.map_err(|x| x.to_string())?;

    // The JPKI centre's CRLs that came with the world.
    if anchors.is_empty() {
        report.warnings.push("no JPKI anchors pinned (jpki_anchors_dir): CRLs not imported".into());
    } else if let Ok(rd) = std::fs::read_dir(dir.join("crl")) {
        let mut files: Vec<_> =
            rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "crl")).collect();
        // Older generations first, so a newer list of the same CA is never refused as older.
        files.sort_by_key(|p| (!p.file_stem().unwrap_or_default().to_string_lossy().contains('-'), p.clone()));
        for f in files {
            let der = std::fs::read(&f).map_err(|x| format!("CRL file: {x}"))?;
            match crate::ops::import_crl(db, anchors, &der, &f.display().to_string()).await {
                Ok((issuer, n)) => report.crls.push(format!("{}: {issuer}, {n} entries", f.display())),
                Err(x) => report.warnings.push(x),
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh SQLite database with the schema.
    pub(crate) async fn scratch_db(dir: &Path) -> Db {
        let config = crate::config::Config {
            database: format!("sqlite://{}", dir.join("t.db").display()),
            ..Default::default()
        };
        let db = Db::connect(&config).await.unwrap();
        db.migrate().await.unwrap();
        db
    }

    #[test]
    fn issuers_are_named_by_key_not_by_name() {
        // Two generations of one CA: same DN, no SKI, different keys.
        let (a, b) = (b"spki of generation 1".as_slice(), b"spki of generation 2".as_slice());
        assert_ne!(issuer_key_id(None, a), issuer_key_id(None, b));
        assert!(issuer_key_id(None, a).starts_with("spki:"));
        assert_eq!(issuer_key_id(Some(&[0xab, 0xcd]), a), "abcd", "the SKI when there is one");
        assert_eq!(issuer_key_id(Some(&[]), a), issuer_key_id(None, a), "an empty SKI names nothing");
    }

    #[tokio::test]
    async fn a_link_is_never_overwritten_by_another_certificate_or_resident() {
        let dir = tempfile::tempdir().unwrap();
        let db = scratch_db(dir.path()).await;
        let fp = "aa".repeat(32);
        let other = "bb".repeat(32);
        let mut tx = db.begin_write().await.unwrap();
        link_certificate(&mut tx, "ca1", "1f", "R0001", "card", &fp).await.unwrap();
        // The same link again (a second load-world) is fine; the token may change.
        link_certificate(&mut tx, "ca1", "1f", "R0001", "android", &fp).await.unwrap();
        let e = link_certificate(&mut tx, "ca1", "1f", "R0002", "card", &fp).await.unwrap_err();
        assert_eq!(e.kind(), "conflict", "{e}");
        let e = link_certificate(&mut tx, "ca1", "1f", "R0001", "card", &other).await.unwrap_err();
        assert_eq!(e.kind(), "conflict", "{e}");
        assert!(e.to_string().contains("R0001") && e.to_string().contains(&other), "{e}");
        // Another CA key with the same serial is another certificate.
        link_certificate(&mut tx, "ca2", "1f", "R0002", "card", &other).await.unwrap();
        let rows: Vec<(String, String, String, String)> =
            sqlx::query("SELECT issuer, resident_id, token, fingerprint FROM cert_links ORDER BY issuer")
                .fetch_all(&mut *tx)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect();
        assert_eq!(
            rows,
            vec![
                ("ca1".into(), "R0001".into(), "android".into(), fp.clone()),
                ("ca2".into(), "R0002".into(), "card".into(), other.clone())
            ]
        );
        tx.rollback().await.unwrap();
    }
}
