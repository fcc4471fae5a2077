//! The resident flow over the database: challenge, authenticate, offers, issuance, outcome,
//! close; the sweeper; verification; settlement; catalog and configuration. No HTTP here: the
//! handlers in `server` call these, so do the CLI and tests.
//!
//! Every state change is one conditional statement or one transaction whose `WHERE` clause
//! re-checks the state it depends on, so concurrent requests from any number of kiosks and
//! instances cannot interleave into a wrong result: a document is built from the session row's
//! own resident and certificate, and bound to them in the signed payload.

use crate::api::*;
use crate::audit::{self, Entry};
use crate::config::Config;
use crate::db::{self, from_ms, ms, rfc3339, Db};
use crate::domain::{self, jst, Binding, DocumentKind, IssuerInfo, MunicipalityConfig};
use crate::error::{ApiError, ErrorCode};
use crate::registry;
use crate::signing::BackendKey;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use madoguchi_certs::{CertErrorKind, CertProfile, JpkiCertificate, TrustAnchors};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::sync::Arc;
use time::OffsetDateTime;

/// Who is calling, from the client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Kiosk { id: String, store: String },
    Admin { id: String, municipality_code: String },
}

impl Principal {
    pub fn actor(&self) -> String {
        match self {
            Principal::Kiosk { id, .. } => format!("kiosk:{id}"),
            Principal::Admin { id, .. } => format!("admin:{id}"),
        }
    }
}

/// What the flow needs besides the database.
pub struct Context {
    pub db: Db,
    pub config: Config,
    pub key: BackendKey,
    pub anchors: TrustAnchors,
}

pub type Ctx = Arc<Context>;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b
}

const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `YYYYMMDD-XXXXXXXXXX`: the JST date and 50 random bits. Never derived from time or a counter
/// alone, so two instances cannot hand out the same number.
pub fn new_issuance_number(now: OffsetDateTime) -> String {
    let d = jst(now).date();
    let r = u64::from_be_bytes(random_bytes::<8>());
    let tail: String = (0..10).map(|i| CROCKFORD[((r >> (i * 5)) & 31) as usize] as char).collect();
    format!("{:04}{:02}{:02}-{tail}", d.year(), d.month() as u8, d.day())
}

// ---------------------------------------------------------------------------------------------
// Sessions

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub kiosk_id: String,
    pub store: String,
    pub challenge: Vec<u8>,
    pub challenge_expires_at: i64,
    pub state: String,
    pub resident_id: Option<String>,
    pub cert_fingerprint: Option<String>,
    pub expires_at: Option<i64>,
}

fn session_from(r: &AnyRow) -> SessionRow {
    SessionRow {
        id: r.get(0),
        kiosk_id: r.get(1),
        store: r.get(2),
        challenge: B64.decode(r.get::<String, _>(3)).unwrap_or_default(),
        challenge_expires_at: r.get(4),
        state: r.get(5),
        resident_id: r.get(6),
        cert_fingerprint: r.get(7),
        expires_at: r.get(8),
    }
}

fn check_session_id(id: &str) -> Result<(), ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(ErrorCode::SessionNotFound, "no such session"));
    }
    Ok(())
}

async fn load_session(ctx: &Context, id: &str) -> Result<SessionRow, ApiError> {
    check_session_id(id)?;
    sqlx::query(
        "SELECT id, kiosk_id, store, challenge, challenge_expires_at, state, resident_id, cert_fingerprint, expires_at FROM sessions WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&ctx.db.pool)
    .await?
    .map(|r| session_from(&r))
    .ok_or_else(|| ApiError::new(ErrorCode::SessionNotFound, "no such session"))
}

fn kiosk_of(p: &Principal) -> Result<(&str, &str), ApiError> {
    match p {
        Principal::Kiosk { id, store } => Ok((id, store)),
        Principal::Admin { .. } => Err(ApiError::new(ErrorCode::Forbidden, "this endpoint is for kiosks")),
    }
}

/// The checks every authenticated step makes (pure).
pub fn check_authenticated(s: &SessionRow, kiosk: &str, now_ms: i64) -> Result<(), ApiError> {
    if s.kiosk_id != kiosk {
        return Err(ApiError::new(ErrorCode::SessionKioskMismatch, "this session belongs to another kiosk"));
    }
    match s.state.as_str() {
        "authenticated" => {}
        "challenged" => return Err(ApiError::new(ErrorCode::NotAuthenticated, "the session is not authenticated")),
        _ => return Err(ApiError::new(ErrorCode::SessionExpired, "the session is closed")),
    }
    if s.expires_at.is_none_or(|e| now_ms > e) {
        return Err(ApiError::new(ErrorCode::SessionExpired, "the session has expired"));
    }
    Ok(())
}

pub async fn open_session(ctx: &Context, who: &Principal, now: OffsetDateTime) -> Result<ChallengeReply, ApiError> {
    let (kiosk, store) = kiosk_of(who)?;
    let id = hex::encode(random_bytes::<16>());
    let challenge = B64.encode(random_bytes::<32>());
    let expires = ms(now) + ctx.config.challenge_ttl_s * 1000;
    let _gate = ctx.db.write_gate().await;
    sqlx::query("INSERT INTO sessions (id, kiosk_id, store, challenge, challenge_expires_at, state, created_at) VALUES ($1, $2, $3, $4, $5, 'challenged', $6)")
        .bind(id.clone())
        .bind(kiosk.to_string())
        .bind(store.to_string())
        .bind(challenge.clone())
        .bind(expires)
        .bind(ms(now))
        .execute(&ctx.db.pool)
        .await?;
    Ok(ChallengeReply {
        session_id: id,
        challenge,
        challenge_expires_at: rfc3339(expires),
        signature_scheme: "RSASSA-PKCS1-v1_5-SHA256".into(),
    })
}

fn cert_error(e: madoguchi_certs::CertError) -> ApiError {
    let code = match e.kind() {
        CertErrorKind::Malformed => ErrorCode::CertificateMalformed,
        CertErrorKind::NotJpki | CertErrorKind::Basic4 => ErrorCode::CertificateWrongProfile,
        CertErrorKind::Expired => ErrorCode::CertificateExpired,
        CertErrorKind::NotYetValid => ErrorCode::CertificateNotYetValid,
        CertErrorKind::Revoked => ErrorCode::CertificateRevoked,
        CertErrorKind::Suspended => ErrorCode::CertificateSuspended,
        _ => ErrorCode::CertificateUntrusted,
    };
    ApiError::new(code, e.to_string())
}

fn decode_b64(field: &str, s: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    if s.len() > max * 4 / 3 + 4 {
        return Err(ApiError::field(ErrorCode::InvalidField, field, "too long"));
    }
    B64.decode(s.trim()).map_err(|_| ApiError::field(ErrorCode::InvalidField, field, "is not base64"))
}

/// Verifies the card's answer and links the certificate to its resident.
pub async fn authenticate(
    ctx: &Context,
    who: &Principal,
    session_id: &str,
    req: &AuthenticateRequest,
    now: OffsetDateTime,
) -> Result<AuthenticateReply, ApiError> {
    let (kiosk, _) = kiosk_of(who)?;
    let der = decode_b64("certificate", &req.certificate, 8192)?;
    let sig = decode_b64("signature", &req.signature, 1024)?;
    check_session_id(session_id)?;
    // The certificate first (no database needed), so that the session, the revocation status
    // and the link to the resident come in one round trip.
    let cert = JpkiCertificate::from_der(&der).map_err(cert_error)?;
    if cert.profile() != CertProfile::UserAuthentication {
        return Err(ApiError::new(
            ErrorCode::CertificateWrongProfile,
            "not a user-authentication certificate (利用者証明用電子証明書)",
        ));
    }
    let anchor = ctx.anchors.verify_chain(&cert, now).map_err(|e| match e.kind() {
        // A certificate whose CA signature fails is not trusted (the challenge signature is a
        // different matter, `signature_invalid`).
        CertErrorKind::BadSignature => ApiError::new(
            ErrorCode::CertificateUntrusted,
            "the certificate does not verify against a pinned JPKI anchor",
        ),
        _ => cert_error(e),
    })?;
    // Revocation and suspension (imported CRLs) and the link to the resident (by issuer and
    // serial, never by name).
    let issuer = registry::issuer_id_of_anchor(anchor.cert());
    let link_issuer = registry::issuer_id_of_cert(&cert);
    let serial = crate::ops::serial_key(&hex::encode(cert.serial_bytes()));
    let row = sqlx::query(
        "SELECT s.id, s.kiosk_id, s.store, s.challenge, s.challenge_expires_at, s.state, s.resident_id, s.cert_fingerprint, s.expires_at,
                (SELECT COUNT(*) FROM jpki_crls WHERE issuer = $2),
                (SELECT next_update FROM jpki_crls WHERE issuer = $2),
                (SELECT since FROM jpki_revocations WHERE issuer = $2 AND serial = $3),
                (SELECT hold FROM jpki_revocations WHERE issuer = $2 AND serial = $3),
                l.resident_id, r.name, r.status
         FROM sessions s
         LEFT JOIN cert_links l ON l.issuer = $4 AND l.serial = $3
         LEFT JOIN residents r ON r.id = l.resident_id
         WHERE s.id = $1",
    )
    .bind(session_id.to_string())
    .bind(issuer)
    .bind(serial.clone())
    .bind(link_issuer)
    .fetch_optional(&ctx.db.pool)
    .await?
    .ok_or_else(|| ApiError::new(ErrorCode::SessionNotFound, "no such session"))?;
    let s = session_from(&row);
    if s.kiosk_id != kiosk {
        return Err(ApiError::new(ErrorCode::SessionKioskMismatch, "this challenge was issued to another kiosk"));
    }
    if s.state != "challenged" {
        return Err(ApiError::new(ErrorCode::ChallengeUsed, "this challenge has already been answered"));
    }
    let now_ms = ms(now);
    if now_ms > s.challenge_expires_at {
        return Err(ApiError::new(ErrorCode::ChallengeExpired, "the challenge has expired; ask for a new one"));
    }
    if !challenge_signature_ok(cert.public_key(), &s.challenge, &sig) {
        return Err(ApiError::new(ErrorCode::SignatureInvalid, "the signature over the challenge does not verify"));
    }
    let (crls, next_update): (i64, Option<i64>) = (row.get(9), row.get(10));
    let (since, hold): (Option<i64>, Option<i64>) = (row.get(11), row.get(12));
    let (resident_id, name, status): (Option<String>, Option<String>, Option<String>) =
        (row.get(13), row.get(14), row.get(15));
    if ctx.config.require_crl {
        if crls == 0 {
            return Err(ApiError::new(
                ErrorCode::RevocationUnavailable,
                "no CRL of this certificate's issuer has been imported",
            ));
        }
        if next_update.is_some_and(|n| n < now_ms) {
            return Err(ApiError::new(
                ErrorCode::RevocationUnavailable,
                "the imported CRL of this certificate's issuer is out of date",
            ));
        }
    }
    if let Some(since) = since.filter(|s| *s <= now_ms) {
        return Err(if hold.unwrap_or(0) != 0 {
            ApiError::new(
                ErrorCode::CertificateSuspended,
                format!("the certificate is on hold since {}", rfc3339(since)),
            )
        } else {
            ApiError::new(ErrorCode::CertificateRevoked, format!("the certificate was revoked on {}", rfc3339(since)))
        });
    }
    let (Some(resident_id), Some(holder_name), Some(status)) = (resident_id, name, status) else {
        return Err(ApiError::new(ErrorCode::CertificateUnlinked, "this certificate is not linked to a resident"));
    };
    if domain::ResidentStatus::parse(&status) == domain::ResidentStatus::Deceased {
        return Err(ApiError::new(ErrorCode::ResidentNotEligible, "this resident's record is closed"));
    }
    let fingerprint = hex::encode(cert.fingerprint_sha256());
    let expires = now_ms + ctx.config.session_ttl_s * 1000;
    // Single-use: only a session still waiting for its answer moves on.
    let _gate = ctx.db.write_gate().await;
    let done = sqlx::query(
        "UPDATE sessions SET state = 'authenticated', resident_id = $1, cert_fingerprint = $2, cert_serial = $3, authenticated_at = $4, expires_at = $5
         WHERE id = $6 AND kiosk_id = $7 AND state = 'challenged' AND challenge_expires_at >= $4",
    )
    .bind(resident_id)
    .bind(fingerprint.clone())
    .bind(serial)
    .bind(now_ms)
    .bind(expires)
    .bind(s.id.clone())
    .bind(kiosk.to_string())
    .execute(&ctx.db.pool)
    .await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::new(ErrorCode::ChallengeUsed, "this challenge has already been answered"));
    }
    Ok(AuthenticateReply {
        session_id: s.id,
        session_expires_at: rfc3339(expires),
        certificate_fingerprint: fingerprint,
        certificate_not_after: cert
            .not_after()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        holder_name,
    })
}

/// RSA PKCS#1 v1.5 SHA-256 over the challenge: ring first (about 8 times faster than the `rsa`
/// crate), the certs crate for anything ring refuses to consider (keys under 2048 bits).
fn challenge_signature_ok(key: &madoguchi_certs::RsaPublicKey, challenge: &[u8], sig: &[u8]) -> bool {
    use rsa::traits::PublicKeyParts;
    let ring_key = ring::signature::RsaPublicKeyComponents { n: key.n().to_bytes_be(), e: key.e().to_bytes_be() };
    if ring_key.verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, challenge, sig).is_ok() {
        return true;
    }
    key.size() < 256 && madoguchi_certs::verify_pkcs1v15_sha256(key, challenge, sig).is_ok()
}

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

type View = (SessionRow, domain::ResidentView, Vec<domain::MunicipalityView>, i64);

/// The view, or (when `idempotency_key` names an earlier issuance of this kiosk) that
/// issuance's number, found in the same round trip.
async fn view_or_replay(
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
    .fetch_all(&ctx.db.pool)
    .await?;
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
    let o = domain::compute_offers(&view, &refs, now);
    Ok(OffersReply {
        session_id: s.id,
        at: jst(now).format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        catalog_version: version,
        offers: o.offers,
        unavailable: o.unavailable,
        notices: o.notices,
    })
}

// ---------------------------------------------------------------------------------------------
// Issuance

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

    let mut tx = ctx.db.begin_write().await?;
    // The session limit is part of the insert: no read-then-write window.
    let inserted = sqlx::query(
        "INSERT INTO issuances (number, session_id, kiosk_id, store, resident_id, cert_fingerprint, municipality_code, document, copies, fee_yen, total_yen,
         payment_reference, idempotency_key, request_hash, payload, payload_sha256, holder_name, issued_at, local_date, status, refund_yen, refund_state)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 'issued', 0, 'none'
         WHERE (SELECT COUNT(*) FROM issuances WHERE session_id = $2) < $20",
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
            return Err(ApiError::new(
                ErrorCode::SessionLimit,
                format!("at most {} issuances per session", ctx.config.max_issuances_per_session),
            ))
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
    };
    let mut tx = ctx.db.begin_write().await?;
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
        let (owner, st, why): (String, String, Option<String>) = (row.get(0), row.get(1), row.get(2));
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

/// Voids one issuance still waiting for its outcome (timeout or session closed).
async fn void_pending(
    ctx: &Context,
    number: &str,
    why: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<bool, ApiError> {
    let mut tx = ctx.db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE issuances SET status = 'voided', outcome_reason = $1, outcome_at = $2, refund_yen = total_yen, refund_state = 'due'
         WHERE number = $3 AND status = 'issued'",
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

// ---------------------------------------------------------------------------------------------
// Verification, settlement

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
            "printed" => {
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

// ---------------------------------------------------------------------------------------------
// Catalog and configuration

pub async fn catalog(ctx: &Context, now: OffsetDateTime) -> Result<crate::signing::SignedBlob, ApiError> {
    let version = registry::catalog_version(&ctx.db.pool).await?;
    let munis = registry::municipalities(&ctx.db.pool).await?;
    let c = Catalog {
        format: 1,
        version,
        issued_at: rfc3339(ms(now)),
        municipalities: munis
            .into_iter()
            .map(|m| CatalogMunicipality {
                code: m.municipality.code,
                name: m.municipality.name,
                prefecture: m.municipality.prefecture,
                config_version: m.config_version,
                config: m.config,
            })
            .collect(),
    };
    Ok(ctx.key.sign(&serde_json::to_string(&c).expect("catalog serialises")))
}

fn admin_scope<'a>(who: &'a Principal, code: &str) -> Result<&'a str, ApiError> {
    match who {
        Principal::Admin { municipality_code, .. } if municipality_code == code => Ok(municipality_code),
        Principal::Admin { .. } => {
            Err(ApiError::new(ErrorCode::WrongMunicipality, "this administrator manages another municipality"))
        }
        Principal::Kiosk { .. } => {
            Err(ApiError::new(ErrorCode::Forbidden, "this endpoint is for municipality administrators"))
        }
    }
}

pub async fn get_config(ctx: &Context, who: &Principal, code: &str) -> Result<ConfigReply, ApiError> {
    admin_scope(who, code)?;
    let m = registry::municipality(&ctx.db.pool, code)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such municipality"))?;
    Ok(ConfigReply {
        code: m.municipality.code,
        name: m.municipality.name,
        config_version: m.config_version,
        catalog_version: registry::catalog_version(&ctx.db.pool).await?,
        config: m.config,
    })
}

/// Replaces a municipality's configuration after validation; bumps the catalog version; audits
/// which top-level fields changed with hashes of the old and new configuration.
pub async fn put_config(
    ctx: &Context,
    who: &Principal,
    code: &str,
    config: &MunicipalityConfig,
) -> Result<ConfigReply, ApiError> {
    admin_scope(who, code)?;
    set_config(ctx, &who.actor(), code, config).await
}

pub async fn set_config(
    ctx: &Context,
    actor: &str,
    code: &str,
    config: &MunicipalityConfig,
) -> Result<ConfigReply, ApiError> {
    config.validate()?;
    let mut tx = ctx.db.begin_write().await?;
    let old = registry::municipality(&mut *tx, code)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such municipality"))?;
    let old_json = serde_json::to_value(&old.config).expect("serialises");
    let new_json = serde_json::to_value(config).expect("serialises");
    let changed: Vec<String> = match (&old_json, &new_json) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => b
            .keys()
            .chain(a.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        _ => vec![],
    };
    let text = new_json.to_string();
    let version: i64 = sqlx::query("UPDATE municipalities SET config = $1, config_version = config_version + 1, updated_at = $2 WHERE code = $3 RETURNING config_version")
        .bind(text.clone())
        .bind(db::now_ms())
        .bind(code.to_string())
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    let catalog_version = registry::bump_catalog(&mut tx).await?;
    audit::append(
        &mut tx,
        &Entry::new(
            actor,
            "config.changed",
            code,
            json!({
                "changed": changed, "config_version": version, "catalog_version": catalog_version,
                "old_sha256": hex::encode(Sha256::digest(old_json.to_string().as_bytes())),
                "new_sha256": hex::encode(Sha256::digest(text.as_bytes())),
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(ConfigReply {
        code: code.into(),
        name: old.municipality.name,
        config_version: version,
        catalog_version,
        config: config.clone(),
    })
}

/// For logs and messages.
pub fn describe_time(ms: i64) -> String {
    jst(from_ms(ms)).to_string()
}
