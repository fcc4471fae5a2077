//! JPKI certificates: profiles, basic 4 information, validity, chains to pinned anchors, CRLs,
//! RSA PKCS#1 v1.5 SHA-256 signatures, and a test PKI (`testpki`, test material only).
//!
//! Everything here reads untrusted bytes from cards and the network: malformed input gives a
//! [`CertError`], never a panic.
#![forbid(unsafe_code)]

mod anchors;
mod basic4;
mod cert;
mod crl;
pub mod era;
mod error;
pub mod fuzzing;
pub mod oids;
pub mod testpki;
mod util;
pub mod validity;

pub use anchors::{Anchor, TrustAnchors};
pub use basic4::{check_fullwidth, to_fullwidth, Basic4Info, BirthDate, Sex, MAX_ADDRESS_CHARS};
pub use cert::{der_length_from_header, CertProfile, JpkiCertificate, KeyUsageBits};
pub use crl::{Crl, Revocation, RevocationReason};
pub use era::Era;
pub use error::{CertError, CertErrorKind};
pub use validity::ValidityStatus;

pub use rsa::RsaPublicKey;

use rsa::pkcs1v15::Pkcs1v15Sign;
use sha2::{Digest, Sha256};

/// Verifies an RSA PKCS#1 v1.5 signature over SHA-256 of `message` (what the card's
/// COMPUTE DIGITAL SIGNATURE produces from a SHA-256 DigestInfo).
pub fn verify_pkcs1v15_sha256(key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> Result<(), CertError> {
    verify_pkcs1v15_sha256_prehashed(key, &Sha256::digest(message).into(), signature)
}

/// As [`verify_pkcs1v15_sha256`] for a caller that already holds the digest (e.g. the backend's
/// challenge hash).
pub fn verify_pkcs1v15_sha256_prehashed(
    key: &RsaPublicKey,
    digest: &[u8; 32],
    signature: &[u8],
) -> Result<(), CertError> {
    key.verify(Pkcs1v15Sign::new::<Sha256>(), digest, signature).map_err(|_| CertError::BadSignature)
}
