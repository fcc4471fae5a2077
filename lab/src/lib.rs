//! `madoguchi-lab`: test tooling, not product. Everything here may use the simulators; nothing
//! of the product depends on it.
//!
//! - [`demo`]: `madoguchi-lab demo`, a whole demo world on this machine (pcscd with vpcd, the
//!   backend, the printer simulator) and the kiosk itself, driven by a [`scenario`];
//! - [`scenario`]: the scenario format (docs/scenarios.md);
//! - [`bench`]: `madoguchi-lab bench`, full resident flows against the municipal backend;
//! - [`soak`]: `madoguchi-lab bench --soak`, instances killed and restarted under load.
#![forbid(unsafe_code)]

pub mod bench;
pub mod demo;
pub mod soak;
/// The scenario format, from its own crate.
pub use madoguchi_scenario as scenario;
