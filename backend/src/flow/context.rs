//! What every step of the flow shares: who is calling, the context, the session row and the
//! checks each authenticated step makes. The base of the flow's modules (they depend on it, it on
//! none of them).

use crate::config::Config;
use crate::db::{from_ms, Db};
use crate::error::ApiError;
use crate::signing::BackendKey;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use madoguchi_api::municipality::jst;
use madoguchi_api::ErrorCode;
use madoguchi_certs::TrustAnchors;
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
    /// Card certificates whose chain to a pinned anchor has verified.
    pub chains: ChainCache,
}

impl Context {
    pub fn new(db: Db, config: Config, key: BackendKey, anchors: TrustAnchors) -> Context {
        Context { db, config, key, anchors, chains: ChainCache::default() }
    }
}

/// Which pinned anchor signed a card certificate, by the certificate's SHA-256: the RSA
/// verification of a chain is the dearest step of an authentication and its result depends on
/// nothing but the certificate's bytes and the anchors, which are fixed for the process. What
/// changes with time is checked on every use all the same: both validity periods (here) and
/// revocation (the imported CRLs, read with the session).
#[derive(Default)]
pub struct ChainCache {
    map: std::sync::RwLock<std::collections::HashMap<[u8; 32], (usize, String)>>,
}

impl ChainCache {
    /// Entries kept before the cache starts over (a few MB).
    const MAX: usize = 50_000;

    /// The anchor's index in `anchors` and the issuer id, if this certificate verified before.
    pub fn get(&self, fingerprint: &[u8; 32]) -> Option<(usize, String)> {
        self.map.read().expect("lock").get(fingerprint).cloned()
    }

    pub fn put(&self, fingerprint: [u8; 32], anchor: usize, issuer: String) {
        let mut map = self.map.write().expect("lock");
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(fingerprint, (anchor, issuer));
    }
}

pub type Ctx = Arc<Context>;

pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
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

pub(super) fn session_from(r: &AnyRow) -> SessionRow {
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

pub(super) fn check_session_id(id: &str) -> Result<(), ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(ErrorCode::SessionNotFound, "no such session"));
    }
    Ok(())
}

pub(super) async fn load_session(ctx: &Context, id: &str) -> Result<SessionRow, ApiError> {
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

pub(super) fn kiosk_of(p: &Principal) -> Result<(&str, &str), ApiError> {
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

/// For logs and messages.
pub fn describe_time(ms: i64) -> String {
    jst(from_ms(ms)).to_string()
}
