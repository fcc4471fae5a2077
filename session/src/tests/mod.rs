//! Session tests: each drives events through [`crate::testing::K`] and checks the effects, the
//! view and the audit trail; `every step` logs go through the PIN check.

mod decisions;
mod faults;
mod flow;
mod household;
mod reset;
mod secrets;
mod view;

pub(crate) use crate::backend::refusal_code;
pub(crate) use crate::testing::*;
pub(crate) use crate::view_model::{CertificateProblem, Language, PinPad, Reason};
pub(crate) use crate::*;
pub(crate) use madoguchi_drivers::card::ReaderInterface;
pub(crate) use madoguchi_drivers::gpio::{Level, Output};
pub(crate) use madoguchi_drivers::jpki::{JpkiErrorKind, PinStatus, PinTries, TokenKind};
