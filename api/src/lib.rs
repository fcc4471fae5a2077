//! The kiosk <-> backend contract: the types both sides (and the simulators and tools that
//! stand in for either) read and write, defined once so they cannot drift apart.
#![forbid(unsafe_code)]

pub mod registry;
