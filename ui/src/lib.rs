//! Touchscreen UI.
#![forbid(unsafe_code)]
