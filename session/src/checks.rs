//! The checks the session makes on bytes it is handed: the backend's challenge (ours, for this
//! kiosk) before the card signs it, the resident's certificate (chain to the
//! pinned JPKI anchors) and the backend's signed document (Ed25519 over the exact payload, its
//! binding, and whether it can be printed at all, with the contract's own checks). Both are pure computations, behind traits so the session's own tests can
//! use fixed answers while these implementations are tested on their own.

pub use super::catalog::{CatalogCheck, CatalogRejection};
use super::io::{DocumentBinding, Offers, OffersDelivery, SignedDocument};
pub use madoguchi_api::challenge::{ChallengeError, Purpose};
use madoguchi_api::{verify_binding, DocumentPayload, PublicKey, SignedBlob, VerifyErrorKind};
use madoguchi_certs::{CertErrorKind, CertProfile, JpkiCertificate, TrustAnchors};
use time::OffsetDateTime;

/// What the session needs to know about an accepted certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateFacts {
    /// SHA-256 of the DER (what the backend binds documents to).
    pub fingerprint: [u8; 32],
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// Why a certificate is refused outright (expiry is judged by the session from the facts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateRejection {
    /// Not decodable, or not a JPKI user-authentication certificate.
    Malformed,
    /// Not issued by a pinned anchor (or test material on a production kiosk).
    Untrusted,
}

pub trait CertificateCheck: Send {
    /// Checks `der` as a user-authentication certificate at `at`.
    fn check(&self, der: &[u8], at: OffsetDateTime) -> Result<CertificateFacts, CertificateRejection>;
}

/// The real check: parse, require the user-authentication profile, chain to the pinned anchors.
pub struct AnchorCheck {
    anchors: TrustAnchors,
}

impl AnchorCheck {
    pub fn new(anchors: TrustAnchors) -> AnchorCheck {
        AnchorCheck { anchors }
    }
}

impl CertificateCheck for AnchorCheck {
    fn check(&self, der: &[u8], at: OffsetDateTime) -> Result<CertificateFacts, CertificateRejection> {
        let cert = JpkiCertificate::from_der(der).map_err(|_| CertificateRejection::Malformed)?;
        if cert.profile() != CertProfile::UserAuthentication {
            return Err(CertificateRejection::Malformed);
        }
        // The chain is judged inside the certificate's own validity so that an expired
        // certificate is reported as expired (with its date), not as untrusted.
        let within = at.clamp(cert.not_before(), cert.not_after());
        match self.anchors.verify_chain(&cert, within) {
            Ok(_) => {}
            Err(e) if e.kind() == CertErrorKind::Malformed || e.kind() == CertErrorKind::NotJpki => {
                return Err(CertificateRejection::Malformed)
            }
            Err(_) => return Err(CertificateRejection::Untrusted),
        }
        Ok(CertificateFacts {
            fingerprint: cert.fingerprint_sha256(),
            not_before: cert.not_before(),
            not_after: cert.not_after(),
        })
    }
}

/// Why a document is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentRejection {
    /// Signature missing, of another algorithm, by another key, or not verifying.
    BadSignature,
    /// Signed, but not a document payload that can be printed as issued (its binding, form or
    /// contents): refused here, before payment is kept, rather than by the printer after it.
    Malformed,
}

/// What the backend signed: each document, and the catalog the offers must agree with.
pub trait DocumentCheck: Send {
    /// Verifies the backend's signature and the payload, and returns the binding it declares.
    fn check(&self, document: &SignedDocument) -> Result<DocumentBinding, DocumentRejection>;
    /// The catalog version held ([`CatalogCheck::held_version`]).
    fn held_catalog(&self) -> Option<i64>;
    /// Takes delivered offers and catalog ([`CatalogCheck::offers`]).
    fn offers(&mut self, delivered: OffersDelivery) -> Result<Offers, CatalogRejection>;
    /// Takes a signed catalog fetched on its own ([`CatalogCheck::take`]).
    fn take_catalog(&mut self, catalog: &SignedBlob) -> Result<i64, CatalogRejection>;
}

/// Ed25519 with the backend's pinned public key, then the contract's payload checks
/// ([`madoguchi_api::verify_binding`], [`DocumentPayload::parse`]): one copy of both.
pub struct Ed25519DocumentCheck {
    key: PublicKey,
    catalog: CatalogCheck,
}

impl Ed25519DocumentCheck {
    pub fn new(key: ed25519_dalek::VerifyingKey) -> Ed25519DocumentCheck {
        Ed25519DocumentCheck::with(PublicKey(key))
    }

    /// From 64 hex digits (the configuration's form).
    pub fn from_hex(hex_key: &str) -> Option<Ed25519DocumentCheck> {
        PublicKey::from_hex(hex_key).ok().map(Ed25519DocumentCheck::with)
    }

    /// The catalog is signed with the same key as the documents.
    fn with(key: PublicKey) -> Ed25519DocumentCheck {
        Ed25519DocumentCheck { key, catalog: CatalogCheck::new(key) }
    }

    /// Same key id as the backend's: first 8 bytes of SHA-256 of the raw key, hex.
    pub fn key_id(&self) -> String {
        self.key.key_id()
    }

    /// The backend's key (the catalog is signed with it too).
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
}

impl DocumentCheck for Ed25519DocumentCheck {
    fn check(&self, document: &SignedDocument) -> Result<DocumentBinding, DocumentRejection> {
        let b = verify_binding(&self.key, document).map_err(|e| match e.kind() {
            VerifyErrorKind::Signature => DocumentRejection::BadSignature,
            _ => DocumentRejection::Malformed,
        })?;
        // Verified: now whether it can be printed at all (the printer checks again, defensively).
        if let Err(e) = DocumentPayload::parse(&document.payload) {
            log::error!("document {} refused before printing ({:?}): {e}", b.issuance_number, e.kind());
            return Err(DocumentRejection::Malformed);
        }
        Ok(DocumentBinding {
            session_id: b.session_id,
            certificate_fingerprint: b.certificate_fingerprint,
            kiosk_id: b.kiosk_id,
            issuance_number: b.issuance_number,
            document: b.document.id().to_string(),
            copies: b.copies,
        })
    }

    fn held_catalog(&self) -> Option<i64> {
        self.catalog.held_version()
    }

    fn offers(&mut self, delivered: OffersDelivery) -> Result<Offers, CatalogRejection> {
        self.catalog.offers(delivered)
    }

    fn take_catalog(&mut self, catalog: &SignedBlob) -> Result<i64, CatalogRejection> {
        self.catalog.take(catalog)
    }
}

/// Whether the backend's `challenge` may go to the card: madoguchi's domain tag, made for
/// `purpose`, for this kiosk ([`madoguchi_api::challenge`]). The card would sign anything; this
/// is the one place where the kiosk decides what its residents' keys sign, so a challenge that
/// could be another service's nonce (or was made for another kiosk) never reaches the card.
pub fn challenge_for_this_kiosk(challenge: &[u8], purpose: Purpose, kiosk_id: &str) -> Result<(), ChallengeError> {
    madoguchi_api::challenge::check(challenge, purpose, kiosk_id)
}

/// The audit's word for a refused challenge.
pub fn challenge_refusal(e: ChallengeError) -> &'static str {
    match e {
        ChallengeError::NotOurs => "not a madoguchi challenge",
        ChallengeError::Malformed => "not in madoguchi's form",
        ChallengeError::OtherPurpose => "made for another purpose",
        ChallengeError::OtherKiosk => "made for another kiosk",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{payload, sign};

    #[test]
    fn only_our_challenges_for_this_kiosk_go_to_the_card() {
        let ours = madoguchi_api::challenge::encode(Purpose::Authenticate, "K1", &[3; 32]).unwrap();
        assert_eq!(challenge_for_this_kiosk(&ours, Purpose::Authenticate, "K1"), Ok(()));
        assert_eq!(challenge_for_this_kiosk(&ours, Purpose::Authenticate, "K2"), Err(ChallengeError::OtherKiosk));
        assert_eq!(challenge_for_this_kiosk(&ours, Purpose::PinReset, "K1"), Err(ChallengeError::OtherPurpose));
        assert_eq!(challenge_for_this_kiosk(&[3; 32], Purpose::Authenticate, "K1"), Err(ChallengeError::NotOurs));
        assert_eq!(challenge_refusal(ChallengeError::OtherKiosk), "made for another kiosk");
    }
    use ed25519_dalek::SigningKey;

    #[test]
    fn anchor_check_chains_to_the_pinned_anchors_only() {
        use madoguchi_certs::testpki::{generate_keys, TestPki};
        use time::macros::{date, datetime};
        let pki = TestPki::generate(7, date!(2025 - 06 - 02)).unwrap();
        let key = generate_keys(7, &["ee-auth"]).unwrap().remove(0);
        let (nb, na) = (datetime!(2024-01-10 0:00 +9), datetime!(2029-02-17 23:59:59 +9));
        let cert = pki.issue_auth_cert(&key.to_public_key(), 42, nb, na, "R0001").unwrap();
        let check = AnchorCheck::new(pki.trust_anchors().unwrap());
        let facts = check.check(cert.der(), datetime!(2025-06-02 10:00 +9)).unwrap();
        assert_eq!(facts.fingerprint, cert.fingerprint_sha256());
        assert_eq!((facts.not_before, facts.not_after), (nb, na));
        // Past its expiry it is still recognised, so the session can say "expired on ...".
        assert_eq!(check.check(cert.der(), datetime!(2031-01-01 0:00 +9)).unwrap().not_after, na);
        // A production kiosk refuses the test PKI.
        let mut production = madoguchi_certs::TrustAnchors::new(false);
        for ca in pki.cas() {
            let _ = production.add_der(ca.der());
        }
        let strict = AnchorCheck::new(production);
        assert_eq!(strict.check(cert.der(), datetime!(2025-06-02 10:00 +9)), Err(CertificateRejection::Untrusted));
        // A CA certificate is not a resident's certificate; junk is junk.
        let ca = pki.cas()[1].der().to_vec();
        assert_eq!(check.check(&ca, datetime!(2025-06-02 10:00 +9)), Err(CertificateRejection::Malformed));
        assert_eq!(check.check(b"junk", datetime!(2025-06-02 10:00 +9)), Err(CertificateRejection::Malformed));
    }

    #[test]
    fn ed25519_documents_verify_and_tampering_is_refused() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let check = Ed25519DocumentCheck::new(key.verifying_key());
        let doc = sign(&key, &payload("S1", &"ab".repeat(32), "N1", "juminhyo", 1));
        let b = check.check(&doc).unwrap();
        assert_eq!((b.session_id.as_str(), b.issuance_number.as_str(), b.copies), ("S1", "N1", 1));

        let mut tampered = doc.clone();
        tampered.payload = tampered.payload.replace("S1", "S2");
        assert_eq!(check.check(&tampered), Err(DocumentRejection::BadSignature));

        let other = SigningKey::from_bytes(&[8u8; 32]);
        let mut foreign = sign(&other, &payload("S1", &"ab".repeat(32), "N1", "juminhyo", 1));
        assert_eq!(check.check(&foreign), Err(DocumentRejection::BadSignature));
        foreign.key_id = doc.key_id.clone();
        assert_eq!(check.check(&foreign), Err(DocumentRejection::BadSignature));

        let not_a_document = sign(&key, r#"{"hello":1}"#);
        assert_eq!(check.check(&not_a_document), Err(DocumentRejection::Malformed));
        assert!(Ed25519DocumentCheck::from_hex(&hex::encode(key.verifying_key().as_bytes())).is_some());
        assert!(Ed25519DocumentCheck::from_hex("00").is_none());
    }

    #[test]
    fn a_signed_payload_that_cannot_be_printed_is_refused_here() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let check = Ed25519DocumentCheck::new(key.verifying_key());
        let good = payload("S1", &"ab".repeat(32), "N1", "juminhyo", 1);
        for bad in [
            good.replace("\"1978-05-14\"", "\"1978-13-40\""),
            good.replace("\"format\":1", "\"format\":9"),
            good.replace("\"whole_household\":false", "\"whole_household\":false,\"extra\":1"),
            payload("S1", &"ab".repeat(32), "N1", "kazei", 1),
        ] {
            assert_eq!(check.check(&sign(&key, &bad)), Err(DocumentRejection::Malformed), "{bad}");
        }
    }
}
