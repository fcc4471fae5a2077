//! Hardware drivers of the kiosk. `drivers` knows nothing of sessions, screens or HTTP.
//!
//! - [`iso7816`]: command/response APDUs and status words (generic, card-independent);
//! - [`card`]: the [`card::CardTransport`] trait and the PC/SC transport with reader hot-plug;
//! - [`jpki`]: the JPKI application profile (token info, certificates, PINs, signing).
#![forbid(unsafe_code)]

pub mod card;
pub mod fuzzing;
pub mod iso7816;
pub mod jpki;
