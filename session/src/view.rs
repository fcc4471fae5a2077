//! The session-level description of what the resident should see. It names screens and
//! controls by the ids of `reference/scenarios.md` and carries no words of its own: failures go
//! out as a [`FailureCode`] and a [`MoneyState`], whose words are the UI's one catalogue.
//! The kiosk's `kiosk::view::view_model` maps a [`View`] onto the UI's view model.
//!
//! There is no field that could hold a PIN digit: the PIN pad shows only how many were typed.

use super::catalogue::{FailureCode, MoneyState};
use madoguchi_drivers::jpki::TokenKind;

/// Every screen id of `reference/scenarios.md`: the UI's list, so the session and the screens
/// cannot disagree on one (`ScreenId::id()` is the scenario id).
pub use crate::view_model::Screen as ScreenId;

/// What the kiosk is doing while the resident waits (the UI's progress line): the UI's list.
pub use crate::view_model::Stage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub stage: Stage,
    pub pages_done: u32,
    pub pages_total: u32,
}

/// The PIN pad: a count, never a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPad {
    pub typed: u8,
    pub length: u8,
    /// Tries left on the card, shown before the first digit.
    pub tries_left: Option<u8>,
    /// One try left: the strong warning ("a wrong PIN now locks the card").
    pub last_try_warning: bool,
    /// The previous attempt was wrong (shown with the new count).
    pub previous_wrong: bool,
}

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

/// One entry of a list the resident chooses from; its action id is `<prefix>:<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub id: String,
    /// Shown as-is where the UI has no translation for `id` (municipality names, titles).
    pub label: String,
    /// `residence`, `honseki`, `not-now`, `closed-day`, `not-eligible`, ... (translated by the UI).
    pub note: String,
    pub fee_yen: Option<u32>,
    pub enabled: bool,
    pub selected: bool,
}

impl Choice {
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> Choice {
        Choice {
            id: id.into(),
            label: label.into(),
            note: String::new(),
            fee_yen: None,
            enabled: true,
            selected: false,
        }
    }
}

/// The order being built (copies, confirm, payment screens).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderView {
    pub municipality: String,
    pub document: String,
    pub document_title: String,
    pub options: Vec<String>,
    pub year: Option<i32>,
    pub copies: u8,
    pub max_copies: u8,
    pub fee_per_copy_yen: u32,
    pub total_yen: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaymentView {
    pub due_yen: u32,
    pub inserted_yen: u32,
    /// Change paid out (take-documents).
    pub change_yen: u32,
}

/// The failure screen: the catalogue entry to show and the money. The words are the UI's
/// (`madoguchi_ui::Ui::failure_text` gives them in any language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureView {
    pub code: FailureCode,
    pub money: MoneyState,
    /// Pages that came out before a printer fault (they are not valid documents).
    pub pages_printed: u32,
    /// A reference the resident can quote to staff or the municipality.
    pub reference: String,
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
}

/// Everything a screen shows. Fields a screen does not use are left empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct View {
    /// Changes whenever the screen changes: touches report it back so a touch on a screen that
    /// has gone is dropped.
    pub visit: u64,
    pub screen: ScreenId,
    /// BCP 47 code (`ja`, `en`, `zh-Hans`...).
    pub language: String,
    pub large_text: bool,
    pub high_contrast: bool,
    /// Seconds before this screen times out; shown with "more time" when `can_more_time`.
    pub countdown: Option<u32>,
    pub can_more_time: bool,
    pub can_go_back: bool,
    pub can_cancel: bool,
    /// idle / service-menu (`service:<id>`).
    pub services: Vec<Choice>,
    pub progress: Progress,
    /// Which token the resident used (texts differ for phones).
    pub token: Option<TokenKind>,
    pub pin: Option<PinPad>,
    pub certificate: Option<CertificateNotice>,
    pub municipalities: Vec<Choice>,
    pub documents: Vec<Choice>,
    pub options: Vec<Choice>,
    pub years: Vec<Choice>,
    pub order: Option<OrderView>,
    pub payment: Option<PaymentView>,
    pub failure: Option<FailureView>,
    pub unavailable: Option<Unavailable>,
    /// timeout-warning: the screen that will come back on "more time".
    pub resumes: Option<ScreenId>,
}
