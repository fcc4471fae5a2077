//! The session's own terms for what the resident sees, and their translation into the UI's
//! [`ViewModel`]: certificate notices with their dates, why the kiosk is unavailable, service
//! hours as text, the language code, and the PIN pad (a count and the tries left: the session
//! has no digit to give it). `render.rs` builds the view model from the state with these.
//!
//! There is no field that could hold a PIN digit: the PIN pad shows only how many were typed.

use crate::view_model::{CertificateProblem, Date, Hours, Language, PinPad, Reason};
use crate::ServiceHours;

/// Every screen id of `reference/scenarios.md`: the UI's list, so the session and the screens
/// cannot disagree on one (`ScreenId::id()` is the scenario id).
pub use crate::view_model::Screen as ScreenId;

/// What the kiosk is doing while the resident waits (the UI's progress line): the UI's list.
pub use crate::view_model::Stage;

pub use crate::view_model::ViewModel;

/// Why the certificate cannot be used, or a notice about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateNotice {
    /// Past its expiry date (the last valid day): renew at city hall.
    Expired {
        last_day: time::Date,
    },
    /// Within the 3-month renewal window: a notice; the resident may go on (`ok`).
    ExpiringSoon {
        last_day: time::Date,
        days_left: i64,
    },
    Revoked,
    Suspended,
    PinBlocked,
    NotYetValid,
}

/// Why the kiosk does not serve now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// Outside daily hours (`closed`).
    Hours,
    /// 29 Dec – 3 Jan and configured closed days (`closed`).
    ClosedDay,
    /// Printer not ready (`out-of-service`).
    Printer,
    /// Cash unit not ready (`out-of-service`).
    Cash,
    /// The clock is implausible (`out-of-service`).
    Clock,
    /// Operator mode holds the kiosk (`out-of-service`: the operator's own reasons, a door
    /// opened without the key, a jam not yet cleared).
    Operator,
}

/// 29 December to 3 January: the days the service closes every year (the UI says so under the
/// hours when the kiosk keeps them).
const YEAR_END: [(u8, u8); 6] = [(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)];

/// The UI language for a BCP 47 code; Japanese for one the UI does not have.
pub(crate) fn language(code: &str) -> Language {
    Language::from_code(code).unwrap_or(Language::Ja)
}

/// The service hours as the idle and closed screens say them, and why the kiosk does not serve.
pub(crate) fn hours(hours: &ServiceHours, unavailable: Option<Unavailable>) -> Hours {
    Hours {
        opens: clock(hours.opens),
        closes: clock(hours.closes),
        reason: reason(unavailable),
        year_end_closed: YEAR_END.iter().all(|d| hours.closed_days.contains(d)),
    }
}

/// `6:30`, `23:00`: as the resident reads a time in every UI language.
fn clock(t: time::Time) -> String {
    format!("{}:{:02}", t.hour(), t.minute())
}

fn reason(u: Option<Unavailable>) -> Reason {
    match u {
        None => Reason::None,
        Some(Unavailable::Hours) => Reason::Hours,
        Some(Unavailable::ClosedDay) => Reason::ClosedDay,
        Some(Unavailable::Printer) => Reason::Printer,
        Some(Unavailable::Cash) => Reason::Cash,
        Some(Unavailable::Clock) => Reason::Clock,
        Some(Unavailable::Operator) => Reason::Maintenance,
    }
}

/// The user-authentication PIN pad of `length` digits: how many were typed (never more than
/// fit) and the tries left; one try left is the strong warning, whatever else the count says.
pub(crate) fn pin_pad(
    typed: u8,
    length: u8,
    tries_left: Option<u8>,
    last_try_warning: bool,
    previous_wrong: bool,
) -> PinPad {
    PinPad {
        typed: typed.min(length),
        min_len: length,
        max_len: length,
        tries_left: if last_try_warning { Some(1) } else { tries_left },
        previous_wrong,
        ..PinPad::default()
    }
}

fn date(d: time::Date) -> Date {
    Date { year: d.year(), month: u8::from(d.month()), day: d.day() }
}

/// A certificate notice as the certificate-problem screen shows it.
pub(crate) fn certificate_problem(n: CertificateNotice) -> CertificateProblem {
    match n {
        CertificateNotice::Expired { last_day } => CertificateProblem::Expired(date(last_day)),
        CertificateNotice::ExpiringSoon { last_day, days_left } => CertificateProblem::ExpiringSoon {
            last_day: date(last_day),
            days_left: u32::try_from(days_left.max(0)).unwrap_or(u32::MAX),
        },
        CertificateNotice::Revoked => CertificateProblem::Revoked,
        CertificateNotice::Suspended => CertificateProblem::Suspended,
        CertificateNotice::PinBlocked => CertificateProblem::PinBlocked,
        CertificateNotice::NotYetValid => CertificateProblem::NotYetValid,
    }
}
