//! One error type for the whole crate, with a small `Copy` kind for callers that only branch.

use time::OffsetDateTime;

/// What went wrong, coarse enough to `match` on in the kiosk and the backend (like
/// `embedded_hal::digital::ErrorKind`): the full [`CertError`] keeps the detail for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertErrorKind {
    /// Not decodable DER, or a structure that breaks X.509.
    Malformed,
    /// Decodable X.509, but not a JPKI certificate or CRL of a profile we know.
    NotJpki,
    /// An algorithm or key that JPKI does not use.
    UnsupportedAlgorithm,
    /// A signature that does not verify.
    BadSignature,
    /// Outside the validity period (too late).
    Expired,
    /// Outside the validity period (too early).
    NotYetValid,
    /// No pinned anchor issued it.
    Untrusted,
    /// Test material where production material is required.
    TestMaterial,
    /// On a CRL as revoked.
    Revoked,
    /// On a CRL as on hold (一時保留 / 一時利用停止).
    Suspended,
    /// The basic 4 information in the subjectAltName is missing or invalid.
    Basic4,
    /// Reading anchors from disk failed.
    Io,
}

/// Everything that can fail while parsing or checking JPKI certificates and CRLs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("malformed DER: {0}")]
    Der(der::Error),
    #[error("not a JPKI certificate: {0}")]
    NotJpki(&'static str),
    #[error("unknown critical extension {oid}")]
    UnknownCriticalExtension { oid: String },
    #[error("unsupported algorithm {oid}")]
    UnsupportedAlgorithm { oid: String },
    #[error("unsupported public key: {0}")]
    UnsupportedKey(&'static str),
    #[error("signature does not verify")]
    BadSignature,
    #[error("certificate expired at {not_after}")]
    Expired { not_after: OffsetDateTime },
    #[error("certificate not valid before {not_before}")]
    NotYetValid { not_before: OffsetDateTime },
    #[error("trust anchor is not valid at this time ({not_before} to {not_after})")]
    AnchorNotValid { not_before: OffsetDateTime, not_after: OffsetDateTime },
    #[error("no pinned trust anchor issued this certificate")]
    UntrustedChain,
    #[error("a CA certificate cannot be the end-entity certificate")]
    NotEndEntity,
    #[error("trust anchor is not a CA allowed to sign certificates and CRLs: {0}")]
    NotAnchor(&'static str),
    #[error("test material refused: this kiosk is not configured for the JPKI test environment")]
    TestMaterialRefused,
    #[error("certificate revoked since {since}")]
    Revoked { since: OffsetDateTime },
    #[error("certificate suspended (on hold) since {since}")]
    Suspended { since: OffsetDateTime },
    #[error("CRL is not current (this update {this_update}, next update {next_update:?})")]
    CrlNotCurrent { this_update: OffsetDateTime, next_update: Option<OffsetDateTime> },
    #[error("invalid basic 4 information: {0}")]
    Basic4(&'static str),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("RSA: {0}")]
    Rsa(rsa::Error),
}

impl CertError {
    pub fn kind(&self) -> CertErrorKind {
        use CertErrorKind as K;
        match self {
            CertError::Der(_) => K::Malformed,
            CertError::NotJpki(_) | CertError::UnknownCriticalExtension { .. } | CertError::NotEndEntity => K::NotJpki,
            CertError::UnsupportedAlgorithm { .. } | CertError::UnsupportedKey(_) | CertError::Rsa(_) => {
                K::UnsupportedAlgorithm
            }
            CertError::BadSignature => K::BadSignature,
            CertError::Expired { .. } | CertError::AnchorNotValid { .. } | CertError::CrlNotCurrent { .. } => {
                K::Expired
            }
            CertError::NotYetValid { .. } => K::NotYetValid,
            CertError::UntrustedChain | CertError::NotAnchor(_) => K::Untrusted,
            CertError::TestMaterialRefused => K::TestMaterial,
            CertError::Revoked { .. } => K::Revoked,
            CertError::Suspended { .. } => K::Suspended,
            CertError::Basic4(_) => K::Basic4,
            CertError::Io { .. } => K::Io,
        }
    }
}

impl From<der::Error> for CertError {
    fn from(e: der::Error) -> Self {
        CertError::Der(e)
    }
}

impl From<rsa::Error> for CertError {
    fn from(e: rsa::Error) -> Self {
        CertError::Rsa(e)
    }
}
