//! The kiosk <-> backend contract (`madoguchi-api`): one definition of everything both sides
//! must agree on, so that a change to the contract is one change.
//!
//! - [`v1`]: the request and reply bodies of the `/v1` API, and the checks a kiosk makes on
//!   every reply;
//! - [`error`]: the stable error codes ([`ErrorCode`]) with their HTTP status and meaning;
//! - [`challenge`]: what the card signs (a challenge with madoguchi's domain tag, its purpose
//!   and the kiosk's id);
//! - [`document`]: the documents ([`DocumentKind`]) with their ids and titles;
//! - [`payload`]: the signed document data ([`DocumentPayload`]) and its checks;
//! - [`binding`]: whether a document is bound to this session, certificate and issuance;
//! - [`signed`] and [`verify`]: the backend's Ed25519 signatures and what a kiosk verifies with
//!   them (the catalog, never older than the one held; each document);
//! - [`municipality`]: the municipality configuration the signed catalog carries;
//! - [`wording`]: the municipality's own words on its paper, resolved per issuance;
//! - [`pin_reset`]: the credential a PIN reset sets anew and the message the card-management key
//!   signs (our PIN-reset protocol v1);
//! - [`registry`]: the resident-registry import schema (`registry.json`) the world generator
//!   writes and the backend loads;
//! - `client` (feature `client`): the mTLS HTTP client over one kept-alive connection;
//! - [`fuzzing`]: the fuzz targets' entry points (`fuzz/`), replayed over their corpora by tests.
//!
//! Feature `openapi` derives the OpenAPI schemas (utoipa) for the backend's API document.
#![forbid(unsafe_code)]

pub mod binding;
pub mod challenge;
#[cfg(feature = "client")]
pub mod client;
pub mod document;
pub mod error;
pub mod fuzzing;
pub mod municipality;
pub mod payload;
pub mod pin_reset;
pub mod registry;
pub mod signed;
pub mod v1;
pub mod verify;
pub mod wording;

pub use binding::{BindingMismatch, Expected};
pub use document::DocumentKind;
pub use error::{ErrorBody, ErrorCode, ReplyCode};
pub use payload::{Binding, DocumentPayload, PayloadError, PayloadErrorKind};
pub use pin_reset::ResetCredential;
pub use signed::{PublicKey, SignedBlob, SigningError};
pub use verify::{verify_binding, verify_catalog, verify_document, VerifyError, VerifyErrorKind};
