//! The kiosk application: where drivers, certificates and the UI meet.
#![forbid(unsafe_code)]

pub mod config;
pub mod demo;
pub mod devices;
pub mod diagnostics;
pub mod documents;
pub mod kiosk;
pub mod scenario;
pub mod session;
pub mod workers;
