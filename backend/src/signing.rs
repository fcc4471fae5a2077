//! The backend's own signatures (Ed25519): the catalog and each document payload, and the
//! verification codes printed on documents. Only the signing side lives here; the signed form
//! (`SignedBlob`), the public key and the verification a kiosk makes are `madoguchi_api`'s
//! (`signed`, `verify`), so the kiosk checks exactly what is signed here.
//!
//! A signed object travels as `{payload, signature, key_id, algorithm}` where `payload` is the
//! JSON text exactly as signed: the receiver verifies the signature over the UTF-8 bytes of
//! `payload` *before* parsing it, so no JSON canonicalisation is needed on either side.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use madoguchi_api::signed::{PublicKey, SignedBlob, SigningError, ALGORITHM};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The backend's signing key and the secret verification codes are derived from. The two are
/// separate keys (`signing.key`, `verify-code.key`): a code secret derived from the signing seed
/// would make whoever can sign able to mint codes and the reverse, and would rotate with it.
#[derive(Clone)]
pub struct BackendKey {
    signing: SigningKey,
    code_secret: [u8; 32],
    /// Keys made before `verify-code.key` existed derived codes from the signing seed; documents
    /// numbered up to this JST day (`YYYYMMDD`) keep verifying with that derivation.
    legacy: Option<([u8; 32], String)>,
}

/// Shows the public key only: the seed and the code secret never reach a log or a panic.
impl std::fmt::Debug for BackendKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BackendKey {{ public: {}, legacy_codes_until: {:?} }}",
            self.public().to_hex(),
            self.legacy.as_ref().map(|l| &l.1)
        )
    }
}

/// The derivation of codes from the signing seed that keys before `verify-code.key` used.
fn legacy_code_secret(seed: &[u8; 32]) -> [u8; 32] {
    Sha256::new().chain_update(b"madoguchi verification code v1").chain_update(seed).finalize().into()
}

fn read_hex32(path: &Path) -> Result<[u8; 32], SigningError> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|source| SigningError::Io { path: path.display().to_string(), source })?,
    );
    let bytes = hex::decode(text.trim()).map_err(|_| SigningError::Format(format!("{}: not hex", path.display())))?;
    bytes.try_into().map_err(|_| SigningError::Format(format!("{}: not 32 bytes", path.display())))
}

impl BackendKey {
    pub fn generate() -> BackendKey {
        let mut seed = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
        let mut code = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut code);
        BackendKey::from_parts(seed, code)
    }

    pub fn from_parts(seed: [u8; 32], code_secret: [u8; 32]) -> BackendKey {
        BackendKey { signing: SigningKey::from_bytes(&seed), code_secret, legacy: None }
    }

    /// Reads the seed (`signing.key`) and the code secret (`verify-code.key`), each 64 hex
    /// digits; `legacy_until`, if the file exists, holds the last JST day (`YYYYMMDD`) whose
    /// documents carry codes of the old derivation.
    pub fn load(seed_path: &Path, code_path: &Path, legacy_until: &Path) -> Result<BackendKey, SigningError> {
        let seed = read_hex32(seed_path)?;
        let mut key = BackendKey::from_parts(seed, read_hex32(code_path)?);
        if let Ok(day) = std::fs::read_to_string(legacy_until) {
            let day = day.trim().to_string();
            if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SigningError::Format(format!("{}: not a YYYYMMDD day", legacy_until.display())));
            }
            key.legacy = Some((legacy_code_secret(&seed), day));
        }
        Ok(key)
    }

    pub fn code_secret_hex(&self) -> String {
        hex::encode(self.code_secret)
    }

    pub fn seed_hex(&self) -> String {
        hex::encode(self.signing.to_bytes())
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    pub fn sign(&self, payload: &str) -> SignedBlob {
        let sig = self.signing.sign(payload.as_bytes());
        SignedBlob {
            payload: payload.to_string(),
            signature: B64.encode(sig.to_bytes()),
            key_id: self.public().key_id(),
            algorithm: ALGORITHM.to_string(),
        }
    }

    /// The verification code for an issuance number: 12 characters from an alphabet without
    /// look-alikes, derived with a keyed hash so nothing needs storing and any instance sharing
    /// the key can check it.
    pub fn verification_code(&self, issuance_number: &str) -> String {
        code_with(&self.code_secret, issuance_number)
    }

    /// Constant-time comparison of a presented code (and, for documents numbered on or before
    /// the legacy day, of the old derivation's).
    pub fn check_verification_code(&self, issuance_number: &str, presented: &str) -> bool {
        let p = presented.trim().to_ascii_uppercase();
        let same = |expected: String| {
            p.len() == expected.len() && p.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        };
        let current = same(self.verification_code(issuance_number));
        let legacy = match &self.legacy {
            Some((secret, until)) => {
                let day = issuance_number.get(..8).unwrap_or("");
                day.len() == 8 && day <= until.as_str() && same(code_with(secret, issuance_number))
            }
            None => false,
        };
        current | legacy
    }
}

fn code_with(secret: &[u8; 32], issuance_number: &str) -> String {
    let mac =
        Sha256::new().chain_update(secret).chain_update(issuance_number.as_bytes()).chain_update(secret).finalize();
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    mac.iter().take(12).map(|b| ALPHABET[(*b & 31) as usize] as char).collect()
}

/// The card-management key (reference/jpki.md, "PIN reset at the kiosk"): J-LIS's key, whose
/// public half every card holds. It signs one authorisation per card challenge and nothing else;
/// it never leaves this process and is never logged (`Debug` shows the public half only).
pub struct CardManagementKey {
    signing: SigningKey,
}

impl std::fmt::Debug for CardManagementKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardManagementKey {{ public: {} }}", hex::encode(self.public()))
    }
}

impl CardManagementKey {
    pub fn from_signing_key(signing: SigningKey) -> CardManagementKey {
        CardManagementKey { signing }
    }

    /// Reads a PKCS#8 PEM Ed25519 private key. `Ok(None)` when the file does not exist (resets
    /// off); an unreadable or malformed file is an error (the message never quotes the file).
    pub fn load(path: &Path) -> Result<Option<CardManagementKey>, SigningError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let text = match std::fs::read_to_string(path) {
            Ok(t) => zeroize::Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SigningError::Io { path: path.display().to_string(), source }),
        };
        let signing = SigningKey::from_pkcs8_pem(&text)
            .map_err(|_| SigningError::Format(format!("{}: not a PKCS#8 PEM Ed25519 private key", path.display())))?;
        Ok(Some(CardManagementKey { signing }))
    }

    /// The public half, as the cards hold it.
    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The authorisation for one RESET RETRY COUNTER: the signature over the protocol's message
    /// for this target, card challenge and card (its user-authentication certificate).
    pub fn authorise(
        &self,
        credential: madoguchi_api::ResetCredential,
        card_challenge: &[u8; madoguchi_api::pin_reset::CHALLENGE_LEN],
        auth_certificate_der: &[u8],
    ) -> [u8; madoguchi_api::pin_reset::AUTHORISATION_LEN] {
        let m = madoguchi_api::pin_reset::authorisation_message(credential, card_challenge, auth_certificate_der);
        self.signing.sign(&m).to_bytes()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A code as keys before `verify-code.key` derived it from the signing seed.
    pub(crate) fn legacy_code(seed: &[u8; 32], number: &str) -> String {
        code_with(&legacy_code_secret(seed), number)
    }

    #[test]
    fn sign_verify_and_tamper() {
        let k = BackendKey::generate();
        let blob = k.sign("{\"a\":1}");
        assert_eq!(k.public().verify(&blob).unwrap(), "{\"a\":1}");
        let mut t = blob.clone();
        t.payload = "{\"a\":2}".into();
        assert!(matches!(k.public().verify(&t), Err(SigningError::BadSignature)));
        let other = BackendKey::generate();
        assert!(matches!(other.public().verify(&blob), Err(SigningError::WrongKey { .. })));
        let mut s = blob.clone();
        let mut raw = B64.decode(&s.signature).unwrap();
        raw[0] ^= 1;
        s.signature = B64.encode(raw);
        assert!(k.public().verify(&s).is_err());
    }

    /// Knowing the signing seed is not knowing the codes (the old derivation); a key upgraded
    /// from it still accepts the old codes of documents numbered up to its legacy day only.
    #[test]
    fn codes_come_from_their_own_key_not_the_signing_seed() {
        let dir = tempfile::tempdir().unwrap();
        let (seed, code) = ([7u8; 32], [9u8; 32]);
        let k = BackendKey::from_parts(seed, code);
        let n = "20250601-ABCDEFGHJK";
        let from_seed = code_with(&legacy_code_secret(&seed), n);
        assert_ne!(k.verification_code(n), from_seed);
        assert!(!k.check_verification_code(n, &from_seed));
        assert_ne!(BackendKey::from_parts(seed, [10; 32]).verification_code(n), k.verification_code(n));
        // An upgraded key directory: legacy day 2025-06-01.
        let (sp, cp, lp) = (dir.path().join("s"), dir.path().join("c"), dir.path().join("l"));
        std::fs::write(&sp, hex::encode(seed)).unwrap();
        std::fs::write(&cp, hex::encode(code)).unwrap();
        std::fs::write(&lp, "20250601\n").unwrap();
        let up = BackendKey::load(&sp, &cp, &lp).unwrap();
        assert!(up.check_verification_code(n, &from_seed), "an old document keeps verifying");
        assert!(up.check_verification_code(n, &up.verification_code(n)));
        let later = "20250602-ABCDEFGHJK";
        assert!(
            !up.check_verification_code(later, &code_with(&legacy_code_secret(&seed), later)),
            "new documents: new codes only"
        );
        let shown = format!("{up:?}");
        assert!(!shown.contains(&hex::encode(seed)) && !shown.contains(&hex::encode(code)), "{shown}");
        std::fs::write(&lp, "June").unwrap();
        assert!(BackendKey::load(&sp, &cp, &lp).is_err());
    }

    #[test]
    fn verification_codes() {
        let k = BackendKey::generate();
        let c = k.verification_code("20250601-ABCDEFGHJK");
        assert_eq!(c.len(), 12);
        assert!(k.check_verification_code("20250601-ABCDEFGHJK", &c));
        assert!(k.check_verification_code("20250601-ABCDEFGHJK", &c.to_lowercase()));
        assert!(!k.check_verification_code("20250601-ABCDEFGHJM", &c));
        assert!(!k.check_verification_code("20250601-ABCDEFGHJK", "222222222222"));
        assert!(!k.check_verification_code("20250601-ABCDEFGHJK", ""));
        assert_ne!(BackendKey::generate().verification_code("x"), k.verification_code("x"));
    }

    /// What the backend signs is what a kiosk accepts (`madoguchi_api::verify`, whose own tests
    /// cover documents bound elsewhere): catalogs never older than the one held.
    #[test]
    fn catalogs_are_refused_when_tampered_or_older() {
        use madoguchi_api::v1::Catalog;
        use madoguchi_api::{verify_catalog, VerifyError};
        let k = BackendKey::generate();
        let c = Catalog { format: 1, version: 7, issued_at: "t".into(), municipalities: vec![] };
        let blob = k.sign(&serde_json::to_string(&c).unwrap());
        assert_eq!(verify_catalog(&k.public(), &blob, Some(7)).unwrap().version, 7);
        assert!(matches!(
            verify_catalog(&k.public(), &blob, Some(8)),
            Err(VerifyError::OlderCatalog { got: 7, have: 8 })
        ));
        let mut t = blob.clone();
        t.payload = t.payload.replace("\"version\":7", "\"version\":9");
        assert!(matches!(verify_catalog(&k.public(), &t, Some(0)), Err(VerifyError::Signature(_))));
        assert!(matches!(
            verify_catalog(&BackendKey::generate().public(), &blob, Some(0)),
            Err(VerifyError::Signature(_))
        ));
    }

    #[test]
    fn card_management_key_round_trips_through_pem_and_authorises() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        use madoguchi_api::ResetCredential;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cm.pem");
        assert!(CardManagementKey::load(&path).unwrap().is_none(), "absent: resets off");
        let key = SigningKey::from_bytes(&[3; 32]);
        let pem = key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).unwrap();
        std::fs::write(&path, pem.as_bytes()).unwrap();
        let loaded = CardManagementKey::load(&path).unwrap().unwrap();
        assert_eq!(loaded.public(), key.verifying_key().to_bytes());
        assert!(!format!("{loaded:?}").contains(&hex::encode([3u8; 32])), "Debug shows no secret");
        let auth = loaded.authorise(ResetCredential::AuthPin, &[1; 8], b"cert");
        assert!(madoguchi_api::pin_reset::authorisation_valid(
            &loaded.public(),
            ResetCredential::AuthPin,
            &[1; 8],
            b"cert",
            &auth
        ));
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        assert!(CardManagementKey::load(&path).is_err());
    }
}
