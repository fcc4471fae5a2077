//! Operator commands that work on the database and key directory directly: enrolment and
//! revocation of kiosk and administrator credentials, CRL import, `load-world`.

use crate::audit::{self, Entry};
use crate::db::{ms, now_ms, Db};
use crate::domain::{
    Household, Koseki, Municipality, MunicipalityConfig, Resident, ResidentDetails, ResidentStatus, SealRegistration,
    TaxRecord,
};
use crate::pki::{CredentialInfo, Keys};
use crate::registry;
use madoguchi_certs::{Crl, JpkiCertificate, RevocationReason, TrustAnchors};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::BTreeMap;
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

// ---------------------------------------------------------------------------------------------
// load-world: the demo world's registry.json (madoguchi-sim world), read leniently so that
// additions to the generator do not break the import.

#[derive(Deserialize)]
struct WRegistry {
    municipalities: Vec<WMunicipality>,
    households: Vec<WHousehold>,
    residents: Vec<WResident>,
    #[serde(default)]
    seal_registrations: Vec<WSeal>,
    #[serde(default)]
    tax_records: Vec<WTax>,
}

#[derive(Deserialize)]
struct WMunicipality {
    code: String,
    prefecture: String,
    name: String,
    #[serde(default)]
    issuer_title: Option<String>,
    #[serde(default)]
    issuer_name: Option<String>,
    /// base64 PNG of the 公印.
    #[serde(default)]
    seal_png: Option<String>,
}

#[derive(Deserialize)]
struct WHousehold {
    id: String,
    municipality: String,
    address: String,
    head: String,
}

#[derive(Deserialize)]
struct WResident {
    id: String,
    name: String,
    name_kana: String,
    birth_date: String,
    sex: String,
    #[serde(default)]
    my_number: Option<String>,
    residence: Option<WResidence>,
    honseki: Option<WHonseki>,
    #[serde(default)]
    foreign: Option<WForeign>,
    #[serde(default)]
    emigration: Option<WEmigration>,
    card: WCard,
    #[serde(default)]
    deceased: bool,
    #[serde(default)]
    support_measures: bool,
    #[serde(default)]
    koseki_relationship: Option<String>,
    #[serde(default)]
    father: Option<String>,
    #[serde(default)]
    mother: Option<String>,
}

#[derive(Deserialize)]
struct WResidence {
    municipality: String,
    household: String,
    address: String,
    relationship: String,
    since: String,
    #[serde(default)]
    previous_address: Option<String>,
}

#[derive(Deserialize)]
struct WHonseki {
    municipality: String,
    address: String,
    hittosha: String,
    /// 利用登録 done at the 本籍 municipality (absent: assumed done).
    #[serde(default)]
    kiosk_registered: Option<bool>,
}

#[derive(Deserialize)]
struct WForeign {
    nationality: String,
    residence_status: String,
    #[serde(default)]
    period_of_stay_end: Option<String>,
}

#[derive(Deserialize)]
struct WEmigration {
    destination: String,
}

#[derive(Deserialize)]
struct WCard {
    auth_cert: WCert,
    #[serde(default)]
    previous_certs: Vec<WCert>,
    #[serde(default)]
    phones: Vec<WPhone>,
}

#[derive(Deserialize)]
struct WCert {
    kind: String,
    serial: String,
    sha256: String,
    issuer_generation: u8,
}

#[derive(Deserialize)]
struct WPhone {
    token: String,
    auth_cert: WCert,
}

#[derive(Deserialize)]
struct WSeal {
    resident: String,
    municipality: String,
    registration_number: String,
    registered_on: String,
    status: String,
    impression: String,
    diameter_mm: i64,
    #[serde(default)]
    seal_png: Option<String>,
}

#[derive(Deserialize)]
struct WTax {
    resident: String,
    municipality: String,
    fiscal_year: i32,
    income_year: i32,
    salary_income: i64,
    #[serde(default)]
    pension_income: i64,
    total_income: i64,
    taxable_income: i64,
    municipal_tax: i64,
    prefectural_tax: i64,
}

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

/// Subject key identifier (hex) of the world's anchor `anchors/{auth|sign}-ca-{generation}.der`.
fn world_anchor_ids(dir: &Path) -> OpResult<BTreeMap<(String, u8), String>> {
    let mut out = BTreeMap::new();
    let rd = std::fs::read_dir(dir.join("anchors")).map_err(e("anchors directory of the world"))?;
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".der") else { continue };
        let Some((kind, gen)) = stem.rsplit_once("-ca-") else { continue };
        let Ok(gen) = gen.parse::<u8>() else { continue };
        let der = std::fs::read(entry.path()).map_err(e(&name))?;
        let cert = JpkiCertificate::from_der(&der).map_err(e(&name))?;
        out.insert((kind.to_string(), gen), registry::issuer_id_of_anchor(&cert));
    }
    Ok(out)
}

fn koseki_id(h: &WHonseki) -> String {
    let d = Sha256::new()
        .chain_update(h.municipality.as_bytes())
        .chain_update([0])
        .chain_update(h.address.as_bytes())
        .chain_update([0])
        .chain_update(h.hittosha.as_bytes())
        .finalize();
    format!("K{}", &hex::encode(d)[..15])
}

/// Imports a world directory. Municipalities already present keep their configuration (an
/// administrator may have changed it); new ones get the standard configuration.
pub async fn load_world(db: &Db, anchors: &TrustAnchors, dir: &Path) -> OpResult<LoadReport> {
    let text = std::fs::read_to_string(dir.join("registry.json")).map_err(e("registry.json"))?;
    let w: WRegistry = serde_json::from_str(&text).map_err(e("registry.json"))?;
    let anchor_ids = world_anchor_ids(dir)?;
    let mut report = LoadReport::default();
    let heads: BTreeMap<&str, &str> = w.households.iter().map(|h| (h.id.as_str(), h.head.as_str())).collect();
    let mut tx = db.begin_write().await.map_err(e("database"))?;
    for m in &w.municipalities {
        let muni = Municipality { code: m.code.clone(), name: m.name.clone(), prefecture: m.prefecture.clone() };
        let existing = registry::municipality(&mut *tx, &m.code).await.map_err(|x| x.to_string())?;
        let config = match existing {
            Some(v) => v.config,
            None => {
                let title = m.issuer_title.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| format!("{}長", m.name));
                let name = m.issuer_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| {
                    report.warnings.push(format!(
                        "{}: the world names no issuer (mayor); set it with `municipality issuer`",
                        m.code
                    ));
                    format!("{}長", m.name)
                });
                let mut c = MunicipalityConfig::standard(&title, &name);
                c.seal_png = m.seal_png.clone();
                c.validate().map_err(|x| format!("municipality {}: {x}", m.code))?;
                c
            }
        };
        registry::upsert_municipality(&mut tx, &muni, &config).await.map_err(e("database"))?;
        report.municipalities += 1;
    }
    for h in &w.households {
        registry::upsert_household(
            &mut tx,
            &Household {
                id: h.id.clone(),
                municipality_code: h.municipality.clone(),
                address: h.address.clone(),
                head_id: Some(h.head.clone()),
            },
        )
        .await
        .map_err(e("database"))?;
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
        let sex = match r.sex.as_str() {
            "male" | "1" | "男" => "男",
            "female" | "2" | "女" => "女",
            _ => "",
        };
        let resident = Resident {
            id: r.id.clone(),
            household_id: res.map(|x| x.household.clone()),
            municipality_code: res.map(|x| x.municipality.clone()),
            koseki_id: koseki,
            name: r.name.clone(),
            name_kana: r.name_kana.clone(),
            birth_date: r.birth_date.clone(),
            sex: sex.into(),
            relationship: res.map(|x| x.relationship.clone()).unwrap_or_default(),
            address: res
                .map(|x| x.address.clone())
                .or_else(|| r.emigration.as_ref().map(|em| em.destination.clone()))
                .unwrap_or_default(),
            status,
            restricted: r.support_measures,
            koseki_registered: r.honseki.as_ref().and_then(|h| h.kiosk_registered).unwrap_or(true),
            details: ResidentDetails {
                became_resident_on: res.map(|x| x.since.clone()),
                address_since: res.map(|x| x.since.clone()),
                previous_address: res.and_then(|x| x.previous_address.clone()),
                koseki_relationship: r.koseki_relationship.clone(),
                father: r.father.clone(),
                mother: r.mother.clone(),
                my_number: r.my_number.clone(),
                nationality: r.foreign.as_ref().map(|f| f.nationality.clone()),
                residence_status: r.foreign.as_ref().map(|f| f.residence_status.clone()),
                residence_period_end: r.foreign.as_ref().and_then(|f| f.period_of_stay_end.clone()),
            },
        };
        if let Some(x) = res {
            if !heads.contains_key(x.household.as_str()) {
                report.warnings.push(format!("{}: household {} is not in the registry", r.id, x.household));
            }
        }
        registry::upsert_resident(&mut tx, &resident).await.map_err(e("database"))?;
        report.residents += 1;
        let mut certs: Vec<(&WCert, &str)> = vec![(&r.card.auth_cert, "card")];
        certs.extend(r.card.previous_certs.iter().map(|c| (c, "card")));
        certs.extend(r.card.phones.iter().map(|p| (&p.auth_cert, p.token.as_str())));
        for (c, token) in certs {
            if c.kind != "auth" {
                continue;
            }
            let Some(issuer) = anchor_ids.get(&("auth".to_string(), c.issuer_generation)) else {
                report.warnings.push(format!("{}: no anchor auth-ca-{} in the world", r.id, c.issuer_generation));
                continue;
            };
            registry::link_certificate(
                &mut tx,
                issuer,
                &serial_key(&c.serial),
                &r.id,
                token,
                &c.sha256.to_ascii_lowercase(),
            )
            .await
            .map_err(e("database"))?;
            report.certificate_links += 1;
        }
    }
    for k in kosekis.values() {
        registry::upsert_koseki(&mut tx, k).await.map_err(e("database"))?;
    }
    report.koseki = kosekis.len();
    for t in &w.tax_records {
        let rec = TaxRecord {
            municipality_code: t.municipality.clone(),
            fiscal_year: t.fiscal_year,
            income_year: t.income_year,
            salary_income: t.salary_income,
            pension_income: t.pension_income,
            total_income: t.total_income,
            taxable_income: t.taxable_income,
            municipal_tax: t.municipal_tax,
            prefectural_tax: t.prefectural_tax,
        };
        registry::upsert_tax(&mut tx, &t.resident, &rec).await.map_err(e("database"))?;
        report.tax_records += 1;
    }
    sqlx::query("DELETE FROM seal_registrations WHERE resident_id IN (SELECT id FROM residents)")
        .execute(&mut *tx)
        .await
        .map_err(e("database"))?;
    for s in w.seal_registrations.iter().filter(|s| s.status == "active") {
        let seal = SealRegistration {
            resident_id: s.resident.clone(),
            municipality_code: s.municipality.clone(),
            registration_number: s.registration_number.clone(),
            registered_on: s.registered_on.clone(),
            impression: s.impression.clone(),
            diameter_mm: s.diameter_mm,
            seal_png: s.seal_png.clone(),
        };
        registry::upsert_seal(&mut tx, &seal).await.map_err(e("database"))?;
        report.seal_registrations += 1;
    }
    let version = registry::bump_catalog(&mut tx).await.map_err(e("database"))?;
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
    .map_err(e("audit"))?;
    tx.commit().await.map_err(e("database"))?;
    registry::rebuild_views(db).await.map_err(|x| x.to_string())?;

    // The JPKI centre's CRLs that came with the world.
    if anchors.is_empty() {
        report.warnings.push("no JPKI anchors pinned (jpki_anchors_dir): CRLs not imported".into());
    } else if let Ok(rd) = std::fs::read_dir(dir.join("crl")) {
        let mut files: Vec<_> =
            rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "crl")).collect();
        // Older generations first, so a newer list of the same CA is never refused as older.
        files.sort_by_key(|p| (!p.file_stem().unwrap_or_default().to_string_lossy().contains('-'), p.clone()));
        for f in files {
            let der = std::fs::read(&f).map_err(e("CRL file"))?;
            match import_crl(db, anchors, &der, &f.display().to_string()).await {
                Ok((issuer, n)) => report.crls.push(format!("{}: {issuer}, {n} entries", f.display())),
                Err(x) => report.warnings.push(x),
            }
        }
    }
    Ok(report)
}
