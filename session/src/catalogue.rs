//! Failure codes and money states: what the session reports when a transaction ends without the
//! resident's documents.
//!
//! The one catalogue of resident-facing failure messages, keyed by [`FailureCode`], lives in the
//! UI (`ui/ui/names.slint`, translated into every UI language in `ui/translations/`): for each
//! code what happened and what to do, and, from the [`MoneyState`] the session reports (what the
//! cash unit actually did), whether money was taken and where it is. The session carries no
//! words; `madoguchi_ui::Ui::failure_text` gives a code's words in any language, and
//! `ui/tests/catalogue.rs` checks that every code has every part in every language.
//!
//! The codes are stable ids (kebab case, [`FailureCode::id`]): scenario files, logs, the audit
//! trail, the UI and support staff use them, so one never changes meaning.

pub use crate::view_model::{FailureCode, MoneyState};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_unique_stable_id() {
        let mut ids = std::collections::HashSet::new();
        for code in FailureCode::ALL {
            assert!(ids.insert(code.id()), "duplicate id {}", code.id());
            assert_eq!(FailureCode::from_id(code.id()), Some(code));
            assert_eq!(code.to_string(), code.id());
        }
        // ids the audit trail and scenario files already use
        assert_eq!(FailureCode::PrinterJam.id(), "printer-jam");
        assert_eq!(FailureCode::CashJam.id(), "cash-jam");
        assert!(
            FailureCode::PinBlocked.is_certificate_problem()
                && !FailureCode::CertificateUntrusted.is_certificate_problem()
        );
    }
}
