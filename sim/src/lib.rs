//! Simulators: the virtual JPKI card (on vpcd, or in memory behind the drivers' `Connector`),
//! the printer and cash unit, and the demo world generator.
#![forbid(unsafe_code)]

pub mod backend_proxy;
pub mod card;
pub mod cash;
pub mod lab;
pub mod memory;
pub mod printer;
pub mod profile;
pub mod slot;
pub mod vpcd;
pub mod world;
