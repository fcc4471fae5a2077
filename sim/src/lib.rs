//! Simulators: the virtual JPKI card on vpcd and the demo world generator.
#![forbid(unsafe_code)]

pub mod card;
pub mod cash;
pub mod lab;
pub mod printer;
pub mod profile;
pub mod vpcd;
pub mod world;
