//! A parsed JPKI certificate: which profile it is, who issued it, its key and validity.

use crate::basic4::Basic4Info;
use crate::error::CertError;
use crate::oids;
use crate::util::{display_name, from_der_time, hex_upper, name_values, strip_leading_zeros};
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode, Reader, SliceReader};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, IssuerAltName, KeyUsage, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::Certificate;

/// Which of the four JPKI certificate kinds this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertProfile {
    /// 利用者証明用電子証明書 (EF 000A).
    UserAuthentication,
    /// 署名用電子証明書 (EF 0001).
    DigitalSignature,
    /// 利用者証明用認証局 (EF 000B).
    AuthCa,
    /// 署名用認証局 (EF 0002).
    SignCa,
}

impl CertProfile {
    pub fn is_ca(self) -> bool {
        matches!(self, CertProfile::AuthCa | CertProfile::SignCa)
    }

    /// The CA profile that issues certificates of this profile (CAs issue themselves).
    pub fn issuer_profile(self) -> CertProfile {
        match self {
            CertProfile::UserAuthentication | CertProfile::AuthCa => CertProfile::AuthCa,
            CertProfile::DigitalSignature | CertProfile::SignCa => CertProfile::SignCa,
        }
    }
}

/// Key usage bits we act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyUsageBits {
    pub digital_signature: bool,
    pub non_repudiation: bool,
    pub key_cert_sign: bool,
    pub crl_sign: bool,
}

/// A JPKI certificate, parsed and checked against the profile once, then cheap to query.
#[derive(Debug, Clone)]
pub struct JpkiCertificate {
    der: Vec<u8>,
    /// The signed bytes exactly as received (re-encoding could differ for a non-canonical input).
    tbs_der: Vec<u8>,
    cert: Certificate,
    public_key: RsaPublicKey,
    profile: CertProfile,
    test: bool,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    key_usage: Option<KeyUsageBits>,
    ski: Option<Vec<u8>>,
    aki: Option<Vec<u8>>,
}

/// Length of a DER `SEQUENCE` from its header (`30 82 LL LL`, `30 81 LL`, `30 LL`), header
/// included; `None` if the bytes do not start like a certificate. Lets the card driver size its
/// READ BINARYs from the first 4 bytes and ignore EF filler after the certificate.
pub fn der_length_from_header(bytes: &[u8]) -> Option<usize> {
    if *bytes.first()? != 0x30 {
        return None;
    }
    let first = *bytes.get(1)?;
    match first {
        0x00..=0x7F => Some(usize::from(first) + 2),
        0x81 => Some(usize::from(*bytes.get(2)?) + 3),
        0x82 => Some((usize::from(*bytes.get(2)?) << 8 | usize::from(*bytes.get(3)?)) + 4),
        0x83 => Some(
            (usize::from(*bytes.get(2)?) << 16 | usize::from(*bytes.get(3)?) << 8 | usize::from(*bytes.get(4)?)) + 5,
        ),
        _ => None,
    }
}

/// Splits a signed structure (certificate or CRL) into its to-be-signed bytes, algorithm and
/// signature, checking the outer SEQUENCE covers the input exactly.
pub(crate) fn split_signed(der: &[u8]) -> Result<Vec<u8>, CertError> {
    let mut reader = SliceReader::new(der)?;
    let tbs = reader.sequence(|r| {
        let tbs = r.tlv_bytes()?;
        r.tlv_bytes()?;
        r.tlv_bytes()?;
        Ok(tbs)
    })?;
    Ok(reader.finish(tbs)?.to_vec())
}

pub(crate) fn check_sig_alg(outer: &ObjectIdentifier, inner: &ObjectIdentifier) -> Result<(), CertError> {
    if outer != inner {
        return Err(CertError::NotJpki("signature algorithm fields disagree"));
    }
    if *outer != oids::SHA256_WITH_RSA {
        return Err(CertError::UnsupportedAlgorithm { oid: outer.to_string() });
    }
    Ok(())
}

/// The extensions we know, decoded once; an unknown critical one is refused (RFC 5280 §4.2).
#[derive(Default)]
struct Exts {
    key_usage: Option<KeyUsage>,
    basic: Option<BasicConstraints>,
    policies: Option<CertificatePolicies>,
    san: Option<SubjectAltName>,
    ian: Option<IssuerAltName>,
    ski: Option<SubjectKeyIdentifier>,
    aki: Option<AuthorityKeyIdentifier>,
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), CertError> {
    if slot.replace(value).is_some() {
        return Err(CertError::NotJpki("extension appears twice"));
    }
    Ok(())
}

impl Exts {
    fn decode(cert: &Certificate) -> Result<Self, CertError> {
        let mut x = Exts::default();
        for ext in cert.tbs_certificate.extensions.as_deref().unwrap_or(&[]) {
            let v = ext.extn_value.as_bytes();
            match ext.extn_id {
                oids::EXT_KEY_USAGE => set_once(&mut x.key_usage, KeyUsage::from_der(v)?)?,
                oids::EXT_BASIC_CONSTRAINTS => set_once(&mut x.basic, BasicConstraints::from_der(v)?)?,
                oids::EXT_CERT_POLICIES => set_once(&mut x.policies, CertificatePolicies::from_der(v)?)?,
                oids::EXT_SAN => set_once(&mut x.san, SubjectAltName::from_der(v)?)?,
                oids::EXT_IAN => set_once(&mut x.ian, IssuerAltName::from_der(v)?)?,
                oids::EXT_SKI => set_once(&mut x.ski, SubjectKeyIdentifier::from_der(v)?)?,
                oids::EXT_AKI => set_once(&mut x.aki, AuthorityKeyIdentifier::from_der(v)?)?,
                oids::EXT_CRL_DP | oids::EXT_AIA => {}
                other if ext.critical => return Err(CertError::UnknownCriticalExtension { oid: other.to_string() }),
                _ => {}
            }
        }
        Ok(x)
    }
}

/// Whether a set of alt names carries the test marker of [`crate::testpki`]: a DirName whose
/// O contains `JPKI TEST`.
fn alt_names_marked_test(names: &[GeneralName]) -> bool {
    names.iter().any(|gn| match gn {
        GeneralName::DirectoryName(n) => {
            name_values(n, oids::AT_ORGANIZATION).iter().any(|o| o.contains(crate::testpki::TEST_MARKER))
        }
        _ => false,
    })
}

impl JpkiCertificate {
    /// Parses exactly one DER certificate (no trailing bytes: trim EF filler with
    /// [`der_length_from_header`] or use [`JpkiCertificate::from_ef_contents`]) and checks it is a
    /// JPKI certificate: sha256WithRSAEncryption, an RSA key of 2048–4096 bits, and one of the
    /// four profiles by policy OID, issuer OU and basicConstraints.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let tbs_der = split_signed(der)?;
        let cert = Certificate::from_der(der)?;
        let tbs = &cert.tbs_certificate;
        check_sig_alg(&cert.signature_algorithm.oid, &tbs.signature.oid)?;
        if tbs.version != x509_cert::certificate::Version::V3 {
            return Err(CertError::NotJpki("not an X.509 v3 certificate"));
        }

        let spki = &tbs.subject_public_key_info;
        if spki.algorithm.oid != oids::RSA_ENCRYPTION {
            return Err(CertError::UnsupportedAlgorithm { oid: spki.algorithm.oid.to_string() });
        }
        let key_bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or(CertError::UnsupportedKey("public key bit string not octet aligned"))?;
        let public_key =
            RsaPublicKey::from_pkcs1_der(key_bytes).map_err(|_| CertError::UnsupportedKey("not an RSA public key"))?;
        let bits = public_key.n().bits();
        if !(2048..=4096).contains(&bits) {
            return Err(CertError::UnsupportedKey("RSA key size outside 2048-4096 bits"));
        }

        let not_before = from_der_time(tbs.validity.not_before)?;
        let not_after = from_der_time(tbs.validity.not_after)?;
        if not_after < not_before {
            return Err(CertError::NotJpki("validity ends before it starts"));
        }

        let exts = Exts::decode(&cert)?;
        let key_usage = exts.key_usage.map(|ku| KeyUsageBits {
            digital_signature: ku.digital_signature(),
            non_repudiation: ku.non_repudiation(),
            key_cert_sign: ku.key_cert_sign(),
            crl_sign: ku.crl_sign(),
        });
        let (profile, test_policy) = Self::decide_profile(&cert, &exts, key_usage)?;
        let test = test_policy
            || exts.san.as_ref().is_some_and(|s| alt_names_marked_test(&s.0))
            || exts.ian.as_ref().is_some_and(|s| alt_names_marked_test(&s.0));

        Ok(JpkiCertificate {
            der: der.to_vec(),
            tbs_der,
            public_key,
            profile,
            test,
            not_before,
            not_after,
            key_usage,
            ski: exts.ski.map(|s| s.0.as_bytes().to_vec()),
            aki: exts.aki.and_then(|a| a.key_identifier).map(|k| k.as_bytes().to_vec()),
            cert,
        })
    }

    /// Parses the contents of a certificate EF, which may carry filler after the DER.
    pub fn from_ef_contents(ef: &[u8]) -> Result<Self, CertError> {
        let len = der_length_from_header(ef).ok_or(CertError::NotJpki("EF does not start with a DER SEQUENCE"))?;
        let der = ef.get(..len).ok_or(CertError::Der(
            der::ErrorKind::Incomplete {
                expected_len: der::Length::try_from(len).unwrap_or(der::Length::MAX),
                actual_len: der::Length::try_from(ef.len()).unwrap_or(der::Length::MAX),
            }
            .into(),
        ))?;
        Self::from_der(der)
    }

    /// Profile from basicConstraints (CA or not), the issuer OU (which hierarchy) and, for end
    /// entities, the policy OID, which must agree with the issuer. Returns whether the policy
    /// is a test-environment one.
    fn decide_profile(
        cert: &Certificate,
        exts: &Exts,
        ku: Option<KeyUsageBits>,
    ) -> Result<(CertProfile, bool), CertError> {
        let issuer = &cert.tbs_certificate.issuer;
        if !name_values(issuer, oids::AT_ORGANIZATION).iter().any(|o| o == "JPKI") {
            return Err(CertError::NotJpki("issuer is not O=JPKI"));
        }
        let ous = name_values(issuer, oids::AT_ORG_UNIT);
        let auth_hierarchy = ous.iter().any(|o| o == oids::OU_AUTH);
        let sign_hierarchy = ous.iter().any(|o| o == oids::OU_SIGN);
        if auth_hierarchy == sign_hierarchy {
            return Err(CertError::NotJpki("issuer OU names neither or both JPKI hierarchies"));
        }
        let ku = ku.ok_or(CertError::NotJpki("no keyUsage"))?;

        if exts.basic.as_ref().is_some_and(|b| b.ca) {
            if !ku.key_cert_sign {
                return Err(CertError::NotJpki("CA without keyCertSign"));
            }
            let profile = if auth_hierarchy { CertProfile::AuthCa } else { CertProfile::SignCa };
            return Ok((profile, false));
        }

        let policies = exts.policies.as_ref().ok_or(CertError::NotJpki("no certificatePolicies"))?;
        let has = |oid| policies.0.iter().any(|p| p.policy_identifier == oid);
        let (profile, test) = if has(oids::POLICY_AUTH) {
            (CertProfile::UserAuthentication, false)
        } else if has(oids::POLICY_AUTH_TEST) {
            (CertProfile::UserAuthentication, true)
        } else if has(oids::POLICY_SIGN) {
            (CertProfile::DigitalSignature, false)
        } else if has(oids::POLICY_SIGN_TEST) {
            (CertProfile::DigitalSignature, true)
        } else {
            return Err(CertError::NotJpki("no JPKI certificate policy"));
        };
        let agrees = match profile {
            CertProfile::UserAuthentication => auth_hierarchy,
            _ => sign_hierarchy,
        };
        if !agrees {
            return Err(CertError::NotJpki("certificate policy and issuer OU disagree"));
        }
        if !ku.digital_signature || ku.key_cert_sign {
            return Err(CertError::NotJpki("end-entity keyUsage is not digitalSignature"));
        }
        Ok((profile, test))
    }

    pub fn profile(&self) -> CertProfile {
        self.profile
    }

    /// Issued in the J-LIS test environment or by [`crate::testpki`] (test policy OID, or the
    /// test marker in an alt-name DirName).
    pub fn is_test_profile(&self) -> bool {
        self.test
    }

    /// Subject as an RFC 4514 string (most specific first).
    pub fn subject(&self) -> String {
        display_name(&self.cert.tbs_certificate.subject)
    }

    pub fn issuer(&self) -> String {
        display_name(&self.cert.tbs_certificate.issuer)
    }

    /// Subject CN (the opaque ID of an auth certificate, the issuance number of a signature one).
    pub fn subject_cn(&self) -> Option<String> {
        name_values(&self.cert.tbs_certificate.subject, oids::AT_COMMON_NAME).into_iter().next()
    }

    /// Serial as upper-case hex without separators (`06D18006`).
    pub fn serial_hex(&self) -> String {
        hex_upper(self.serial_bytes())
    }

    /// Serial as a big-endian unsigned integer, without sign padding.
    pub fn serial_bytes(&self) -> &[u8] {
        strip_leading_zeros(self.cert.tbs_certificate.serial_number.as_bytes())
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public_key
    }

    pub fn fingerprint_sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn key_usage(&self) -> KeyUsageBits {
        self.key_usage.unwrap_or_default()
    }

    pub fn subject_key_id(&self) -> Option<&[u8]> {
        self.ski.as_deref()
    }

    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.aki.as_deref()
    }

    /// Whether `at` lies within notBefore..=notAfter.
    pub fn is_valid_at(&self, at: OffsetDateTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    /// `Ok` if valid at `at`, else `Expired` / `NotYetValid`.
    pub fn check_validity(&self, at: OffsetDateTime) -> Result<(), CertError> {
        if at < self.not_before {
            Err(CertError::NotYetValid { not_before: self.not_before })
        } else if at > self.not_after {
            Err(CertError::Expired { not_after: self.not_after })
        } else {
            Ok(())
        }
    }

    /// The basic 4 information of a signature certificate; `None` for the other profiles.
    pub fn basic4(&self) -> Result<Option<Basic4Info>, CertError> {
        if self.profile != CertProfile::DigitalSignature {
            return Ok(None);
        }
        let exts = Exts::decode(&self.cert)?;
        let san = exts.san.ok_or(CertError::Basic4("signature certificate without subjectAltName"))?;
        Basic4Info::from_san(&san).map(Some)
    }

    /// Verifies that `self`'s key signed `signed_tbs` (a certificate's or CRL's TBS bytes).
    pub(crate) fn verify_signed(&self, tbs: &[u8], signature: &[u8]) -> Result<(), CertError> {
        crate::verify_pkcs1v15_sha256(&self.public_key, tbs, signature)
    }

    /// Whether `self` (a CA) signed `child`: by signature, the DN only pre-selects.
    pub(crate) fn signed(&self, child: &JpkiCertificate) -> Result<(), CertError> {
        let sig = child.cert.signature.as_bytes().ok_or(CertError::BadSignature)?;
        self.verify_signed(&child.tbs_der, sig)
    }

    /// Issuer and subject names as DER, for exact comparisons.
    pub(crate) fn issuer_name(&self) -> &x509_cert::name::Name {
        &self.cert.tbs_certificate.issuer
    }

    pub(crate) fn subject_name(&self) -> &x509_cert::name::Name {
        &self.cert.tbs_certificate.subject
    }

    pub(crate) fn is_self_issued(&self) -> bool {
        self.cert.tbs_certificate.issuer.to_der().ok() == self.cert.tbs_certificate.subject.to_der().ok()
    }

    /// The x509-cert structure, for callers that need a field we do not expose.
    pub fn x509(&self) -> &Certificate {
        &self.cert
    }
}

impl AsRef<JpkiCertificate> for JpkiCertificate {
    fn as_ref(&self) -> &JpkiCertificate {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_headers() {
        assert_eq!(der_length_from_header(&[0x30, 0x82, 0x04, 0xD2, 0x30]), Some(0x4D2 + 4));
        assert_eq!(der_length_from_header(&[0x30, 0x81, 0x90]), Some(0x90 + 3));
        assert_eq!(der_length_from_header(&[0x30, 0x10]), Some(0x12));
        assert_eq!(der_length_from_header(&[0x30, 0x83, 1, 0, 0]), Some(0x10000 + 5));
        assert_eq!(der_length_from_header(&[0x30, 0x82, 0x04]), None);
        assert_eq!(der_length_from_header(&[0x31, 0x10]), None);
        assert_eq!(der_length_from_header(&[0x30, 0x84, 0, 0, 0, 0]), None);
        assert_eq!(der_length_from_header(&[]), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in
            [&[][..], &[0x30], &[0x30, 0x82, 0xFF, 0xFF], &[0x30, 0x00], &[0xFF; 64], b"-----BEGIN CERTIFICATE-----"]
        {
            let e = JpkiCertificate::from_der(bad).unwrap_err();
            assert_eq!(e.kind(), crate::CertErrorKind::Malformed, "{bad:?}: {e}");
            assert!(JpkiCertificate::from_ef_contents(bad).is_err());
        }
    }
}
