//! Opening a session and authenticating it: the challenge, the card's certificate and
//! signature, revocation, and the link to the resident, checked in one round trip.

use super::context::{check_session_id, kiosk_of, random_bytes, session_from, Context, Principal};
use crate::db::{ms, rfc3339};
use crate::domain;
use crate::error::ApiError;
use crate::registry;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use madoguchi_api::v1::{AuthenticateReply, AuthenticateRequest, ChallengeReply};
use madoguchi_api::{challenge, ErrorCode};
use madoguchi_certs::{CertErrorKind, CertProfile, JpkiCertificate};
use sqlx::Row;
use time::OffsetDateTime;

/// The longest an authentication challenge lives, whatever `challenge_ttl_s` says. The kiosk
/// asks for it only after the card has taken the PIN, so it has to outlast one signature and
/// one round trip, not the resident's typing; the shorter it lives, the shorter the window in
/// which a relayed challenge is of any use. (A reset's challenge waits for the proving PIN to
/// be typed and keeps `challenge_ttl_s`.)
pub const AUTH_CHALLENGE_TTL_MAX_S: i64 = 30;

/// A new challenge for `purpose` made for `kiosk` ([`madoguchi_api::challenge`]): base64 of
/// madoguchi's domain tag, the purpose, the kiosk id and 32 random bytes.
pub(super) fn new_challenge(purpose: challenge::Purpose, kiosk: &str) -> Result<String, ApiError> {
    challenge::encode(purpose, kiosk, &random_bytes::<{ challenge::NONCE_LEN }>())
        .map(|c| B64.encode(c))
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "this kiosk's id cannot be carried in a challenge"))
}

pub async fn open_session(ctx: &Context, who: &Principal, now: OffsetDateTime) -> Result<ChallengeReply, ApiError> {
    let (kiosk, store) = kiosk_of(who)?;
    let id = hex::encode(random_bytes::<16>());
    let challenge = new_challenge(challenge::Purpose::Authenticate, kiosk)?;
    let expires = ms(now) + ctx.config.challenge_ttl_s.min(AUTH_CHALLENGE_TTL_MAX_S) * 1000;
    let mut w = ctx.db.single_write().await?;
    sqlx::query("INSERT INTO sessions (id, kiosk_id, store, challenge, challenge_expires_at, state, created_at) VALUES ($1, $2, $3, $4, $5, 'challenged', $6)")
        .bind(id.clone())
        .bind(kiosk.to_string())
        .bind(store.to_string())
        .bind(challenge.clone())
        .bind(expires)
        .bind(ms(now))
        .execute(&mut *w)
        .await?;
    w.commit().await?;
    Ok(ChallengeReply {
        session_id: id,
        challenge,
        challenge_expires_at: rfc3339(expires),
        signature_scheme: madoguchi_api::v1::SIGNATURE_SCHEME.into(),
    })
}

pub(super) fn cert_error(e: madoguchi_certs::CertError) -> ApiError {
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

/// The DER as a JPKI user-authentication certificate (利用者証明用), or the error the kiosk gets.
pub(super) fn user_auth_certificate(der: &[u8]) -> Result<JpkiCertificate, ApiError> {
    let cert = JpkiCertificate::from_der(der).map_err(cert_error)?;
    if cert.profile() != CertProfile::UserAuthentication {
        return Err(ApiError::new(
            ErrorCode::CertificateWrongProfile,
            "not a user-authentication certificate (利用者証明用電子証明書)",
        ));
    }
    Ok(cert)
}

pub(super) fn decode_b64(field: &str, s: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    if s.len() > max * 4 / 3 + 4 {
        return Err(ApiError::field(ErrorCode::InvalidField, field, "too long"));
    }
    B64.decode(s.trim()).map_err(|_| ApiError::field(ErrorCode::InvalidField, field, "is not base64"))
}

/// Checks the chain to a pinned anchor and the validity period; returns the issuing anchor's
/// name as the CRLs are stored under it.
pub(super) fn trusted_issuer(ctx: &Context, cert: &JpkiCertificate, now: OffsetDateTime) -> Result<String, ApiError> {
    let fingerprint = cert.fingerprint_sha256();
    if let Some((i, issuer)) = ctx.chains.get(&fingerprint) {
        if let Some(anchor) = ctx.anchors.anchors().get(i) {
            // Verified before: only what depends on the time is checked again.
            let a = anchor.cert();
            if !a.is_valid_at(now) {
                return Err(cert_error(madoguchi_certs::CertError::AnchorNotValid {
                    not_before: a.not_before(),
                    not_after: a.not_after(),
                }));
            }
            cert.check_validity(now).map_err(cert_error)?;
            return Ok(issuer);
        }
    }
    let anchor = ctx.anchors.verify_chain(cert, now).map_err(|e| match e.kind() {
        // A certificate whose CA signature fails is not trusted (the challenge signature is a
        // different matter, `signature_invalid`).
        CertErrorKind::BadSignature => ApiError::new(
            ErrorCode::CertificateUntrusted,
            "the certificate does not verify against a pinned JPKI anchor",
        ),
        _ => cert_error(e),
    })?;
    let issuer = registry::issuer_id_of_anchor(anchor.cert());
    if let Some(i) = ctx.anchors.anchors().iter().position(|a| std::ptr::eq(a, anchor)) {
        ctx.chains.put(fingerprint, i, issuer.clone());
    }
    Ok(issuer)
}

/// What the imported CRLs say about one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Revocation {
    /// CRLs of the issuer imported (0 or 1).
    pub crls: i64,
    pub next_update: Option<i64>,
    /// Revoked or on hold since (ms).
    pub since: Option<i64>,
    /// Non-zero: on hold (一時保留), not revoked.
    pub hold: Option<i64>,
}

impl Revocation {
    /// Looks the certificate up (issuer as [`trusted_issuer`] names it, serial as
    /// `ops::serial_key`).
    pub async fn of(pool: &crate::db::Pool, issuer: &str, serial: &str) -> Result<Revocation, ApiError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM jpki_crls WHERE issuer = $1),
                    (SELECT next_update FROM jpki_crls WHERE issuer = $1),
                    (SELECT since FROM jpki_revocations WHERE issuer = $1 AND serial = $2),
                    (SELECT hold FROM jpki_revocations WHERE issuer = $1 AND serial = $2)",
        )
        .bind(issuer.to_string())
        .bind(serial.to_string())
        .fetch_one(pool)
        .await?;
        Ok(Revocation { crls: row.get(0), next_update: row.get(1), since: row.get(2), hold: row.get(3) })
    }

    /// `revocation_unavailable` without a current CRL (when required), then revoked or on hold.
    pub fn check(&self, require_crl: bool, now_ms: i64) -> Result<(), ApiError> {
        if require_crl {
            if self.crls == 0 {
                return Err(ApiError::new(
                    ErrorCode::RevocationUnavailable,
                    "no CRL of this certificate's issuer has been imported",
                ));
            }
            if self.next_update.is_some_and(|n| n < now_ms) {
                return Err(ApiError::new(
                    ErrorCode::RevocationUnavailable,
                    "the imported CRL of this certificate's issuer is out of date",
                ));
            }
        }
        if let Some(since) = self.since.filter(|s| *s <= now_ms) {
            return Err(if self.hold.unwrap_or(0) != 0 {
                ApiError::new(
                    ErrorCode::CertificateSuspended,
                    format!("the certificate is on hold since {}", rfc3339(since)),
                )
            } else {
                ApiError::new(
                    ErrorCode::CertificateRevoked,
                    format!("the certificate was revoked on {}", rfc3339(since)),
                )
            });
        }
        Ok(())
    }
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
    let cert = user_auth_certificate(&der)?;
    let issuer = trusted_issuer(ctx, &cert, now)?;
    // Revocation and suspension (imported CRLs) and the link to the resident: by the key of
    // the anchor that verified the certificate and its serial, never by name.
    let serial = crate::ops::serial_key(&hex::encode(cert.serial_bytes()));
    let mut reader = ctx.db.reader().await?;
    let row = sqlx::query(
        "SELECT s.id, s.kiosk_id, s.store, s.challenge, s.challenge_expires_at, s.state, s.resident_id, s.cert_fingerprint, s.expires_at,
                (SELECT COUNT(*) FROM jpki_crls WHERE issuer = $2),
                (SELECT next_update FROM jpki_crls WHERE issuer = $2),
                (SELECT since FROM jpki_revocations WHERE issuer = $2 AND serial = $3),
                (SELECT hold FROM jpki_revocations WHERE issuer = $2 AND serial = $3),
                l.resident_id, r.name, r.status, l.fingerprint
         FROM sessions s
         LEFT JOIN cert_links l ON l.issuer = $2 AND l.serial = $3
         LEFT JOIN residents r ON r.id = l.resident_id
         WHERE s.id = $1",
    )
    .bind(session_id.to_string())
    .bind(issuer)
    .bind(serial.clone())
    .fetch_optional(&mut *reader)
    .await?;
    reader.release();
    let row = row.ok_or_else(|| ApiError::new(ErrorCode::SessionNotFound, "no such session"))?;
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
    Revocation { crls, next_update, since, hold }.check(ctx.config.require_crl, now_ms)?;
    let (Some(resident_id), Some(holder_name), Some(status)) = (resident_id, name, status) else {
        return Err(ApiError::new(ErrorCode::CertificateUnlinked, "this certificate is not linked to a resident"));
    };
    let fingerprint = hex::encode(cert.fingerprint_sha256());
    check_linked_fingerprint(row.get::<Option<String>, _>(16).as_deref(), &fingerprint)?;
    if domain::ResidentStatus::parse(&status) == domain::ResidentStatus::Deceased {
        return Err(ApiError::new(ErrorCode::ResidentNotEligible, "this resident's record is closed"));
    }
    let expires = now_ms + ctx.config.session_ttl_s * 1000;
    // Single-use: only a session still waiting for its answer moves on.
    let mut w = ctx.db.single_write().await?;
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
    .execute(&mut *w)
    .await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::new(ErrorCode::ChallengeUsed, "this challenge has already been answered"));
    }
    w.commit().await?;
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

/// The link names one certificate (its SHA-256): another one under the same issuer key and
/// serial is not the linked certificate, whatever its chain says.
pub(super) fn check_linked_fingerprint(linked: Option<&str>, presented: &str) -> Result<(), ApiError> {
    match linked {
        Some(l) if l.eq_ignore_ascii_case(presented) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::CertificateUnlinked,
            "this certificate is not the one linked to a resident under its issuer and serial",
        )),
    }
}

/// RSA PKCS#1 v1.5 SHA-256 over the challenge: ring first (about 8 times faster than the `rsa`
/// crate), the certs crate for anything ring refuses to consider (keys under 2048 bits).
pub(super) fn challenge_signature_ok(key: &madoguchi_certs::RsaPublicKey, challenge: &[u8], sig: &[u8]) -> bool {
    use rsa::traits::PublicKeyParts;
    let ring_key = ring::signature::RsaPublicKeyComponents { n: key.n().to_bytes_be(), e: key.e().to_bytes_be() };
    if ring_key.verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, challenge, sig).is_ok() {
        return true;
    }
    key.size() < 256 && madoguchi_certs::verify_pkcs1v15_sha256(key, challenge, sig).is_ok()
}
