//! The kiosk application: where drivers, certificates and the UI meet.
#![forbid(unsafe_code)]

pub mod config;
pub mod devices;
pub mod diagnostics;
pub mod hardening;
pub mod kiosk;
pub mod notify;
pub mod print_sample;
pub mod watchdog;
pub mod workers;
pub mod world;
