//! What a kiosk does with what the backend signed: the catalog (`GET /v1/catalog`) and each
//! document (`IssuanceReply.document`). The signature is verified over the payload's exact
//! bytes before the payload is parsed; a catalog is never older than the one held; a document
//! is refused when bound to anything but what its reader expects.

use crate::binding::{BindingMismatch, Expected};
use crate::payload::{Binding, DocumentPayload};
use crate::signed::{PublicKey, SignedBlob, SigningError};
use crate::v1::Catalog;

/// The catalog format this crate reads and writes.
pub const CATALOG_FORMAT: u32 = 1;

/// Why a kiosk must refuse a signed catalog or document.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("signature: {0}")]
    Signature(#[from] SigningError),
    /// Signed, but not what it should be (the parser's message names fields only).
    #[error("payload does not parse: {0}")]
    Payload(String),
    #[error("catalog format {0} is not understood")]
    Format(u32),
    #[error("catalog version {got} is older than the {have} already held")]
    OlderCatalog { got: i64, have: i64 },
    #[error("{0}")]
    Binding(#[from] BindingMismatch),
}

/// The class of a [`VerifyError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyErrorKind {
    /// Not signed by the backend's key (or not verifiable at all).
    Signature,
    /// Signed, but not a catalog or document this kiosk reads.
    Payload,
    /// A catalog older than the one held: keep the held one.
    OlderCatalog,
    /// A document bound to something else than expected.
    Binding,
}

impl VerifyError {
    pub fn kind(&self) -> VerifyErrorKind {
        match self {
            VerifyError::Signature(_) => VerifyErrorKind::Signature,
            VerifyError::Payload(_) | VerifyError::Format(_) => VerifyErrorKind::Payload,
            VerifyError::OlderCatalog { .. } => VerifyErrorKind::OlderCatalog,
            VerifyError::Binding(_) => VerifyErrorKind::Binding,
        }
    }
}

/// Verifies the signed catalog, parses it, and never goes back to an older version than
/// `held` (the version already held, if any).
pub fn verify_catalog(key: &PublicKey, blob: &SignedBlob, held: Option<i64>) -> Result<Catalog, VerifyError> {
    let payload = key.verify(blob)?;
    let c: Catalog = serde_json::from_str(payload).map_err(|e| VerifyError::Payload(e.to_string()))?;
    if c.format != CATALOG_FORMAT {
        return Err(VerifyError::Format(c.format));
    }
    if let Some(have) = held.filter(|have| c.version < *have) {
        return Err(VerifyError::OlderCatalog { got: c.version, have });
    }
    Ok(c)
}

/// Verifies a signed document and returns only its binding (for a reader that checks the
/// binding and leaves the rest of the payload to the printer).
pub fn verify_binding(key: &PublicKey, blob: &SignedBlob) -> Result<Binding, VerifyError> {
    let payload = key.verify(blob)?;
    crate::payload::binding_of(payload).map_err(|e| VerifyError::Payload(e.to_string()))
}

/// What a kiosk does before printing: verify the signature, then that the document is bound to
/// what it expects (its own session, the certificate of the card it read, ...). The payload is
/// parsed, not yet checked for printing ([`DocumentPayload::parse`] does that).
pub fn verify_document(
    key: &PublicKey,
    blob: &SignedBlob,
    expected: &Expected<'_>,
) -> Result<DocumentPayload, VerifyError> {
    let payload = key.verify(blob)?;
    let d: DocumentPayload = serde_json::from_str(payload).map_err(|e| VerifyError::Payload(e.to_string()))?;
    d.binding.check(expected)?;
    Ok(d)
}

#[cfg(test)]
mod tests;
