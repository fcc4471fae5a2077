//! Session tests: each drives events through [`crate::testing::K`] and checks the effects, the
//! view and the audit trail; `every step` logs go through the PIN check.

mod decisions;
mod faults;
mod flow;
mod secrets;

pub(crate) use crate::testing::*;
pub(crate) use crate::*;
pub(crate) use madoguchi_drivers::jpki::PinTries;
