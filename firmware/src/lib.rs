//! The kiosk application: where drivers, certificates and the UI meet.
#![forbid(unsafe_code)]

pub mod config;
pub mod devices;
pub mod diagnostics;
pub mod documents;
pub mod session;
