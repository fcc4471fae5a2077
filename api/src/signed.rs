//! The backend's own signatures (Ed25519) over the catalog and each document payload, as kiosks
//! check them. Signing stays in the backend (`backend/src/signing.rs`).
//!
//! A signed object travels as `{payload, signature, key_id, algorithm}` where `payload` is the
//! JSON text exactly as signed: the receiver verifies the signature over the UTF-8 bytes of
//! `payload` *before* parsing it, so no JSON canonicalisation is needed on either side.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

pub const ALGORITHM: &str = "Ed25519";

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Format(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("signed by key {got}, expected {expected}")]
    WrongKey { got: String, expected: String },
    #[error("unsupported algorithm {0}")]
    Algorithm(String),
}

/// The class of a [`SigningError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningErrorKind {
    /// A key file cannot be read or is not a key.
    Key,
    /// A signed object that does not verify with this key.
    Signature,
}

impl SigningError {
    pub fn kind(&self) -> SigningErrorKind {
        match self {
            SigningError::Io { .. } | SigningError::Format(_) => SigningErrorKind::Key,
            SigningError::BadSignature | SigningError::WrongKey { .. } | SigningError::Algorithm(_) => {
                SigningErrorKind::Signature
            }
        }
    }
}

/// Which key signed: first 8 bytes of SHA-256 of the raw public key, hex.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// The backend's public key, as kiosks hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(pub VerifyingKey);

impl PublicKey {
    /// First 8 bytes of SHA-256 of the raw key, hex.
    pub fn key_id(&self) -> String {
        key_id(&self.0)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// From 64 hex digits (the configuration's and `signing.pub`'s form).
    pub fn from_hex(s: &str) -> Result<PublicKey, SigningError> {
        let bytes = hex::decode(s.trim()).map_err(|e| SigningError::Format(format!("public key: {e}")))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SigningError::Format("public key: not 32 bytes".into()))?;
        VerifyingKey::from_bytes(&arr).map(PublicKey).map_err(|e| SigningError::Format(format!("public key: {e}")))
    }

    pub fn load(path: &Path) -> Result<PublicKey, SigningError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SigningError::Io { path: path.display().to_string(), source })?;
        PublicKey::from_hex(&text)
    }

    /// Checks a signed blob and returns its payload, ready to parse.
    pub fn verify<'a>(&self, blob: &'a SignedBlob) -> Result<&'a str, SigningError> {
        if blob.algorithm != ALGORITHM {
            return Err(SigningError::Algorithm(blob.algorithm.clone()));
        }
        if blob.key_id != self.key_id() {
            return Err(SigningError::WrongKey { got: blob.key_id.clone(), expected: self.key_id() });
        }
        let bytes = B64.decode(&blob.signature).map_err(|_| SigningError::BadSignature)?;
        let sig = ed25519_dalek::Signature::from_slice(&bytes).map_err(|_| SigningError::BadSignature)?;
        self.0.verify(blob.payload.as_bytes(), &sig).map_err(|_| SigningError::BadSignature)?;
        Ok(&blob.payload)
    }
}

/// A signed JSON payload (catalog or document).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignedBlob {
    /// The signed JSON text; parse it only after the signature verified.
    pub payload: String,
    /// Ed25519 signature over the UTF-8 bytes of `payload`, base64.
    pub signature: String,
    /// Which backend key signed (first 8 bytes of SHA-256 of the public key, hex).
    pub key_id: String,
    /// Always `Ed25519`.
    pub algorithm: String,
}

/// A document payload is a resident's data: never in a log.
impl std::fmt::Debug for SignedBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedBlob")
            .field("payload_bytes", &self.payload.len())
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    /// Signs as the backend does (`backend/src/signing.rs`).
    pub fn sign(key: &SigningKey, payload: &str) -> SignedBlob {
        SignedBlob {
            payload: payload.to_string(),
            signature: B64.encode(key.sign(payload.as_bytes()).to_bytes()),
            key_id: key_id(&key.verifying_key()),
            algorithm: ALGORITHM.into(),
        }
    }

    #[test]
    fn verify_and_tamper() {
        let k = SigningKey::from_bytes(&[3u8; 32]);
        let public = PublicKey(k.verifying_key());
        let blob = sign(&k, "{\"a\":1}");
        assert_eq!(public.verify(&blob).unwrap(), "{\"a\":1}");
        let mut t = blob.clone();
        t.payload = "{\"a\":2}".into();
        assert!(matches!(public.verify(&t), Err(SigningError::BadSignature)));
        let other = PublicKey(SigningKey::from_bytes(&[4u8; 32]).verifying_key());
        assert!(matches!(other.verify(&blob), Err(SigningError::WrongKey { .. })));
        let mut s = blob.clone();
        let mut raw = B64.decode(&s.signature).unwrap();
        raw[0] ^= 1;
        s.signature = B64.encode(raw);
        assert!(public.verify(&s).is_err());
        let mut a = blob.clone();
        a.algorithm = "RS256".into();
        assert_eq!(public.verify(&a).unwrap_err().kind(), SigningErrorKind::Signature);
    }

    #[test]
    fn keys_from_hex_and_files() {
        let k = PublicKey(SigningKey::from_bytes(&[5u8; 32]).verifying_key());
        assert_eq!(PublicKey::from_hex(&format!(" {}\n", k.to_hex())).unwrap(), k);
        assert_eq!(k.key_id().len(), 16);
        for bad in ["00", "zz", ""] {
            assert_eq!(PublicKey::from_hex(bad).unwrap_err().kind(), SigningErrorKind::Key, "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("signing.pub"), k.to_hex()).unwrap();
        assert_eq!(PublicKey::load(&dir.path().join("signing.pub")).unwrap(), k);
        assert!(matches!(PublicKey::load(&dir.path().join("missing")), Err(SigningError::Io { .. })));
    }

    #[test]
    fn debug_output_shows_no_payload() {
        let blob = sign(&SigningKey::from_bytes(&[6u8; 32]), "{\"name\":\"山田\"}");
        let d = format!("{blob:?}");
        assert!(!d.contains("山田") && d.contains("payload_bytes"), "{d}");
    }
}
