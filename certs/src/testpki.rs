//! **TEST MATERIAL — never trust in production.** A JPKI-shaped test hierarchy for the
//! simulators and tests: auth CA and sign CA in two generations each (older and current, same
//! DN, different keys, like J-LIS 2019/2023), end-entity certificates with the real profiles of
//! jpki.md §6 (but the test policy OIDs), and CRLs.
//!
//! Everything is deterministic: keys come from ChaCha20 streams derived from a seed and a label,
//! and RSA PKCS#1 v1.5 signatures are deterministic, so the same inputs give the same bytes.
//!
//! Test certificates are marked twice, so the kiosk can refuse them unless configured for the
//! test environment: a DirName in the alt names whose O contains [`TEST_MARKER`], and (end
//! entities) the test-environment policy OID.

use crate::anchors::TrustAnchors;
use crate::basic4::Basic4Info;
use crate::cert::JpkiCertificate;
use crate::crl::{Crl, RevocationReason};
use crate::error::CertError;
use crate::oids;
use crate::util::to_der_time;
use crate::validity::{add_years, end_of_day_jst, start_of_day_jst};
use der::asn1::{BitString, Ia5StringRef, ObjectIdentifier, OctetString, PrintableStringRef, SetOfVec, Uint};
use der::{Any, Decode, Encode, Tag};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRngCore, RngCore, SeedableRng};
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::pkcs8::EncodePublicKey;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use time::{Date, Duration, OffsetDateTime};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::certpolicy::{PolicyInformation, PolicyQualifierInfo};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, CrlDistributionPoints, CrlNumber, CrlReason,
    IssuerAltName, KeyUsage, KeyUsages, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;
use x509_cert::Certificate;

/// What marks test material: an alt-name DirName O containing this.
pub const TEST_MARKER: &str = "JPKI TEST";
/// The O of the test CAs' subjectAltName DirName: the marker that makes an anchor test material.
pub const TEST_ALT_NAME_O: &str = "公的個人認証サービス（JPKI TEST）";
/// The O of every end entity's issuerAltName DirName, as J-LIS writes it (jpki.md §6).
pub const JPKI_ALT_NAME_O: &str = "公的個人認証サービス";
/// CPS pointer of the signature policy.
pub const CPS_URI: &str = "http://www.jpki.go.jp/cps.html";

/// Which hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaKind {
    Auth,
    Sign,
}

impl CaKind {
    fn ou(self) -> &'static str {
        match self {
            CaKind::Auth => oids::OU_AUTH,
            CaKind::Sign => oids::OU_SIGN,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CaKind::Auth => "auth",
            CaKind::Sign => "sign",
        }
    }
}

/// Which CA generation (same DN, different key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Generation {
    /// Valid from 6 years before `today` for 10 years; issued everything until the current one.
    Previous,
    /// Valid from 1 year before `today` for 10 years.
    Current,
}

impl Generation {
    pub fn number(self) -> u8 {
        match self {
            Generation::Previous => 1,
            Generation::Current => 2,
        }
    }
}

/// A ChaCha20 stream for one key or one purpose: SHA-256 of a domain tag, the seed and the
/// label. Separate streams keep each key stable when others are added and allow parallel keygen.
pub fn derive_rng(seed: u64, label: &str) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(b"madoguchi testpki v1\0");
    h.update(seed.to_be_bytes());
    h.update(label.as_bytes());
    ChaCha20Rng::from_seed(h.finalize().into())
}

/// An RSA-2048 key with e = 65537, as on the card.
pub fn generate_rsa_2048(rng: &mut impl CryptoRngCore) -> Result<RsaPrivateKey, CertError> {
    Ok(RsaPrivateKey::new(rng, 2048)?)
}

/// Generates one key per label (from [`derive_rng`]) on all cores; results in label order.
pub fn generate_keys(seed: u64, labels: &[&str]) -> Result<Vec<RsaPrivateKey>, CertError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, labels.len().max(1));
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Result<RsaPrivateKey, CertError>)>> = Mutex::new(Vec::with_capacity(labels.len()));
    // Work-stealing by index: key generation times vary tenfold, fixed chunks would idle a core.
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(label) = labels.get(i) else { break };
                let key = generate_rsa_2048(&mut derive_rng(seed, label));
                if let Ok(mut d) = done.lock() {
                    d.push((i, key));
                }
            });
        }
    });
    let mut done = done.into_inner().map_err(|_| CertError::UnsupportedKey("key generation thread panicked"))?;
    if done.len() != labels.len() {
        return Err(CertError::UnsupportedKey("key generation did not finish"));
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, k)| k).collect()
}

/// A positive serial from a stream: 4 bytes, first byte 0x01–0x7F (J-LIS serials look like
/// `06D18006`).
pub fn random_serial(rng: &mut impl RngCore) -> u64 {
    let mut b = [0u8; 4];
    rng.fill_bytes(&mut b);
    b[0] = (b[0] & 0x7F).max(1);
    u64::from(u32::from_be_bytes(b))
}

/// Subject parts of a signature certificate.
#[derive(Debug, Clone, Copy)]
pub struct SignSubject<'a> {
    /// `L=`, e.g. `Tokyo-to`.
    pub prefecture_romaji: &'a str,
    /// `L=`, e.g. `Kiyose-shi`.
    pub city_romaji: &'a str,
    /// `CN=`: issuance-request date-time `YYYYMMDDhhmmss`, a sequence and the office code.
    pub cn: &'a str,
}

/// One CRL entry to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestRevocation {
    pub serial: u64,
    pub since: OffsetDateTime,
    pub reason: RevocationReason,
}

/// One test CA generation with its private key.
#[derive(Debug, Clone)]
pub struct TestCa {
    kind: CaKind,
    generation: Generation,
    key: RsaPrivateKey,
    cert: JpkiCertificate,
    ski: Vec<u8>,
}

fn printable_or_utf8(text: &str) -> Result<Any, CertError> {
    Ok(match PrintableStringRef::new(text) {
        Ok(p) => Any::from(p),
        Err(_) => Any::new(Tag::Utf8String, text.as_bytes())?,
    })
}

/// A DN from (type, value) pairs in encoding order (C first), one attribute per RDN.
fn dn(parts: &[(ObjectIdentifier, &str)]) -> Result<Name, CertError> {
    let rdns = parts
        .iter()
        .map(|(oid, value)| {
            let atv = AttributeTypeAndValue { oid: *oid, value: printable_or_utf8(value)? };
            Ok(RelativeDistinguishedName(SetOfVec::try_from(vec![atv])?))
        })
        .collect::<Result<Vec<_>, CertError>>()?;
    Ok(Name::from(rdns))
}

/// The DN shared by every generation of a JPKI CA.
pub fn ca_name(kind: CaKind) -> Result<Name, CertError> {
    dn(&[
        (oids::AT_COUNTRY, "JP"),
        (oids::AT_ORGANIZATION, "JPKI"),
        (oids::AT_ORG_UNIT, kind.ou()),
        (oids::AT_ORG_UNIT, oids::OU_JLIS),
    ])
}

fn alt_dir_name(o: &str) -> Result<Vec<GeneralName>, CertError> {
    Ok(vec![GeneralName::DirectoryName(dn(&[(oids::AT_COUNTRY, "JP"), (oids::AT_ORGANIZATION, o)])?)])
}

fn ext(oid: ObjectIdentifier, critical: bool, value: &impl Encode) -> Result<Extension, CertError> {
    Ok(Extension { extn_id: oid, critical, extn_value: OctetString::new(value.to_der()?)? })
}

fn sig_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: oids::SHA256_WITH_RSA, parameters: Some(Any::null()) }
}

fn spki_of(key: &RsaPublicKey) -> Result<SubjectPublicKeyInfoOwned, CertError> {
    let der = key.to_public_key_der().map_err(|_| CertError::UnsupportedKey("cannot encode public key"))?;
    Ok(SubjectPublicKeyInfoOwned::from_der(der.as_bytes())?)
}

/// RFC 7093 method 1: the leftmost 160 bits of SHA-256 of the subjectPublicKey bits.
fn key_id(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    let digest = Sha256::digest(spki.subject_public_key.raw_bytes());
    digest.get(..20).unwrap_or_default().to_vec()
}

fn sign_sha256(key: &RsaPrivateKey, tbs: &[u8]) -> Result<BitString, CertError> {
    let sig = key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(tbs))?;
    Ok(BitString::from_bytes(&sig)?)
}

fn build_cert(
    issuer_key: &RsaPrivateKey,
    issuer: Name,
    subject: Name,
    serial: u64,
    validity: (OffsetDateTime, OffsetDateTime),
    spki: SubjectPublicKeyInfoOwned,
    extensions: Vec<Extension>,
) -> Result<JpkiCertificate, CertError> {
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::from(serial),
        signature: sig_alg(),
        issuer,
        validity: Validity { not_before: to_der_time(validity.0)?, not_after: to_der_time(validity.1)? },
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let signature = sign_sha256(issuer_key, &tbs.to_der()?)?;
    let cert = Certificate { tbs_certificate: tbs, signature_algorithm: sig_alg(), signature };
    JpkiCertificate::from_der(&cert.to_der()?)
}

impl TestCa {
    fn new(
        kind: CaKind,
        generation: Generation,
        key: RsaPrivateKey,
        serial: u64,
        validity: (OffsetDateTime, OffsetDateTime),
    ) -> Result<Self, CertError> {
        let spki = spki_of(&key.to_public_key())?;
        let ski = key_id(&spki);
        let extensions = vec![
            ext(oids::EXT_KEY_USAGE, true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
            ext(oids::EXT_BASIC_CONSTRAINTS, true, &BasicConstraints { ca: true, path_len_constraint: None })?,
            ext(oids::EXT_SKI, false, &SubjectKeyIdentifier(OctetString::new(ski.clone())?))?,
            ext(oids::EXT_SAN, false, &SubjectAltName(alt_dir_name(TEST_ALT_NAME_O)?))?,
        ];
        let name = ca_name(kind)?;
        let cert = build_cert(&key, name.clone(), name, serial, validity, spki, extensions)?;
        Ok(TestCa { kind, generation, key, cert, ski })
    }

    pub fn kind(&self) -> CaKind {
        self.kind
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }

    pub fn cert(&self) -> &JpkiCertificate {
        &self.cert
    }

    pub fn der(&self) -> &[u8] {
        self.cert.der()
    }

    pub fn private_key(&self) -> &RsaPrivateKey {
        &self.key
    }

    /// `auth-ca-1`, `sign-ca-2`, … (a stem for file names).
    pub fn file_stem(&self) -> String {
        format!("{}-ca-{}", self.kind.as_str(), self.generation.number())
    }

    /// Extensions every end entity of this CA carries after its keyUsage and policy.
    fn ee_common_exts(&self) -> Result<Vec<Extension>, CertError> {
        let crl_dp = dn(&[
            (oids::AT_COUNTRY, "JP"),
            (oids::AT_ORGANIZATION, "JPKI"),
            (oids::AT_ORG_UNIT, self.kind.ou()),
            (oids::AT_ORG_UNIT, "CRL Distribution Points"),
        ])?;
        let dp = DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![GeneralName::DirectoryName(crl_dp)])),
            reasons: None,
            crl_issuer: None,
        };
        let aki =
            AuthorityKeyIdentifier { key_identifier: Some(OctetString::new(self.ski.clone())?), ..Default::default() };
        Ok(vec![
            ext(oids::EXT_IAN, false, &IssuerAltName(alt_dir_name(JPKI_ALT_NAME_O)?))?,
            ext(oids::EXT_CRL_DP, false, &CrlDistributionPoints(vec![dp]))?,
            ext(oids::EXT_AKI, false, &aki)?,
        ])
    }

    fn policy(oid: ObjectIdentifier, cps: bool) -> Result<Extension, CertError> {
        let qualifiers = if cps {
            Some(vec![PolicyQualifierInfo {
                policy_qualifier_id: oids::QT_CPS,
                qualifier: Some(Any::from(Ia5StringRef::new(CPS_URI)?)),
            }])
        } else {
            None
        };
        let info = PolicyInformation { policy_identifier: oid, policy_qualifiers: qualifiers };
        ext(oids::EXT_CERT_POLICIES, true, &CertificatePolicies(vec![info]))
    }

    fn require(&self, kind: CaKind) -> Result<(), CertError> {
        if self.kind != kind {
            return Err(CertError::NotJpki("this CA does not issue that profile"));
        }
        Ok(())
    }

    /// A user-authentication certificate: subject `C=JP, CN=<opaque id>`, KU digitalSignature.
    pub fn issue_auth_cert(
        &self,
        key_pub: &RsaPublicKey,
        serial: u64,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        cn: &str,
    ) -> Result<JpkiCertificate, CertError> {
        self.require(CaKind::Auth)?;
        let mut exts = vec![
            ext(oids::EXT_KEY_USAGE, true, &KeyUsage(KeyUsages::DigitalSignature.into()))?,
            Self::policy(oids::POLICY_AUTH_TEST, false)?,
        ];
        exts.extend(self.ee_common_exts()?);
        let subject = dn(&[(oids::AT_COUNTRY, "JP"), (oids::AT_COMMON_NAME, cn)])?;
        build_cert(&self.key, ca_name(self.kind)?, subject, serial, (not_before, not_after), spki_of(key_pub)?, exts)
    }

    /// A signature certificate: subject `C=JP, L=<prefecture>, L=<city>, CN=<issuance no.>`,
    /// KU digitalSignature + nonRepudiation, the basic 4 information in the card order.
    pub fn issue_sign_cert(
        &self,
        key_pub: &RsaPublicKey,
        serial: u64,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        basic4: &Basic4Info,
        subject: &SignSubject<'_>,
    ) -> Result<JpkiCertificate, CertError> {
        self.require(CaKind::Sign)?;
        let mut exts = vec![
            ext(oids::EXT_KEY_USAGE, true, &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation))?,
            Self::policy(oids::POLICY_SIGN_TEST, true)?,
            ext(oids::EXT_SAN, false, &SubjectAltName(basic4.to_general_names()?))?,
        ];
        exts.extend(self.ee_common_exts()?);
        let subject = dn(&[
            (oids::AT_COUNTRY, "JP"),
            (oids::AT_LOCALITY, subject.prefecture_romaji),
            (oids::AT_LOCALITY, subject.city_romaji),
            (oids::AT_COMMON_NAME, subject.cn),
        ])?;
        build_cert(&self.key, ca_name(self.kind)?, subject, serial, (not_before, not_after), spki_of(key_pub)?, exts)
    }

    /// A v2 CRL signed by this generation (holds carry reasonCode certificateHold).
    pub fn issue_crl(
        &self,
        revoked: &[TestRevocation],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Crl, CertError> {
        let entries = revoked
            .iter()
            .map(|r| {
                let exts = match r.reason {
                    RevocationReason::Hold => {
                        Some(vec![ext(oids::EXT_CRL_REASON, false, &CrlReason::CertificateHold)?])
                    }
                    RevocationReason::Revoked => None,
                };
                Ok(RevokedCert {
                    serial_number: SerialNumber::from(r.serial),
                    revocation_date: to_der_time(r.since)?,
                    crl_entry_extensions: exts,
                })
            })
            .collect::<Result<Vec<_>, CertError>>()?;
        let number = u64::try_from(this_update.unix_timestamp()).unwrap_or_default().to_be_bytes();
        let aki =
            AuthorityKeyIdentifier { key_identifier: Some(OctetString::new(self.ski.clone())?), ..Default::default() };
        let tbs = TbsCertList {
            version: Version::V2,
            signature: sig_alg(),
            issuer: ca_name(self.kind)?,
            this_update: to_der_time(this_update)?,
            next_update: Some(to_der_time(next_update)?),
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: Some(vec![
                ext(oids::EXT_AKI, false, &aki)?,
                ext(oids::EXT_CRL_NUMBER, false, &CrlNumber(Uint::new(&number)?))?,
            ]),
        };
        let signature = sign_sha256(&self.key, &tbs.to_der()?)?;
        let list = CertificateList { tbs_cert_list: tbs, signature_algorithm: sig_alg(), signature };
        Crl::from_der(&list.to_der()?)
    }
}

/// The whole test hierarchy: auth and sign CA, two generations each.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// auth-1, auth-2, sign-1, sign-2.
    cas: Vec<TestCa>,
}

impl TestPki {
    /// Generates the four CA keys (from `seed` only, in parallel) and their certificates, with
    /// validity relative to `today` so the hierarchy is always current.
    pub fn generate(seed: u64, today: Date) -> Result<Self, CertError> {
        let keys = generate_keys(seed, &Self::KEY_LABELS)?;
        Self::with_keys(seed, today, keys)
    }

    /// Key labels (for [`derive_rng`]) of auth-1, auth-2, sign-1, sign-2, so a caller can
    /// generate them together with its own keys and pass them to [`TestPki::with_keys`].
    pub const KEY_LABELS: [&'static str; 4] = ["auth-ca-1", "auth-ca-2", "sign-ca-1", "sign-ca-2"];

    /// As [`TestPki::generate`] with the keys of [`TestPki::KEY_LABELS`] already generated.
    pub fn with_keys(seed: u64, today: Date, keys: Vec<RsaPrivateKey>) -> Result<Self, CertError> {
        let plan = [
            (CaKind::Auth, Generation::Previous),
            (CaKind::Auth, Generation::Current),
            (CaKind::Sign, Generation::Previous),
            (CaKind::Sign, Generation::Current),
        ];
        if keys.len() != plan.len() {
            return Err(CertError::UnsupportedKey("TestPki needs exactly four CA keys"));
        }
        let cas = plan
            .into_iter()
            .zip(keys)
            .zip(Self::KEY_LABELS)
            .map(|(((kind, generation), key), label)| {
                let start = match generation {
                    Generation::Previous => add_years(today, -6),
                    Generation::Current => add_years(today, -1),
                };
                let end = add_years(start, 10) - Duration::days(1);
                let serial = random_serial(&mut derive_rng(seed, &format!("{label}/serial")));
                TestCa::new(kind, generation, key, serial, (start_of_day_jst(start), end_of_day_jst(end)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TestPki { cas })
    }

    pub fn cas(&self) -> &[TestCa] {
        &self.cas
    }

    pub fn ca(&self, kind: CaKind, generation: Generation) -> &TestCa {
        let i = match (kind, generation) {
            (CaKind::Auth, Generation::Previous) => 0,
            (CaKind::Auth, Generation::Current) => 1,
            (CaKind::Sign, Generation::Previous) => 2,
            (CaKind::Sign, Generation::Current) => 3,
        };
        &self.cas[i]
    }

    /// The generation that was issuing at `at`: the newest one whose validity had begun.
    pub fn ca_for(&self, kind: CaKind, at: OffsetDateTime) -> &TestCa {
        let current = self.ca(kind, Generation::Current);
        if current.cert.not_before() <= at {
            current
        } else {
            self.ca(kind, Generation::Previous)
        }
    }

    /// All four CA certificates as anchors, test material allowed.
    pub fn trust_anchors(&self) -> Result<TrustAnchors, CertError> {
        let mut anchors = TrustAnchors::new(true);
        for ca in &self.cas {
            anchors.add_der(ca.der())?;
        }
        Ok(anchors)
    }

    /// [`TestCa::issue_auth_cert`] by the generation issuing at `not_before`.
    pub fn issue_auth_cert(
        &self,
        key_pub: &RsaPublicKey,
        serial: u64,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        cn: &str,
    ) -> Result<JpkiCertificate, CertError> {
        self.ca_for(CaKind::Auth, not_before).issue_auth_cert(key_pub, serial, not_before, not_after, cn)
    }

    /// [`TestCa::issue_sign_cert`] by the generation issuing at `not_before`.
    pub fn issue_sign_cert(
        &self,
        key_pub: &RsaPublicKey,
        serial: u64,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        basic4: &Basic4Info,
        subject: &SignSubject<'_>,
    ) -> Result<JpkiCertificate, CertError> {
        self.ca_for(CaKind::Sign, not_before).issue_sign_cert(key_pub, serial, not_before, not_after, basic4, subject)
    }

    /// A CRL of the current generation listing `revoked` (serial, revocation time) as revoked.
    pub fn issue_crl(
        &self,
        kind: CaKind,
        revoked: &[(u64, OffsetDateTime)],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Crl, CertError> {
        let entries: Vec<TestRevocation> = revoked
            .iter()
            .map(|&(serial, since)| TestRevocation { serial, since, reason: RevocationReason::Revoked })
            .collect();
        self.ca(kind, Generation::Current).issue_crl(&entries, this_update, next_update)
    }
}

/// A hierarchy and a few end-entity keys shared by the tests of every module (keygen is the
/// slow part, so it runs once per test binary).
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use std::sync::OnceLock;
    use time::macros::date;

    pub(crate) const TODAY: Date = date!(2026 - 03 - 15);

    pub(crate) struct Fixture {
        pub pki: TestPki,
        pub auth_key: RsaPrivateKey,
        pub sign_key: RsaPrivateKey,
        pub auth: JpkiCertificate,
        pub sign: JpkiCertificate,
        pub basic4: Basic4Info,
    }

    pub(crate) fn get() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let pki = TestPki::generate(7, TODAY).unwrap();
            let mut keys = generate_keys(7, &["ee-auth", "ee-sign"]).unwrap().into_iter();
            let (auth_key, sign_key) = (keys.next().unwrap(), keys.next().unwrap());
            let issued = date!(2025 - 10 - 27);
            let birth = date!(1980 - 02 - 17);
            let not_after = end_of_day_jst(crate::validity::expiry_date(issued, birth, None));
            let auth = pki
                .issue_auth_cert(
                    &auth_key.to_public_key(),
                    0x06D1_8006,
                    start_of_day_jst(issued),
                    not_after,
                    "997794E9AGCIEG13221003A",
                )
                .unwrap();
            let basic4 =
                Basic4Info::new("佐藤　健一", birth, crate::Sex::Male, "東京都清瀬市中里５－８－１２").unwrap();
            let subject = SignSubject {
                prefecture_romaji: "Tokyo-to",
                city_romaji: "Kiyose-shi",
                cn: "2025102710301200011322170",
            };
            let sign = pki
                .issue_sign_cert(
                    &sign_key.to_public_key(),
                    0x0086_0001,
                    start_of_day_jst(issued),
                    not_after,
                    &basic4,
                    &subject,
                )
                .unwrap();
            Fixture { pki, auth_key, sign_key, auth, sign, basic4 }
        })
    }
}

#[cfg(test)]
mod tests;
