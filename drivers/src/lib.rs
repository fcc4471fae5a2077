//! Hardware drivers of the kiosk. `drivers` knows nothing of sessions, screens or HTTP.
//!
//! - [`iso7816`]: command/response APDUs and status words (generic, card-independent);
//! - [`card`]: the [`card::CardTransport`] trait and the PC/SC transport with reader hot-plug;
//! - [`jpki`]: the JPKI application profile (token info, certificates, PINs, signing);
//! - [`printer`]: the certificate printer (PJL over a serial line);
//! - [`gpio`]: lamps, chime, door switch and operator key (embedded-hal pins);
//! - [`payment`]: the cash unit trait.
#![forbid(unsafe_code)]

pub mod card;
pub mod fuzzing;
pub mod gpio;
pub mod iso7816;
pub mod jpki;
pub mod payment;
pub mod printer;
