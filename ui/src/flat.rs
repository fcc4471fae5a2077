//! The view model flattened into the values the .slint `Api` global takes.

use madoguchi_session::view_model::*;

/// The values the .slint `Api` global takes, flattened (crate-internal).
pub(crate) struct Flat<'a> {
    pub vm: &'a ViewModel,
}

impl Flat<'_> {
    pub fn pin_purpose(&self) -> &'static str {
        self.vm.pin.purpose.id()
    }
    pub fn problem(&self) -> (&'static str, Option<Date>, u32) {
        match self.vm.certificate_problem {
            Some(p) => {
                let days = if let CertificateProblem::ExpiringSoon { days_left, .. } = p { days_left } else { 0 };
                (p.id(), p.date(), days)
            }
            None => ("", None, 0),
        }
    }
    /// The catalogue entry shown: the failure's, else the certificate problem's.
    pub fn failure(&self) -> &'static str {
        match (&self.vm.failure, self.vm.certificate_problem) {
            (Some(f), _) => f.code.id(),
            (None, Some(p)) => p.failure_code().map_or("", FailureCode::id),
            (None, None) => "",
        }
    }
    pub fn money(&self) -> (&'static str, u32) {
        self.vm.failure.as_ref().map_or(("", 0), money_id)
    }
    pub fn reason(&self) -> &'static str {
        self.vm.hours.reason.id()
    }
}

/// The money state id the .slint side reads, and its amount.
pub(crate) fn money_id(f: &Failure) -> (&'static str, u32) {
    (f.money.id(), f.money.yen())
}
