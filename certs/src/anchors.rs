//! Pinned JPKI trust anchors and chain verification. The kiosk trusts only the CA certificates
//! it was shipped with; the CA certificate a card offers (EF 000B / 0002) is never used.

use crate::cert::{CertProfile, JpkiCertificate};
use crate::crl::Crl;
use crate::error::CertError;
use std::path::Path;
use time::OffsetDateTime;

/// One pinned CA certificate (a generation of the auth CA or the sign CA).
#[derive(Debug, Clone)]
pub struct Anchor {
    cert: JpkiCertificate,
}

impl Anchor {
    pub fn cert(&self) -> &JpkiCertificate {
        &self.cert
    }

    /// Test-environment anchor (see [`JpkiCertificate::is_test_profile`]).
    pub fn is_test(&self) -> bool {
        self.cert.is_test_profile()
    }

    /// [`CertProfile::AuthCa`] or [`CertProfile::SignCa`].
    pub fn profile(&self) -> CertProfile {
        self.cert.profile()
    }

    pub fn fingerprint_sha256(&self) -> [u8; 32] {
        self.cert.fingerprint_sha256()
    }
}

impl AsRef<JpkiCertificate> for Anchor {
    fn as_ref(&self) -> &JpkiCertificate {
        &self.cert
    }
}

/// The set of pinned anchors. Several generations of each CA share one DN (J-LIS 2019, 2023…),
/// so the issuer is found by signature (AKI/SKI and DN only narrow the search).
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    allow_test: bool,
    anchors: Vec<Anchor>,
}

impl TrustAnchors {
    /// An empty set. With `allow_test == false` (production), test anchors are refused when
    /// added and test certificates are refused when verified.
    pub fn new(allow_test: bool) -> Self {
        TrustAnchors { allow_test, anchors: Vec::new() }
    }

    pub fn allows_test(&self) -> bool {
        self.allow_test
    }

    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Adds a self-signed JPKI CA certificate. It must be a CA with keyCertSign and cRLSign and
    /// verify under its own key; a duplicate is ignored.
    pub fn add_der(&mut self, der: &[u8]) -> Result<&Anchor, CertError> {
        let cert = JpkiCertificate::from_der(der)?;
        if !cert.profile().is_ca() {
            return Err(CertError::NotAnchor("not a CA certificate"));
        }
        let ku = cert.key_usage();
        if !(ku.key_cert_sign && ku.crl_sign) {
            return Err(CertError::NotAnchor("keyUsage lacks keyCertSign or cRLSign"));
        }
        if !cert.is_self_issued() {
            return Err(CertError::NotAnchor("not self-issued"));
        }
        cert.signed(&cert).map_err(|_| CertError::NotAnchor("self-signature does not verify"))?;
        if cert.is_test_profile() && !self.allow_test {
            return Err(CertError::TestMaterialRefused);
        }
        let fp = cert.fingerprint_sha256();
        let idx = match self.anchors.iter().position(|a| a.fingerprint_sha256() == fp) {
            Some(i) => i,
            None => {
                self.anchors.push(Anchor { cert });
                self.anchors.len() - 1
            }
        };
        self.anchors.get(idx).ok_or(CertError::NotAnchor("lost anchor"))
    }

    /// Adds every `CERTIFICATE` block of a PEM text; returns how many.
    pub fn add_pem(&mut self, pem: &str) -> Result<usize, CertError> {
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
        const END: &str = "-----END CERTIFICATE-----";
        let mut rest = pem;
        let mut n = 0;
        while let Some(start) = rest.find(BEGIN) {
            let tail = rest.get(start..).unwrap_or_default();
            let end = tail.find(END).ok_or(CertError::NotAnchor("unterminated PEM block"))? + END.len();
            let block = tail.get(..end).unwrap_or_default();
            let (_, der) = der::pem::decode_vec(block.as_bytes()).map_err(der::Error::from)?;
            self.add_der(&der)?;
            n += 1;
            rest = tail.get(end..).unwrap_or_default();
        }
        Ok(n)
    }

    /// Loads every `*.der` and `*.pem` file of a directory, in file-name order.
    pub fn from_dir(path: &Path, allow_test: bool) -> Result<Self, CertError> {
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |source| CertError::Io { path: p, source }
        };
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(io(path))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("der" | "pem")))
            .collect();
        files.sort();
        let mut anchors = TrustAnchors::new(allow_test);
        for file in files {
            let bytes = std::fs::read(&file).map_err(io(&file))?;
            if file.extension().is_some_and(|e| e == "pem") {
                let text = String::from_utf8(bytes).map_err(|_| CertError::NotAnchor("PEM file is not text"))?;
                anchors.add_pem(&text)?;
            } else {
                anchors.add_der(&bytes)?;
            }
        }
        Ok(anchors)
    }

    /// Verifies `cert` was issued by one of the pinned anchors and that both are valid at `at`.
    /// Returns the issuing anchor (its generation tells which CRL applies).
    pub fn verify_chain(&self, cert: &JpkiCertificate, at: OffsetDateTime) -> Result<&Anchor, CertError> {
        if cert.profile().is_ca() {
            return Err(CertError::NotEndEntity);
        }
        if cert.is_test_profile() && !self.allow_test {
            return Err(CertError::TestMaterialRefused);
        }
        let mut candidates = 0usize;
        for anchor in self.candidates(cert.profile().issuer_profile(), cert.issuer_name(), cert.authority_key_id()) {
            candidates += 1;
            if anchor.cert.signed(cert).is_err() {
                continue;
            }
            let a = &anchor.cert;
            if !a.is_valid_at(at) {
                return Err(CertError::AnchorNotValid { not_before: a.not_before(), not_after: a.not_after() });
            }
            cert.check_validity(at)?;
            return Ok(anchor);
        }
        Err(if candidates > 0 { CertError::BadSignature } else { CertError::UntrustedChain })
    }

    /// Finds the anchor that signed a CRL (same DN, signature verifies).
    pub fn crl_issuer(&self, crl: &Crl) -> Result<&Anchor, CertError> {
        let mut candidates = 0usize;
        for profile in [CertProfile::AuthCa, CertProfile::SignCa] {
            for anchor in self.candidates(profile, crl.issuer_name(), crl.authority_key_id()) {
                candidates += 1;
                if crl.verify(anchor).is_ok() {
                    return Ok(anchor);
                }
            }
        }
        Err(if candidates > 0 { CertError::BadSignature } else { CertError::UntrustedChain })
    }

    /// Anchors that may have issued something naming `issuer` (and `aki`, if given).
    fn candidates(&self, profile: CertProfile, issuer: &x509_cert::name::Name, aki: Option<&[u8]>) -> Vec<&Anchor> {
        self.anchors
            .iter()
            .filter(|a| {
                a.profile() == profile
                    && (self.allow_test || !a.is_test())
                    && a.cert.subject_name() == issuer
                    && match (aki, a.cert.subject_key_id()) {
                        (Some(aki), Some(ski)) => aki == ski,
                        _ => true,
                    }
            })
            .collect()
    }
}
