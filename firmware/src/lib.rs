//! The kiosk application: where drivers, certificates and the UI meet.
#![forbid(unsafe_code)]

pub mod diagnostics;
