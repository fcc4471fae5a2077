//! Hardware drivers of the kiosk. `drivers` knows nothing of sessions, screens or HTTP.
//!
//! - [`iso7816`]: command/response APDUs and status words (generic, card-independent);
//! - [`card`]: the [`card::CardTransport`] trait, the [`card::Connector`] that finds and connects
//!   to cards, and its PC/SC implementation with reader hot-plug (feature `pcsc`);
//! - [`jpki`]: the JPKI application profile (token info, certificates, PINs, signing);
//! - [`printer`]: the certificate printer (PJL over a serial line, feature `serial`);
//! - [`gpio`]: lamps, chime, door switch and operator key (embedded-hal pins; the Linux
//!   character device behind feature `linux-gpio`);
//! - [`payment`]: the cash unit trait;
//! - [`cctalk`]: the ccTalk coin acceptor and hoppers behind it (serial line with feature `serial`).
//!
//! The I/O edges are features, all on by default; crates that need only the types (the session)
//! use `default-features = false` and link no PC/SC, serial or GPIO library.
#![forbid(unsafe_code)]

pub mod card;
pub mod cctalk;
pub mod fuzzing;
pub mod gpio;
pub mod iso7816;
pub mod jpki;
pub mod payment;
pub mod printer;
