//! PIN reset at the kiosk (reference/jpki.md, "PIN reset at the kiosk: our protocol (v1)"): the
//! reservations the phone app stands for, and the kiosk's reset session: open (the card's
//! certificates and the reservation checked before any password try is risked), authenticate
//! with the *other* credential's key, authorisations signed with the card-management key, and
//! the outcome that uses the reservation up.
//!
//! The backend never sees a PIN: no request carries one, and nothing here logs or audits one.
//! Reservations work on the database alone ([`reserve`], [`list`], [`cancel`]), so the CLI
//! reserves without a running service or an administrator credential.

use super::context::{check_session_id, kiosk_of, random_bytes, Context, Principal};
use super::session::{
    cert_error, challenge_signature_ok, decode_b64, trusted_issuer, user_auth_certificate, Revocation,
};
use crate::audit::{self, Entry};
use crate::db::{ms, rfc3339, Db};
use crate::error::ApiError;
use crate::registry;
use crate::signing::CardManagementKey;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use madoguchi_api::pin_reset::CHALLENGE_LEN;
use madoguchi_api::registry::iso_date;
use madoguchi_api::v1::*;
use madoguchi_api::{ErrorCode, ResetCredential};
use madoguchi_certs::{CertProfile, JpkiCertificate};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

/// Authorisations one reset session may ask for (a mistyped new PIN keeps the card's challenge,
/// a pulled card needs a new one; three covers both without giving a kiosk a supply).
pub const MAX_AUTHORISATIONS: i64 = 3;
/// How far in the past `reserved_at` may lie (the phone app reserves shortly before).
const MAX_BACKDATE_MS: i64 = 30 * 86_400_000;

/// Who reserves or cancels: the actor for the audit, and the municipality an administrator is
/// confined to (`None`: the operator's CLI, any municipality).
#[derive(Debug, Clone)]
pub struct Reserver {
    pub actor: String,
    pub municipality: Option<String>,
}

impl Reserver {
    pub fn cli() -> Reserver {
        Reserver { actor: "cli".into(), municipality: None }
    }

    /// An administrator (scoped to its municipality); a kiosk may not reserve.
    pub fn of(p: &Principal) -> Result<Reserver, ApiError> {
        match p {
            Principal::Admin { municipality_code, .. } => {
                Ok(Reserver { actor: p.actor(), municipality: Some(municipality_code.clone()) })
            }
            Principal::Kiosk { .. } => {
                Err(ApiError::new(ErrorCode::Forbidden, "reservations are made by an administrator, not a kiosk"))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The registry's view of a card (`card_certificates`, written by load-world)

/// One certificate of a card or phone token as the registry records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCert {
    pub fingerprint: String,
    pub resident_id: String,
    /// The user-authentication certificate of the card it is on.
    pub card_fingerprint: String,
    /// `auth` or `sign`.
    pub kind: String,
    /// `card`, `android` or `iphone`.
    pub token: String,
    pub on_card: bool,
    pub issuer: String,
    pub serial: String,
    /// `valid`, `expired`, `revoked` or `suspended`.
    pub status: String,
    /// Last day of validity, `YYYY-MM-DD`.
    pub expiry: String,
}

const CARD_CERT_COLS: &str =
    "fingerprint, resident_id, card_fingerprint, kind, token, on_card, issuer, serial, status, expiry";

fn card_cert_from(r: &AnyRow) -> CardCert {
    CardCert {
        fingerprint: r.get(0),
        resident_id: r.get(1),
        card_fingerprint: r.get(2),
        kind: r.get(3),
        token: r.get(4),
        on_card: r.get::<i64, _>(5) != 0,
        issuer: r.get(6),
        serial: r.get(7),
        status: r.get(8),
        expiry: r.get(9),
    }
}

async fn card_cert(db: &Db, fingerprint: &str) -> Result<Option<CardCert>, ApiError> {
    Ok(sqlx::query(&format!("SELECT {CARD_CERT_COLS} FROM card_certificates WHERE fingerprint = $1"))
        .bind(fingerprint.to_string())
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(card_cert_from))
}

/// The signature certificate on the card named by its user-authentication certificate.
async fn sign_cert_of(db: &Db, card_fingerprint: &str) -> Result<Option<CardCert>, ApiError> {
    Ok(sqlx::query(&format!(
        "SELECT {CARD_CERT_COLS} FROM card_certificates WHERE card_fingerprint = $1 AND kind = 'sign' AND on_card = 1"
    ))
    .bind(card_fingerprint.to_string())
    .fetch_optional(&db.pool)
    .await?
    .as_ref()
    .map(card_cert_from))
}

/// The registry's word on whether this card's PIN may be reset at a kiosk (pure): a card, not a
/// phone; its user-authentication certificate current and valid; a valid signature certificate
/// on it (both resets need it: jpki.md §4, "requires valid, unrevoked certs"). `today` is the
/// JST date, `YYYY-MM-DD`.
pub fn card_allows_reset(auth: &CardCert, sign: Option<&CardCert>, today: &str) -> Result<(), ApiError> {
    if auth.token != "card" {
        return Err(ApiError::new(
            ErrorCode::ResetPhoneToken,
            "this is a smartphone's certificate: phone credentials are reset in the Mynaportal app",
        ));
    }
    match auth.status.as_str() {
        "revoked" => return Err(ApiError::new(ErrorCode::CertificateRevoked, "the card's certificate is revoked")),
        "suspended" => return Err(ApiError::new(ErrorCode::CertificateSuspended, "the card's certificate is on hold")),
        "expired" => return Err(ApiError::new(ErrorCode::CertificateExpired, "the card's certificate has expired")),
        _ if auth.expiry.as_str() < today => {
            return Err(ApiError::new(ErrorCode::CertificateExpired, "the card's certificate has expired"))
        }
        _ => {}
    }
    if !auth.on_card {
        return Err(ApiError::new(ErrorCode::CertificateRevoked, "this certificate is no longer on the card"));
    }
    let Some(sign) = sign else {
        return Err(ApiError::new(
            ErrorCode::ResetNoSignatureCertificate,
            "the card carries no signature certificate: the PIN can be reset only at city hall",
        ));
    };
    match sign.status.as_str() {
        "revoked" | "suspended" => Err(ApiError::new(
            ErrorCode::ResetSignatureRevoked,
            "the card's signature certificate is revoked: the PIN can be reset only at city hall",
        )),
        "expired" => Err(ApiError::new(ErrorCode::CertificateExpired, "the card's signature certificate has expired")),
        _ if sign.expiry.as_str() < today => {
            Err(ApiError::new(ErrorCode::CertificateExpired, "the card's signature certificate has expired"))
        }
        _ => Ok(()),
    }
}

/// The signature certificate on the imported CRL: revoked or on hold means city hall.
async fn check_sign_crl(db: &Db, sign: &CardCert, require_crl: bool, now_ms: i64) -> Result<(), ApiError> {
    Revocation::of(&db.pool, &sign.issuer, &sign.serial).await?.check(require_crl, now_ms).map_err(sign_revoked)
}

fn sign_revoked(e: ApiError) -> ApiError {
    match e.code {
        ErrorCode::CertificateRevoked | ErrorCode::CertificateSuspended => ApiError::new(
            ErrorCode::ResetSignatureRevoked,
            format!("the card's signature certificate is revoked or on hold ({}): reset only at city hall", e.message),
        ),
        _ => e,
    }
}

fn today(now: OffsetDateTime) -> String {
    iso_date::format(&madoguchi_api::municipality::jst(now).date())
}

// ---------------------------------------------------------------------------------------------
// Reservations

#[derive(Debug, Clone)]
struct ReservationRow {
    id: String,
    resident_id: String,
    municipality_code: String,
    card_fingerprint: String,
    credential: ResetCredential,
    reserved_at: i64,
    expires_at: i64,
    state: String,
    closed_at: Option<i64>,
}

const RESERVATION_COLS: &str =
    "id, resident_id, municipality_code, card_fingerprint, credential, reserved_at, expires_at, state, closed_at";

fn reservation_from(r: &AnyRow) -> ReservationRow {
    ReservationRow {
        id: r.get(0),
        resident_id: r.get(1),
        municipality_code: r.get(2),
        card_fingerprint: r.get(3),
        credential: ResetCredential::parse(&r.get::<String, _>(4)).unwrap_or(ResetCredential::AuthPin),
        reserved_at: r.get(5),
        expires_at: r.get(6),
        state: r.get(7),
        closed_at: r.get(8),
    }
}

impl ReservationRow {
    /// The state as of `now_ms`: a live reservation past its end is expired, stored or not.
    fn state_at(&self, now_ms: i64) -> ReservationState {
        match self.state.as_str() {
            "live" if now_ms > self.expires_at => ReservationState::Expired,
            "live" => ReservationState::Live,
            "used" => ReservationState::Used,
            "cancelled" => ReservationState::Cancelled,
            _ => ReservationState::Expired,
        }
    }

    fn to_api(&self, now_ms: i64) -> Reservation {
        let state = self.state_at(now_ms);
        let closed_at = match (state, self.closed_at) {
            (_, Some(c)) => Some(rfc3339(c)),
            (ReservationState::Expired, None) => Some(rfc3339(self.expires_at)),
            _ => None,
        };
        Reservation {
            id: self.id.clone(),
            resident: self.resident_id.clone(),
            credential: self.credential,
            card_fingerprint: self.card_fingerprint.clone(),
            reserved_at: rfc3339(self.reserved_at),
            expires_at: rfc3339(self.expires_at),
            state,
            closed_at,
        }
    }

    /// Still usable: `reset_not_reserved` after use or cancellation, `reset_reservation_expired`
    /// past its end.
    fn usable(&self, now_ms: i64) -> Result<(), ApiError> {
        match self.state_at(now_ms) {
            ReservationState::Live => Ok(()),
            ReservationState::Expired => Err(ApiError::new(
                ErrorCode::ResetReservationExpired,
                format!("the reservation expired at {}; reserve again in the phone app", rfc3339(self.expires_at)),
            )),
            ReservationState::Used | ReservationState::Cancelled => Err(ApiError::new(
                ErrorCode::ResetNotReserved,
                "no PIN-reset reservation for this card and credential (it was used or cancelled)",
            )),
        }
    }
}

async fn reservation(db: &Db, id: &str) -> Result<Option<ReservationRow>, ApiError> {
    Ok(sqlx::query(&format!("SELECT {RESERVATION_COLS} FROM reset_reservations WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(reservation_from))
}

/// The municipality that manages a resident's card: residence, else 本籍 (residents abroad).
async fn municipality_of(db: &Db, resident: &str) -> Result<Option<String>, ApiError> {
    Ok(sqlx::query(
        "SELECT r.municipality_code, k.municipality_code FROM residents r LEFT JOIN koseki k ON k.id = r.koseki_id WHERE r.id = $1",
    )
    .bind(resident.to_string())
    .fetch_optional(&db.pool)
    .await?
    .map(|r| {
        let residence: Option<String> = r.get(0);
        let honseki: Option<String> = r.get(1);
        residence.filter(|c| !c.is_empty()).or(honseki).unwrap_or_default()
    }))
}

fn is_fingerprint(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_time(field: &str, s: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| ApiError::field(ErrorCode::InvalidField, field, "is not an RFC 3339 time"))
}

/// Reserves a PIN reset (what the phone app's reservation stands for): checks the card as the
/// registry and the CRLs know it, replaces (cancels) a live reservation of the same card and
/// credential, and audits it. Refusals are the caller's to audit (the HTTP gate does).
pub async fn reserve(
    db: &Db,
    ttl_s: i64,
    who: &Reserver,
    req: &ReservationRequest,
    now: OffsetDateTime,
) -> Result<Reservation, ApiError> {
    let now_ms = ms(now);
    let reserved_at = match &req.reserved_at {
        Some(t) => ms(parse_time("reserved_at", t)?),
        None => now_ms,
    };
    if reserved_at > now_ms + 60_000 {
        return Err(ApiError::field(ErrorCode::InvalidField, "reserved_at", "is in the future"));
    }
    if reserved_at < now_ms - MAX_BACKDATE_MS {
        return Err(ApiError::field(ErrorCode::InvalidField, "reserved_at", "is more than 30 days ago"));
    }
    // The card: by the resident's current card, or by one of its certificates.
    let auth = match (&req.resident, &req.certificate_fingerprint) {
        (Some(resident), None) => {
            if resident.is_empty() || resident.len() > 64 {
                return Err(ApiError::field(ErrorCode::InvalidField, "resident", "is not a resident id"));
            }
            let row = sqlx::query(&format!(
                "SELECT {CARD_CERT_COLS} FROM card_certificates WHERE resident_id = $1 AND kind = 'auth' AND token = 'card' AND on_card = 1"
            ))
            .bind(resident.clone())
            .fetch_optional(&db.pool)
            .await?;
            match row {
                Some(r) => card_cert_from(&r),
                None => {
                    let known = registry::resident(&db.pool, resident).await?.is_some();
                    return Err(if known {
                        ApiError::new(
                            ErrorCode::CertificateUnlinked,
                            "the registry knows no card of this resident (run load-world again)",
                        )
                    } else {
                        ApiError::field(ErrorCode::InvalidField, "resident", "no such resident")
                    });
                }
            }
        }
        (None, Some(fp)) => {
            if !is_fingerprint(fp) {
                return Err(ApiError::field(
                    ErrorCode::InvalidField,
                    "certificate_fingerprint",
                    "is not a SHA-256 fingerprint (64 hex digits)",
                ));
            }
            let named = card_cert(db, &fp.to_ascii_lowercase()).await?.ok_or_else(|| {
                ApiError::new(ErrorCode::CertificateUnlinked, "this certificate is on no card the registry knows")
            })?;
            if named.token != "card" {
                return Err(ApiError::new(
                    ErrorCode::ResetPhoneToken,
                    "this is a smartphone's certificate: phone credentials are reset in the Mynaportal app",
                ));
            }
            if !named.on_card {
                // An earlier certificate: the card holds another one now.
                card_allows_reset(&named, None, &today(now))?;
                return Err(ApiError::new(ErrorCode::CertificateRevoked, "this certificate is no longer on the card"));
            }
            if named.kind == "auth" {
                named
            } else {
                card_cert(db, &named.card_fingerprint).await?.ok_or_else(|| {
                    ApiError::new(ErrorCode::CertificateUnlinked, "the card of this certificate is not in the registry")
                })?
            }
        }
        _ => {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "resident",
                "name either the resident or a certificate_fingerprint, not both",
            ))
        }
    };
    let municipality = municipality_of(db, &auth.resident_id).await?.unwrap_or_default();
    if let Some(scope) = &who.municipality {
        if *scope != municipality {
            return Err(ApiError::new(
                ErrorCode::WrongMunicipality,
                "this resident's card is managed by another municipality",
            ));
        }
    }
    let sign = sign_cert_of(db, &auth.card_fingerprint).await?;
    card_allows_reset(&auth, sign.as_ref(), &today(now))?;
    Revocation::of(&db.pool, &auth.issuer, &auth.serial).await?.check(false, now_ms)?;
    if let Some(sign) = &sign {
        check_sign_crl(db, sign, false, now_ms).await?;
    }

    let id = hex::encode(random_bytes::<16>());
    let expires_at = reserved_at + ttl_s * 1000;
    let mut tx = db.begin_write().await?;
    let replaced: Vec<String> = sqlx::query(
        "UPDATE reset_reservations SET state = 'cancelled', closed_at = $1 WHERE card_fingerprint = $2 AND credential = $3 AND state = 'live' RETURNING id",
    )
    .bind(now_ms)
    .bind(auth.card_fingerprint.clone())
    .bind(req.credential.id())
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    sqlx::query(&format!(
        "INSERT INTO reset_reservations ({RESERVATION_COLS}, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'live', NULL, $8, $9)"
    ))
    .bind(id.clone())
    .bind(auth.resident_id.clone())
    .bind(municipality.clone())
    .bind(auth.card_fingerprint.clone())
    .bind(req.credential.id())
    .bind(reserved_at)
    .bind(expires_at)
    .bind(who.actor.clone())
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &Entry::new(
            who.actor.clone(),
            "pin_reset.reserved",
            id.clone(),
            json!({
                "resident": auth.resident_id, "municipality_code": municipality, "credential": req.credential.id(),
                "card_fingerprint": auth.card_fingerprint, "reserved_at": rfc3339(reserved_at),
                "expires_at": rfc3339(expires_at), "replaces": replaced,
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    let row = ReservationRow {
        id,
        resident_id: auth.resident_id,
        municipality_code: municipality,
        card_fingerprint: auth.card_fingerprint,
        credential: req.credential,
        reserved_at,
        expires_at,
        state: "live".into(),
        closed_at: None,
    };
    Ok(row.to_api(now_ms))
}

/// Reservations, newest first (an administrator's own municipality's only), optionally of one
/// resident.
pub async fn list(
    db: &Db,
    who: &Reserver,
    resident: Option<&str>,
    now: OffsetDateTime,
) -> Result<ReservationList, ApiError> {
    let rows = sqlx::query(&format!(
        "SELECT {RESERVATION_COLS} FROM reset_reservations
         WHERE ($1 = '' OR municipality_code = $1) AND ($2 = '' OR resident_id = $2)
         ORDER BY created_at DESC, id LIMIT 1000"
    ))
    .bind(who.municipality.clone().unwrap_or_default())
    .bind(resident.unwrap_or("").to_string())
    .fetch_all(&db.pool)
    .await?;
    let now_ms = ms(now);
    Ok(ReservationList { reservations: rows.iter().map(|r| reservation_from(r).to_api(now_ms)).collect() })
}

/// Cancels a live reservation (`reservation_closed` otherwise).
pub async fn cancel(db: &Db, who: &Reserver, id: &str, now: OffsetDateTime) -> Result<Reservation, ApiError> {
    let not_found = || ApiError::new(ErrorCode::ReservationNotFound, "no such reservation");
    if !(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(not_found());
    }
    let row = reservation(db, id).await?.ok_or_else(not_found)?;
    if who.municipality.as_ref().is_some_and(|m| *m != row.municipality_code) {
        return Err(not_found());
    }
    let now_ms = ms(now);
    let closed =
        || ApiError::new(ErrorCode::ReservationClosed, "the reservation is used, expired or cancelled already");
    if row.state_at(now_ms) != ReservationState::Live {
        return Err(closed());
    }
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE reset_reservations SET state = 'cancelled', closed_at = $1 WHERE id = $2 AND state = 'live' AND expires_at >= $1",
    )
    .bind(now_ms)
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Err(closed());
    }
    audit::append(
        &mut tx,
        &Entry::new(
            who.actor.clone(),
            "pin_reset.cancelled",
            id.to_string(),
            json!({ "resident": row.resident_id, "credential": row.credential.id() }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(ReservationRow { state: "cancelled".into(), closed_at: Some(now_ms), ..row }.to_api(now_ms))
}

/// Audits a refused reservation or cancellation (the CLI's; the HTTP gate audits its own).
pub async fn audit_refusal(db: &Db, who: &Reserver, action: &str, subject: &str, e: &ApiError) {
    let entry = Entry::new(
        who.actor.clone(),
        "pin_reset.refused",
        subject.to_string(),
        json!({ "action": action, "code": e.code.as_str(), "message": e.message }),
    );
    if let Err(x) = audit::append_alone(db, &entry).await {
        log::warn!("audit of a refused {action} failed: {x}");
    }
}

// ---------------------------------------------------------------------------------------------
// The kiosk's reset session

#[derive(Debug, Clone)]
struct ResetSession {
    id: String,
    kiosk_id: String,
    reservation_id: String,
    credential: ResetCredential,
    resident_id: String,
    auth_certificate: Vec<u8>,
    card_fingerprint: String,
    challenge: Vec<u8>,
    challenge_expires_at: i64,
    state: String,
    authorisations: i64,
    expires_at: Option<i64>,
    outcome: Option<String>,
}

async fn load_reset_session(db: &Db, id: &str) -> Result<ResetSession, ApiError> {
    check_session_id(id)?;
    let r = sqlx::query(
        "SELECT id, kiosk_id, reservation_id, credential, resident_id, auth_certificate, card_fingerprint, challenge,
                challenge_expires_at, state, authorisations, expires_at, outcome
         FROM reset_sessions WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await?
    .ok_or_else(|| ApiError::new(ErrorCode::SessionNotFound, "no such reset session"))?;
    Ok(ResetSession {
        id: r.get(0),
        kiosk_id: r.get(1),
        reservation_id: r.get(2),
        credential: ResetCredential::parse(&r.get::<String, _>(3)).unwrap_or(ResetCredential::AuthPin),
        resident_id: r.get(4),
        auth_certificate: B64.decode(r.get::<String, _>(5)).unwrap_or_default(),
        card_fingerprint: r.get(6),
        challenge: B64.decode(r.get::<String, _>(7)).unwrap_or_default(),
        challenge_expires_at: r.get(8),
        state: r.get(9),
        authorisations: r.get(10),
        expires_at: r.get(11),
        outcome: r.get(12),
    })
}

impl ResetSession {
    fn check_kiosk(&self, kiosk: &str) -> Result<(), ApiError> {
        if self.kiosk_id != kiosk {
            return Err(ApiError::new(ErrorCode::SessionKioskMismatch, "this reset session belongs to another kiosk"));
        }
        Ok(())
    }

    /// Authenticated and not expired (what an authorisation needs).
    fn check_authenticated(&self, now_ms: i64) -> Result<(), ApiError> {
        match self.state.as_str() {
            "authenticated" => {}
            "challenged" => {
                return Err(ApiError::new(ErrorCode::NotAuthenticated, "the reset session is not authenticated"))
            }
            _ => return Err(ApiError::new(ErrorCode::SessionExpired, "the reset session is closed")),
        }
        if self.expires_at.is_none_or(|e| now_ms > e) {
            return Err(ApiError::new(ErrorCode::SessionExpired, "the reset session has expired"));
        }
        Ok(())
    }

    async fn reservation_usable(&self, db: &Db, now_ms: i64) -> Result<ReservationRow, ApiError> {
        let r = reservation(db, &self.reservation_id).await?.ok_or_else(|| {
            ApiError::new(ErrorCode::ResetNotReserved, "the reservation of this reset session is gone")
        })?;
        r.usable(now_ms)?;
        Ok(r)
    }
}

fn key_or_unavailable(key: Option<&CardManagementKey>) -> Result<&CardManagementKey, ApiError> {
    key.ok_or_else(|| {
        ApiError::new(ErrorCode::ResetUnavailable, "PIN resets are off: this backend has no card-management key")
    })
}

/// `POST /v1/pin-reset/sessions`: the card's user-authentication certificate as ordinary
/// authentication checks it (chain, validity, CRL, link), then what a reset needs on top (a
/// card, not a phone; a valid signature certificate on it; a live reservation).
pub async fn open(
    ctx: &Context,
    key: Option<&CardManagementKey>,
    who: &Principal,
    req: &ResetOpenRequest,
    now: OffsetDateTime,
) -> Result<ResetOpenReply, ApiError> {
    let (kiosk, store) = kiosk_of(who)?;
    key_or_unavailable(key)?;
    let der = decode_b64("auth_certificate", &req.auth_certificate, 8192)?;
    let cert = user_auth_certificate(&der)?;
    let issuer = trusted_issuer(ctx, &cert, now)?;
    let now_ms = ms(now);
    let serial = crate::ops::serial_key(&hex::encode(cert.serial_bytes()));
    Revocation::of(&ctx.db.pool, &issuer, &serial).await?.check(ctx.config.require_crl, now_ms)?;
    let link = sqlx::query("SELECT resident_id, token, fingerprint FROM cert_links WHERE issuer = $1 AND serial = $2")
        .bind(issuer.clone())
        .bind(serial)
        .fetch_optional(&ctx.db.pool)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::CertificateUnlinked, "this certificate is not linked to a resident"))?;
    let token: String = link.get(1);
    super::session::check_linked_fingerprint(Some(&link.get::<String, _>(2)), &hex::encode(cert.fingerprint_sha256()))?;
    if token != "card" {
        return Err(ApiError::new(
            ErrorCode::ResetPhoneToken,
            "this is a smartphone's certificate: phone credentials are reset in the Mynaportal app",
        ));
    }
    let fingerprint = hex::encode(cert.fingerprint_sha256());
    let auth = card_cert(&ctx.db, &fingerprint).await?.ok_or_else(|| {
        ApiError::new(ErrorCode::CertificateUnlinked, "this certificate is on no card the registry knows")
    })?;
    let sign = sign_cert_of(&ctx.db, &auth.card_fingerprint).await?;
    card_allows_reset(&auth, sign.as_ref(), &today(now))?;
    if let Some(sign) = &sign {
        check_sign_crl(&ctx.db, sign, false, now_ms).await?;
    }
    // The card's newest reservation for this credential decides.
    let latest = sqlx::query(&format!(
        "SELECT {RESERVATION_COLS} FROM reset_reservations WHERE card_fingerprint = $1 AND credential = $2 ORDER BY created_at DESC, id LIMIT 1"
    ))
    .bind(auth.card_fingerprint.clone())
    .bind(req.credential.id())
    .fetch_optional(&ctx.db.pool)
    .await?
    .as_ref()
    .map(reservation_from)
    .ok_or_else(|| {
        ApiError::new(
            ErrorCode::ResetNotReserved,
            "no PIN-reset reservation for this card and credential (reserve in the phone app first)",
        )
    })?;
    if let Err(e) = latest.usable(now_ms) {
        if latest.state == "live" && e.code == ErrorCode::ResetReservationExpired {
            mark_expired(&ctx.db, &latest, &who.actor(), now_ms).await?;
        }
        return Err(e);
    }

    let id = hex::encode(random_bytes::<16>());
    let challenge = super::session::new_challenge(madoguchi_api::challenge::Purpose::PinReset, kiosk)?;
    let challenge_expires = now_ms + ctx.config.challenge_ttl_s * 1000;
    let mut tx = ctx.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO reset_sessions (id, kiosk_id, store, reservation_id, credential, resident_id, auth_certificate, card_fingerprint,
                                     challenge, challenge_expires_at, state, authorisations, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'challenged', 0, $11)",
    )
    .bind(id.clone())
    .bind(kiosk.to_string())
    .bind(store.to_string())
    .bind(latest.id.clone())
    .bind(req.credential.id())
    .bind(auth.resident_id.clone())
    .bind(B64.encode(&der))
    .bind(fingerprint.clone())
    .bind(challenge.clone())
    .bind(challenge_expires)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &Entry::new(
            who.actor(),
            "pin_reset.session_opened",
            id.clone(),
            json!({
                "reservation": latest.id, "resident": auth.resident_id, "credential": req.credential.id(),
                "card_fingerprint": fingerprint, "store": store,
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(ResetOpenReply {
        session_id: id,
        challenge,
        challenge_expires_at: rfc3339(challenge_expires),
        signature_scheme: SIGNATURE_SCHEME.into(),
        reservation_expires_at: rfc3339(latest.expires_at),
    })
}

/// Records that a live reservation was seen past its end.
async fn mark_expired(db: &Db, r: &ReservationRow, actor: &str, now_ms: i64) -> Result<(), ApiError> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE reset_reservations SET state = 'expired', closed_at = expires_at WHERE id = $1 AND state = 'live' AND expires_at < $2",
    )
    .bind(r.id.clone())
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        audit::append(
            &mut tx,
            &Entry::new(
                actor,
                "pin_reset.reservation_expired",
                r.id.clone(),
                json!({ "resident": r.resident_id, "credential": r.credential.id(), "expires_at": rfc3339(r.expires_at) }),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `POST /v1/pin-reset/sessions/{id}/authenticate`: the proving credential's certificate and its
/// key's signature over the challenge (single use). For an auth-PIN reset the signature
/// certificate of the same card; for a signature-password reset the very auth certificate the
/// session was opened with.
pub async fn authenticate(
    ctx: &Context,
    who: &Principal,
    session_id: &str,
    req: &ResetAuthenticateRequest,
    now: OffsetDateTime,
) -> Result<ResetAuthenticateReply, ApiError> {
    let (kiosk, _) = kiosk_of(who)?;
    let der = decode_b64("certificate", &req.certificate, 8192)?;
    let sig = decode_b64("signature", &req.signature, 1024)?;
    let s = load_reset_session(&ctx.db, session_id).await?;
    s.check_kiosk(kiosk)?;
    if s.state != "challenged" {
        return Err(ApiError::new(ErrorCode::ChallengeUsed, "this challenge has already been answered"));
    }
    let now_ms = ms(now);
    if now_ms > s.challenge_expires_at {
        return Err(ApiError::new(ErrorCode::ChallengeExpired, "the challenge has expired; open a new reset session"));
    }
    let cert = JpkiCertificate::from_der(&der).map_err(cert_error)?;
    let fingerprint = hex::encode(cert.fingerprint_sha256());
    let mismatch = || {
        ApiError::new(
            ErrorCode::ResetCertificateMismatch,
            "this certificate does not belong to the card the reset session was opened with",
        )
    };
    match s.credential {
        ResetCredential::SignPassword => {
            if fingerprint != s.card_fingerprint {
                return Err(mismatch());
            }
        }
        ResetCredential::AuthPin => {
            if cert.profile() != CertProfile::DigitalSignature {
                return Err(ApiError::new(
                    ErrorCode::CertificateWrongProfile,
                    "an auth-PIN reset is proven with the signature certificate (署名用電子証明書)",
                ));
            }
        }
    }
    let issuer = trusted_issuer(ctx, &cert, now)?;
    let serial = crate::ops::serial_key(&hex::encode(cert.serial_bytes()));
    let revocation = Revocation::of(&ctx.db.pool, &issuer, &serial).await?;
    if s.credential == ResetCredential::AuthPin {
        let registered = card_cert(&ctx.db, &fingerprint).await?;
        let Some(sign) = registered.filter(|c| c.kind == "sign" && c.card_fingerprint == s.card_fingerprint) else {
            return Err(mismatch());
        };
        if !sign.on_card || matches!(sign.status.as_str(), "revoked" | "suspended") {
            return Err(ApiError::new(
                ErrorCode::ResetSignatureRevoked,
                "the signature certificate is revoked: the PIN can be reset only at city hall",
            ));
        }
        revocation.check(ctx.config.require_crl, now_ms).map_err(sign_revoked)?;
    } else {
        revocation.check(ctx.config.require_crl, now_ms)?;
    }
    if !challenge_signature_ok(cert.public_key(), &s.challenge, &sig) {
        return Err(ApiError::new(ErrorCode::SignatureInvalid, "the signature over the challenge does not verify"));
    }
    let reservation = s.reservation_usable(&ctx.db, now_ms).await?;
    let expires = now_ms + ctx.config.session_ttl_s * 1000;
    let mut tx = ctx.db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE reset_sessions SET state = 'authenticated', expires_at = $1
         WHERE id = $2 AND kiosk_id = $3 AND state = 'challenged' AND challenge_expires_at >= $4",
    )
    .bind(expires)
    .bind(s.id.clone())
    .bind(kiosk.to_string())
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Err(ApiError::new(ErrorCode::ChallengeUsed, "this challenge has already been answered"));
    }
    audit::append(
        &mut tx,
        &Entry::new(
            who.actor(),
            "pin_reset.authenticated",
            s.id.clone(),
            json!({
                "reservation": reservation.id, "resident": s.resident_id, "credential": s.credential.id(),
                "proven_by": s.credential.proven_by().id(), "certificate_fingerprint": fingerprint,
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(ResetAuthenticateReply { session_id: s.id, session_expires_at: rfc3339(expires) })
}

/// `POST /v1/pin-reset/sessions/{id}/authorisation`: the card-management key's signature for one
/// card challenge, at most [`MAX_AUTHORISATIONS`] per session.
pub async fn authorise(
    ctx: &Context,
    key: Option<&CardManagementKey>,
    who: &Principal,
    session_id: &str,
    req: &ResetAuthorisationRequest,
    now: OffsetDateTime,
) -> Result<ResetAuthorisationReply, ApiError> {
    let (kiosk, _) = kiosk_of(who)?;
    let key = key_or_unavailable(key)?;
    let challenge: [u8; CHALLENGE_LEN] = decode_b64("card_challenge", &req.card_challenge, 64)?
        .try_into()
        .map_err(|_| ApiError::field(ErrorCode::InvalidField, "card_challenge", "must be 8 bytes"))?;
    let s = load_reset_session(&ctx.db, session_id).await?;
    s.check_kiosk(kiosk)?;
    let now_ms = ms(now);
    s.check_authenticated(now_ms)?;
    let too_many = || {
        ApiError::new(
            ErrorCode::ResetTooManyAuthorisations,
            format!("a reset session is given at most {MAX_AUTHORISATIONS} authorisations"),
        )
    };
    if s.authorisations >= MAX_AUTHORISATIONS {
        return Err(too_many());
    }
    s.reservation_usable(&ctx.db, now_ms).await?;
    let mut tx = ctx.db.begin_write().await?;
    let n: Option<i64> = sqlx::query(
        "UPDATE reset_sessions SET authorisations = authorisations + 1
         WHERE id = $1 AND kiosk_id = $2 AND state = 'authenticated' AND authorisations < $3 AND expires_at >= $4
         RETURNING authorisations",
    )
    .bind(s.id.clone())
    .bind(kiosk.to_string())
    .bind(MAX_AUTHORISATIONS)
    .bind(now_ms)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| r.get(0));
    let Some(n) = n else {
        tx.rollback().await?;
        return Err(too_many());
    };
    audit::append(
        &mut tx,
        &Entry::new(
            who.actor(),
            "pin_reset.authorised",
            s.id.clone(),
            json!({ "reservation": s.reservation_id, "credential": s.credential.id(), "authorisation": n }),
        ),
    )
    .await?;
    tx.commit().await?;
    let authorisation = key.authorise(s.credential, &challenge, &s.auth_certificate);
    Ok(ResetAuthorisationReply { authorisation: B64.encode(authorisation) })
}

/// A kiosk's `detail`: a failure code id or a status word, never free text (and so never a PIN
/// typed into the wrong field of a form).
fn detail_ok(d: &str) -> bool {
    (1..=64).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// `POST /v1/pin-reset/sessions/{id}/outcome`: once per session; `reset` uses the reservation up.
pub async fn outcome(
    ctx: &Context,
    who: &Principal,
    session_id: &str,
    req: &ResetOutcomeRequest,
    now: OffsetDateTime,
) -> Result<ResetOutcomeReply, ApiError> {
    let (kiosk, _) = kiosk_of(who)?;
    if req.detail.as_deref().is_some_and(|d| !detail_ok(d)) {
        return Err(ApiError::field(ErrorCode::InvalidField, "detail", "must be a code: 1–64 of A–Z a–z 0–9 - _ . :"));
    }
    let s = load_reset_session(&ctx.db, session_id).await?;
    s.check_kiosk(kiosk)?;
    let already = || ApiError::new(ErrorCode::OutcomeAlreadyRecorded, "the outcome of this reset session was reported");
    if s.outcome.is_some() {
        return Err(already());
    }
    let reset = req.outcome == ResetOutcomeKind::Reset;
    if reset && (s.state != "authenticated" || s.authorisations == 0) {
        return Err(ApiError::new(
            ErrorCode::NotAuthenticated,
            "a reset is reported only after authentication and an authorisation",
        ));
    }
    let now_ms = ms(now);
    let kind = if reset { "reset" } else { "not_reset" };
    let mut tx = ctx.db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE reset_sessions SET outcome = $1, outcome_at = $2, state = 'closed' WHERE id = $3 AND kiosk_id = $4 AND outcome IS NULL",
    )
    .bind(kind)
    .bind(now_ms)
    .bind(s.id.clone())
    .bind(kiosk.to_string())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Err(already());
    }
    if reset {
        // The card is reset whatever the clock says: a reservation live when the session was
        // authenticated is used up even if its end passed meanwhile.
        sqlx::query("UPDATE reset_reservations SET state = 'used', closed_at = $1 WHERE id = $2 AND state IN ('live', 'expired')")
            .bind(now_ms)
            .bind(s.reservation_id.clone())
            .execute(&mut *tx)
            .await?;
    }
    let row = sqlx::query(&format!("SELECT {RESERVATION_COLS} FROM reset_reservations WHERE id = $1"))
        .bind(s.reservation_id.clone())
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(reservation_from);
    let state = row.as_ref().map(|r| r.state_at(now_ms)).unwrap_or(ReservationState::Cancelled);
    audit::append(
        &mut tx,
        &Entry::new(
            who.actor(),
            if reset { "pin_reset.reset" } else { "pin_reset.not_reset" },
            s.id.clone(),
            json!({
                "reservation": s.reservation_id, "resident": s.resident_id, "credential": s.credential.id(),
                "detail": req.detail, "reservation_state": state,
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(ResetOutcomeReply { session_id: s.id, reservation_state: state })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(kind: &str, token: &str, status: &str, expiry: &str) -> CardCert {
        CardCert {
            fingerprint: "f".repeat(64),
            resident_id: "R1".into(),
            card_fingerprint: "a".repeat(64),
            kind: kind.into(),
            token: token.into(),
            on_card: true,
            issuer: String::new(),
            serial: "1".into(),
            status: status.into(),
            expiry: expiry.into(),
        }
    }

    fn code(r: Result<(), ApiError>) -> Option<ErrorCode> {
        r.err().map(|e| e.code)
    }

    #[test]
    fn the_registry_decides_which_cards_may_be_reset() {
        let today = "2026-12-02";
        let auth = cert("auth", "card", "valid", "2030-01-01");
        let sign = cert("sign", "card", "valid", "2030-01-01");
        assert_eq!(code(card_allows_reset(&auth, Some(&sign), today)), None);
        assert_eq!(code(card_allows_reset(&auth, None, today)), Some(ErrorCode::ResetNoSignatureCertificate));
        for status in ["revoked", "suspended"] {
            let s = cert("sign", "card", status, "2030-01-01");
            assert_eq!(code(card_allows_reset(&auth, Some(&s), today)), Some(ErrorCode::ResetSignatureRevoked));
        }
        let old_sign = cert("sign", "card", "valid", "2026-12-01");
        assert_eq!(code(card_allows_reset(&auth, Some(&old_sign), today)), Some(ErrorCode::CertificateExpired));
        let phone = cert("auth", "android", "valid", "2030-01-01");
        assert_eq!(code(card_allows_reset(&phone, Some(&sign), today)), Some(ErrorCode::ResetPhoneToken));
        for (status, expiry, want) in [
            ("revoked", "2030-01-01", ErrorCode::CertificateRevoked),
            ("suspended", "2030-01-01", ErrorCode::CertificateSuspended),
            ("expired", "2030-01-01", ErrorCode::CertificateExpired),
            ("valid", "2026-12-01", ErrorCode::CertificateExpired),
        ] {
            let a = cert("auth", "card", status, expiry);
            assert_eq!(code(card_allows_reset(&a, Some(&sign), today)), Some(want), "{status} {expiry}");
        }
        // The last day is still valid.
        let a = cert("auth", "card", "valid", today);
        assert_eq!(code(card_allows_reset(&a, Some(&sign), today)), None);
    }

    #[test]
    fn reservation_states_follow_the_clock() {
        let r = ReservationRow {
            id: "0".repeat(32),
            resident_id: "R1".into(),
            municipality_code: "132217".into(),
            card_fingerprint: "a".repeat(64),
            credential: ResetCredential::SignPassword,
            reserved_at: 1_000,
            expires_at: 2_000,
            state: "live".into(),
            closed_at: None,
        };
        assert_eq!(r.state_at(2_000), ReservationState::Live);
        assert!(r.usable(2_000).is_ok());
        assert_eq!(r.state_at(2_001), ReservationState::Expired);
        assert_eq!(r.usable(2_001).unwrap_err().code, ErrorCode::ResetReservationExpired);
        assert_eq!(r.to_api(2_001).closed_at, Some(rfc3339(2_000)));
        let used = ReservationRow { state: "used".into(), closed_at: Some(1_500), ..r.clone() };
        assert_eq!(used.usable(1_600).unwrap_err().code, ErrorCode::ResetNotReserved);
        let cancelled = ReservationRow { state: "cancelled".into(), ..r };
        assert_eq!(cancelled.to_api(1_600).state, ReservationState::Cancelled);
    }

    #[test]
    fn details_are_codes_not_text() {
        assert!(detail_ok("reset-card-removed"));
        assert!(detail_ok("sw:6982"));
        assert!(!detail_ok(""));
        assert!(!detail_ok("new pin 1234"));
        assert!(!detail_ok(&"x".repeat(65)));
    }
}
