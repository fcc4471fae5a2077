//! Issuing the residents' certificates from the test PKI, and planning the CRLs.

use super::dice::Dice;
use super::WorldError;
use ed25519_dalek::SigningKey;
use madoguchi_api::registry::{CertKind, CertRecord, CertStatus, Municipality};
use madoguchi_certs::testpki::{CaKind, Generation, SignSubject, TestPki, TestRevocation};
use madoguchi_certs::validity::{self, end_of_day_jst, start_of_day_jst};
use madoguchi_certs::{Basic4Info, JpkiCertificate, RevocationReason};
use rand_core::RngCore;
use rsa::pkcs8::EncodePrivateKey;
use rsa::RsaPrivateKey;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use time::{Date, Duration, OffsetDateTime};
use zeroize::Zeroizing;

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

pub(super) fn pkcs8(key: &RsaPrivateKey) -> Result<Vec<u8>, WorldError> {
    Ok(key.to_pkcs8_der().map_err(|e| WorldError::Key(e.to_string()))?.as_bytes().to_vec())
}

/// The card-management key of PIN reset (jpki.md "PIN reset at the kiosk"), Ed25519, from the
/// seed like every other key: the same world always has the same key, and every card carries
/// its public half.
pub(super) fn card_management_key(seed: u64) -> SigningKey {
    let mut secret = Zeroizing::new([0u8; 32]);
    Dice::new(seed, "pki/card-management").0.fill_bytes(&mut secret[..]);
    SigningKey::from_bytes(&secret)
}

/// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the backend's input. Written
/// as version 1 without the public key (RFC 8410 §7, what `openssl genpkey` writes): OpenSSL 3.0
/// refuses the version-2 form `SigningKey::to_pkcs8_pem` writes, and every reader derives the
/// public key anyway.
pub(super) fn card_management_pem(key: &SigningKey) -> Result<Zeroizing<String>, WorldError> {
    use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey as _, KeypairBytes};
    let pkcs8 = KeypairBytes { secret_key: key.to_bytes(), public_key: None };
    pkcs8.to_pkcs8_pem(LineEnding::LF).map_err(|e| WorldError::Key(e.to_string()))
}

/// Issued certificates per (hierarchy, generation) that must appear on that generation's CRL.
pub(super) type CrlPlan = BTreeMap<(u8, u8), Vec<TestRevocation>>;

pub(super) fn ca_slot(kind: CaKind, generation: Generation) -> (u8, u8) {
    (if kind == CaKind::Auth { 0 } else { 1 }, generation.number())
}

/// Everything the world needs to issue one resident's certificates.
pub(super) struct Issuer<'a> {
    pub(super) pki: &'a TestPki,
    pub(super) keys: &'a HashMap<String, RsaPrivateKey>,
    pub(super) today: Date,
    pub(super) serials: BTreeSet<u64>,
    pub(super) crl: CrlPlan,
}

/// One issued certificate with what the registry wants to know about it.
pub(super) struct Issued {
    pub(super) cert: JpkiCertificate,
    pub(super) generation: Generation,
    pub(super) key: RsaPrivateKey,
}

impl Issuer<'_> {
    pub(super) fn key(&self, label: &str) -> Result<RsaPrivateKey, WorldError> {
        self.keys.get(label).cloned().ok_or_else(|| WorldError::Invariant(format!("no key generated for {label}")))
    }

    pub(super) fn serial(&mut self, dice: &mut Dice) -> u64 {
        loop {
            let s = madoguchi_certs::testpki::random_serial(&mut dice.0);
            if self.serials.insert(s) {
                return s;
            }
        }
    }

    /// Issuance instant: office hours of that day, JST.
    pub(super) fn when(dice: &mut Dice, day: Date) -> OffsetDateTime {
        start_of_day_jst(day) + Duration::minutes(i64::from(9 * 60 + dice.below(8 * 60)))
    }

    pub(super) fn auth(
        &mut self,
        dice: &mut Dice,
        label: &str,
        issued: Date,
        expiry: Date,
        muni: &str,
    ) -> Result<Issued, WorldError> {
        let key = self.key(label)?;
        let serial = self.serial(dice);
        let nb = Self::when(dice, issued);
        // Opaque subject ID shaped like a test card's (`997794E9AGCIEG13221003A`).
        let mut cn: String = (0..8).map(|_| dice.hex()).collect();
        cn.extend((0..6).map(|_| dice.upper()));
        cn.push_str(muni.get(..5).unwrap_or(muni));
        cn.extend((0..3).map(|_| dice.digit()));
        cn.push(dice.upper());
        let cert = self.pki.issue_auth_cert(&key.to_public_key(), serial, nb, end_of_day_jst(expiry), &cn)?;
        let generation = self.pki.ca_for(CaKind::Auth, nb).generation();
        Ok(Issued { cert, generation, key })
    }

    pub(super) fn sign(
        &mut self,
        dice: &mut Dice,
        label: &str,
        issued: Date,
        expiry: Date,
        basic4: &Basic4Info,
        muni: &Municipality,
    ) -> Result<Issued, WorldError> {
        let key = self.key(label)?;
        let serial = self.serial(dice);
        let nb = Self::when(dice, issued);
        let local = nb.to_offset(validity::JST);
        let cn = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}{:04}{}",
            local.year(),
            u8::from(local.month()),
            local.day(),
            local.hour(),
            local.minute(),
            local.second(),
            dice.below(10_000),
            muni.code
        );
        let subject =
            SignSubject { prefecture_romaji: &muni.prefecture_romaji, city_romaji: &muni.city_romaji, cn: &cn };
        let cert =
            self.pki.issue_sign_cert(&key.to_public_key(), serial, nb, end_of_day_jst(expiry), basic4, &subject)?;
        let generation = self.pki.ca_for(CaKind::Sign, nb).generation();
        Ok(Issued { cert, generation, key })
    }

    pub(super) fn list(
        &mut self,
        kind: CaKind,
        issued: &Issued,
        since: OffsetDateTime,
        reason: RevocationReason,
    ) -> Result<(), WorldError> {
        let serial = issued
            .cert
            .serial_bytes()
            .iter()
            .try_fold(0u64, |acc, &b| acc.checked_mul(256).map(|a| a + u64::from(b)))
            .ok_or_else(|| WorldError::Invariant("serial longer than 8 bytes".into()))?;
        self.crl.entry(ca_slot(kind, issued.generation)).or_default().push(TestRevocation { serial, since, reason });
        Ok(())
    }

    pub(super) fn record(&self, kind: CaKind, issued: &Issued, status: CertStatus, since: Option<Date>) -> CertRecord {
        let c = &issued.cert;
        CertRecord {
            kind: match kind {
                CaKind::Auth => CertKind::Auth,
                CaKind::Sign => CertKind::Sign,
            },
            serial: c.serial_hex(),
            sha256: hex(&c.fingerprint_sha256()),
            issuer_generation: issued.generation.number(),
            not_before: validity::jst_date(c.not_before()),
            expiry: validity::jst_date(c.not_after()),
            status: if status == CertStatus::Valid && c.not_after() < start_of_day_jst(self.today) {
                CertStatus::Expired
            } else {
                status
            },
            status_since: since,
        }
    }
}
