//! The view model: plain Rust, no slint types. The session builds one per state and hands it to
//! `madoguchi_ui::Ui::set_view`; the UI shows it and reports touches by action id.
//!
//! Secrets: the PIN pad's state is [`PinPad`], which holds how many characters were typed and
//! nothing else. The digits stay in the session (in a zeroizing buffer); the UI reports
//! `digit:N` / `key:X` touches and never sees what was typed before.

pub use crate::catalogue::{FailureCode, MoneyState};
use std::fmt;

/// Every screen id of `reference/scenarios.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Screen {
    /// Waiting for a resident: the services (or a single "start" button), languages.
    #[default]
    Idle,
    /// A full-screen language picker.
    Language,
    /// The services offered (certificates, PIN reset).
    ServiceMenu,
    /// "Place your card or phone on the reader".
    PlaceCard,
    /// Reading the card; [`ViewModel::progress`] says what is happening.
    ReadingCard,
    /// The PIN pad; [`ViewModel::pin`].
    PinEntry,
    /// The certificate cannot be used, or expires soon; [`ViewModel::certificate_problem`].
    CertificateProblem,
    /// PIN verified, signing and asking the backend; [`ViewModel::progress`].
    Authenticating,
    /// "Take your card off the reader" (the flow goes on only once it is gone).
    RemoveCard,
    /// Residence or 本籍地 municipality; [`ViewModel::municipalities`].
    ChooseMunicipality,
    /// The documents offered; [`ViewModel::documents`].
    ChooseDocument,
    /// Options and fiscal year; [`ViewModel::options`], [`ViewModel::years`].
    DocumentOptions,
    /// Number of copies; [`ViewModel::order`].
    Copies,
    /// Summary and fee; [`ViewModel::order`].
    Confirm,
    /// Fee, money inserted and remaining; [`ViewModel::order`], [`ViewModel::payment`].
    Payment,
    /// Pages printed; [`ViewModel::progress`].
    Printing,
    /// "Take your documents" (and change).
    TakeDocuments,
    /// "Take your card" at the end when it is still on the reader.
    TakeCard,
    /// What went wrong, what happened to the money, what to do; [`ViewModel::failure`].
    Failure,
    /// Outside service hours; [`ViewModel::hours`].
    Closed,
    /// The kiosk cannot serve (printer, paper, network, cash unit); [`ViewModel::hours`]`.reason`.
    OutOfService,
    /// "Still there?" with a big countdown and "continue".
    TimeoutWarning,
    /// Which credential to reset (`reset:auth-pin`, `reset:sign-password`); [`ViewModel::resets`].
    PinResetChoose,
    /// The signature password on the on-screen keyboard, to prove the resident for an auth-PIN
    /// reset; [`ViewModel::pin`] (purpose `sign`, tries of 5 shown before the first key).
    PasswordEntry,
    /// The new PIN or password, first time; [`ViewModel::pin`] (purpose `new-auth`/`new-sign`,
    /// [`PinPad::retry`] says why it is asked again).
    NewPinEntry,
    /// The same new value again.
    NewPinConfirm,
    /// "Your PIN is set": [`ViewModel::reset_target`] says which; take the card.
    PinResetDone,
}

impl Screen {
    /// All screens, in flow order.
    pub const ALL: [Screen; 27] = [
        Screen::Idle,
        Screen::Language,
        Screen::ServiceMenu,
        Screen::PlaceCard,
        Screen::ReadingCard,
        Screen::PinEntry,
        Screen::CertificateProblem,
        Screen::Authenticating,
        Screen::RemoveCard,
        Screen::ChooseMunicipality,
        Screen::ChooseDocument,
        Screen::DocumentOptions,
        Screen::Copies,
        Screen::Confirm,
        Screen::Payment,
        Screen::Printing,
        Screen::TakeDocuments,
        Screen::TakeCard,
        Screen::Failure,
        Screen::Closed,
        Screen::OutOfService,
        Screen::TimeoutWarning,
        Screen::PinResetChoose,
        Screen::PasswordEntry,
        Screen::NewPinEntry,
        Screen::NewPinConfirm,
        Screen::PinResetDone,
    ];

    /// The screen id of `reference/scenarios.md`.
    pub const fn id(self) -> &'static str {
        match self {
            Screen::Idle => "idle",
            Screen::Language => "language",
            Screen::ServiceMenu => "service-menu",
            Screen::PlaceCard => "place-card",
            Screen::ReadingCard => "reading-card",
            Screen::PinEntry => "pin-entry",
            Screen::CertificateProblem => "certificate-problem",
            Screen::Authenticating => "authenticating",
            Screen::RemoveCard => "remove-card",
            Screen::ChooseMunicipality => "choose-municipality",
            Screen::ChooseDocument => "choose-document",
            Screen::DocumentOptions => "document-options",
            Screen::Copies => "copies",
            Screen::Confirm => "confirm",
            Screen::Payment => "payment",
            Screen::Printing => "printing",
            Screen::TakeDocuments => "take-documents",
            Screen::TakeCard => "take-card",
            Screen::Failure => "failure",
            Screen::Closed => "closed",
            Screen::OutOfService => "out-of-service",
            Screen::TimeoutWarning => "timeout-warning",
            Screen::PinResetChoose => "pin-reset-choose",
            Screen::PasswordEntry => "password-entry",
            Screen::NewPinEntry => "new-pin-entry",
            Screen::NewPinConfirm => "new-pin-confirm",
            Screen::PinResetDone => "pin-reset-done",
        }
    }

    /// The screen with this id.
    pub fn from_id(id: &str) -> Option<Screen> {
        Screen::ALL.into_iter().find(|s| s.id() == id)
    }
}

impl fmt::Display for Screen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The UI languages. Japanese is the source language of every string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    /// 日本語
    #[default]
    Ja,
    /// English
    En,
    /// 简体中文
    ZhHans,
    /// 한국어
    Ko,
    /// Português (Brasil)
    PtBr,
    /// Español
    Es,
    /// Tiếng Việt
    Vi,
}

impl Language {
    /// All languages, in the order the UI lists them.
    pub const ALL: [Language; 7] =
        [Language::Ja, Language::En, Language::ZhHans, Language::Ko, Language::PtBr, Language::Es, Language::Vi];

    /// The BCP 47 code used in `language:<code>` actions and as the catalogue directory name.
    pub const fn code(self) -> &'static str {
        match self {
            Language::Ja => "ja",
            Language::En => "en",
            Language::ZhHans => "zh-Hans",
            Language::Ko => "ko",
            Language::PtBr => "pt-BR",
            Language::Es => "es",
            Language::Vi => "vi",
        }
    }

    /// The language with this code.
    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The language's name in itself.
    pub const fn native_name(self) -> &'static str {
        match self {
            Language::Ja => "日本語",
            Language::En => "English",
            Language::ZhHans => "简体中文",
            Language::Ko => "한국어",
            Language::PtBr => "Português",
            Language::Es => "Español",
            Language::Vi => "Tiếng Việt",
        }
    }
}

/// One entry of a list the resident chooses from. Its control's action id is
/// `<prefix>:<id>`, the prefix given by the list (`service`, `municipality`, `document`,
/// `option`, `year`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The part of the action id after the prefix: `"juminhyo"`, `"131016"`, `"2024"`.
    pub id: String,
    /// Shown as-is where the UI has no translation for `id` (municipality names; options and
    /// documents the UI does not know).
    pub label: String,
    /// A second line shown as-is (a reading of a municipality's name, a municipality's note).
    pub detail: String,
    /// A note the UI translates: `"residence"`, `"honseki"`, `"hours"`, `"not-now"`,
    /// `"not-offered"`, `"unprintable"`; shown in place of `detail` on a disabled entry.
    pub note: String,
    /// Fee per copy in yen, shown beside the entry.
    pub fee_yen: Option<u32>,
    /// A disabled entry is shown (greyed, with its note) but cannot be touched.
    pub enabled: bool,
    /// Chosen (options and years toggle; the UI draws a check mark).
    pub selected: bool,
}

impl Choice {
    /// An enabled, unselected entry with only an id (the UI supplies the words).
    pub fn new(id: impl Into<String>) -> Choice {
        Choice {
            id: id.into(),
            label: String::new(),
            detail: String::new(),
            note: String::new(),
            fee_yen: None,
            enabled: true,
            selected: false,
        }
    }

    /// Sets the label shown as-is.
    pub fn label(mut self, label: impl Into<String>) -> Choice {
        self.label = label.into();
        self
    }

    /// Sets the second line shown as-is.
    pub fn detail(mut self, detail: impl Into<String>) -> Choice {
        self.detail = detail.into();
        self
    }

    /// Sets a translated note (`"residence"`, `"honseki"`, `"not-now"`...).
    pub fn note(mut self, note: impl Into<String>) -> Choice {
        self.note = note.into();
        self
    }

    /// Sets the fee per copy.
    pub fn fee(mut self, yen: u32) -> Choice {
        self.fee_yen = Some(yen);
        self
    }

    /// Sets whether it can be touched.
    pub fn enabled(mut self, enabled: bool) -> Choice {
        self.enabled = enabled;
        self
    }

    /// Sets whether it is chosen.
    pub fn selected(mut self, selected: bool) -> Choice {
        self.selected = selected;
        self
    }
}

/// A screen's time limit, shown as a countdown, with a "more time" button when it may be extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Countdown {
    /// Seconds before the screen times out.
    pub seconds_left: u32,
    /// "More time" is offered (the session allows only so many, and never past the whole
    /// transaction's limit).
    pub more_time: bool,
}

impl Countdown {
    /// A countdown that may be extended.
    pub fn extendable(seconds_left: u32) -> Countdown {
        Countdown { seconds_left, more_time: true }
    }

    /// A countdown without "more time" (failure and take-documents screens, the last extension).
    pub fn fixed(seconds_left: u32) -> Countdown {
        Countdown { seconds_left, more_time: false }
    }
}

/// What the kiosk is doing while the resident waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    /// Nothing to say.
    #[default]
    None,
    /// Selecting the card application.
    Connect,
    /// Reading the certificate.
    ReadCertificate,
    /// Checking the certificate's validity.
    CheckCertificate,
    /// VERIFY of the PIN.
    VerifyPin,
    /// The card signs the challenge.
    Sign,
    /// Waiting for the backend (authentication, offers).
    Backend,
    /// Receiving the document from the backend.
    Issue,
    /// Printing.
    Printing,
    /// The printer is finishing the job.
    Finishing,
}

impl Stage {
    /// The stage id the .slint side translates.
    pub const fn id(self) -> &'static str {
        match self {
            Stage::None => "",
            Stage::Connect => "connect",
            Stage::ReadCertificate => "read-cert",
            Stage::CheckCertificate => "check-cert",
            Stage::VerifyPin => "verify-pin",
            Stage::Sign => "sign",
            Stage::Backend => "backend",
            Stage::Issue => "issue",
            Stage::Printing => "printing",
            Stage::Finishing => "finishing",
        }
    }
}

/// Progress during card reads, authentication and printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// What is happening now.
    pub stage: Stage,
    /// Steps done (drawn as a bar when `steps > 0`).
    pub step: u32,
    /// Steps in all.
    pub steps: u32,
    /// Pages printed (printing screen).
    pub pages_done: u32,
    /// Pages in the job (printing screen; 0: unknown).
    pub pages_total: u32,
}

/// Which secret the PIN pad asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PinPurpose {
    /// The 4-digit user-authentication PIN.
    #[default]
    Auth,
    /// The signature password (6-16 upper-case letters and digits).
    Sign,
    /// A new user-authentication PIN (PIN reset).
    NewAuth,
    /// A new signature password (PIN reset).
    NewSign,
}

impl PinPurpose {
    /// The id the .slint side reads.
    pub const fn id(self) -> &'static str {
        match self {
            PinPurpose::Auth => "auth",
            PinPurpose::Sign => "sign",
            PinPurpose::NewAuth => "new-auth",
            PinPurpose::NewSign => "new-sign",
        }
    }
}

/// The PIN pad: how many characters were typed, never which. There is deliberately no field
/// that could hold a digit: the session keeps the PIN and reports only the count here.
///
/// ```compile_fail
/// let mut pad = madoguchi_ui::PinPad::default();
/// pad.digits = String::from("1234"); // no such field: a view model cannot carry a PIN
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPad {
    /// Which secret is asked for (title, keypad).
    pub purpose: PinPurpose,
    /// How many characters were typed so far.
    pub typed: u8,
    /// Fewest characters accepted ("ok" is enabled from here).
    pub min_len: u8,
    /// Most characters accepted (keys are disabled beyond).
    pub max_len: u8,
    /// Tries left on the card, shown before the first digit; `Some(1)` shows the strong warning.
    pub tries_left: Option<u8>,
    /// Letters A-Z as well as digits (`key:A`...).
    pub alphanumeric: bool,
    /// The last attempt was wrong: said above the new count of tries left.
    pub previous_wrong: bool,
    /// A new PIN or password is asked again, and why (nothing was sent to the card).
    pub retry: Option<NewValueRetry>,
}

/// Why a new PIN or password is asked for again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewValueRetry {
    /// The confirmation differed from the first entry.
    Mismatch,
    /// The value breaks the rule (password: needs at least one letter and one digit).
    Rule,
}

impl NewValueRetry {
    /// The id the .slint side reads.
    pub const fn id(self) -> &'static str {
        match self {
            NewValueRetry::Mismatch => "mismatch",
            NewValueRetry::Rule => "rule",
        }
    }
}

/// Which credential a PIN reset sets (pin-reset-choose, pin-reset-done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTarget {
    /// The 4-digit user-authentication PIN (利用者証明用電子証明書の暗証番号).
    AuthPin,
    /// The signature password (署名用電子証明書の暗証番号).
    SignPassword,
}

impl ResetTarget {
    /// The id the .slint side reads, as in `reset:<id>`.
    pub const fn id(self) -> &'static str {
        match self {
            ResetTarget::AuthPin => "auth-pin",
            ResetTarget::SignPassword => "sign-password",
        }
    }
}

impl Default for PinPad {
    fn default() -> Self {
        PinPad {
            purpose: PinPurpose::Auth,
            typed: 0,
            min_len: 4,
            max_len: 4,
            tries_left: None,
            alphanumeric: false,
            previous_wrong: false,
            retry: None,
        }
    }
}

impl PinPad {
    /// The 4-digit user-authentication PIN pad with `tries_left` shown.
    pub fn auth(typed: u8, tries_left: Option<u8>) -> PinPad {
        PinPad { typed, tries_left, ..PinPad::default() }
    }

    /// The signature password pad (6 to 16 of A-Z and 0-9).
    pub fn signature(typed: u8, tries_left: Option<u8>) -> PinPad {
        PinPad {
            purpose: PinPurpose::Sign,
            typed,
            min_len: 6,
            max_len: 16,
            tries_left,
            alphanumeric: true,
            previous_wrong: false,
            retry: None,
        }
    }
}

/// A calendar date (no time zone: it is shown as a date only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Year, e.g. 2025.
    pub year: i32,
    /// Month 1-12.
    pub month: u8,
    /// Day 1-31.
    pub day: u8,
}

/// What the certificate-problem screen is about: a notice the resident may go on from
/// (expiring soon), or why the certificate cannot be used. The words for the latter are the
/// failure catalogue's ([`CertificateProblem::failure_code`]), the same as on the failure screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateProblem {
    /// Past its expiry date (`last_day` was the last valid day): renew at city hall.
    Expired(Date),
    /// Expires within 3 months: a notice; the resident may go on (`ok`).
    ExpiringSoon {
        /// The last valid day.
        last_day: Date,
        /// Days from today to `last_day`.
        days_left: u32,
    },
    /// Revoked (lost card reported, card returned).
    Revoked,
    /// Suspended (a loss reported): a card's hold is never lifted (new certificates at city hall);
    /// a found phone is released in the Mynaportal app.
    Suspended,
    /// The PIN is locked after 3 wrong tries.
    PinBlocked,
    /// Issued, or the PIN changed, today: usable from tomorrow.
    NotYetValid,
}

impl CertificateProblem {
    /// The id the .slint side reads.
    pub const fn id(self) -> &'static str {
        match self {
            CertificateProblem::Expired(_) => "expired",
            CertificateProblem::ExpiringSoon { .. } => "expiring-soon",
            CertificateProblem::Revoked => "revoked",
            CertificateProblem::Suspended => "suspended",
            CertificateProblem::PinBlocked => "pin-blocked",
            CertificateProblem::NotYetValid => "not-yet-valid",
        }
    }

    /// The date the notice names (expiry), if any.
    pub const fn date(self) -> Option<Date> {
        match self {
            CertificateProblem::Expired(d) | CertificateProblem::ExpiringSoon { last_day: d, .. } => Some(d),
            _ => None,
        }
    }

    /// The failure catalogue entry that explains it (`None` for the expiring-soon notice).
    pub const fn failure_code(self) -> Option<FailureCode> {
        match self {
            CertificateProblem::Expired(_) => Some(FailureCode::CertificateExpired),
            CertificateProblem::ExpiringSoon { .. } => None,
            CertificateProblem::Revoked => Some(FailureCode::CertificateRevoked),
            CertificateProblem::Suspended => Some(FailureCode::CertificateSuspended),
            CertificateProblem::PinBlocked => Some(FailureCode::PinBlocked),
            CertificateProblem::NotYetValid => Some(FailureCode::CertificateNotYetValid),
        }
    }
}

/// What the resident is about to get (copies, confirm, payment screens).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Order {
    /// The municipality's name, shown as-is.
    pub municipality: String,
    /// The document kind (`juminhyo`...); the UI translates known kinds.
    pub document: String,
    /// Shown when the UI does not know `document`.
    pub document_label: String,
    /// The options chosen (ids as in `option:<id>`).
    pub options: Vec<String>,
    /// The fiscal year of a tax certificate.
    pub year: Option<u16>,
    /// Copies chosen.
    pub copies: u8,
    /// Most copies allowed.
    pub max_copies: u8,
    /// Fee per copy.
    pub fee_per_copy_yen: u32,
    /// Fee for all copies (what must be paid).
    pub total_yen: u32,
}

/// Money on the payment and take-documents screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Payment {
    /// Inserted so far.
    pub inserted_yen: u32,
    /// Change to take (take-documents).
    pub change_yen: u32,
}

/// The failure screen (and a certificate problem that ended the transaction): the catalogue
/// entry, what happened to the money, and a reference to quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The catalogue entry: what happened, what to do.
    pub code: FailureCode,
    /// Whether money was taken and where it is.
    pub money: MoneyState,
    /// A reference the resident can quote (transaction number), shown as-is.
    pub reference: String,
    /// Pages that came out before a printer fault (not valid documents: the screen says so).
    pub pages_printed: u32,
}

/// Why the kiosk is closed or out of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reason {
    /// No reason shown.
    #[default]
    None,
    /// Outside daily hours.
    Hours,
    /// A closed day (29 December to 3 January, and days the operator configured).
    ClosedDay,
    /// Announced maintenance.
    Maintenance,
    /// The printer is being checked.
    Printer,
    /// Out of paper.
    Paper,
    /// Network fault.
    Network,
    /// Cash unit being checked.
    Cash,
    /// The kiosk's clock cannot be trusted (dates on documents and certificates depend on it).
    Clock,
}

impl Reason {
    /// The id the .slint side reads.
    pub const fn id(self) -> &'static str {
        match self {
            Reason::None => "",
            Reason::Hours => "hours",
            Reason::ClosedDay => "closed-day",
            Reason::Maintenance => "maintenance",
            Reason::Printer => "printer",
            Reason::Paper => "paper",
            Reason::Network => "network",
            Reason::Cash => "cash",
            Reason::Clock => "clock",
        }
    }
}

/// Service hours (idle, closed) and the reason for being closed or out of service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    /// Opening time as shown, e.g. "6:30".
    pub opens: String,
    /// Closing time as shown, e.g. "23:00".
    pub closes: String,
    /// Why closed / out of service.
    pub reason: Reason,
    /// Closed from 29 December to 3 January, as the service usually is (said under the hours,
    /// so "every day" is not read as "every day of the year").
    pub year_end_closed: bool,
}

impl Default for Hours {
    fn default() -> Self {
        Hours { opens: "6:30".into(), closes: "23:00".into(), reason: Reason::None, year_end_closed: true }
    }
}

/// Everything a screen shows. Fields a screen does not use are ignored by it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewModel {
    /// Changes whenever the screen changes: touches report it back so a touch on a screen that
    /// has gone is dropped (the UI does not show it).
    pub visit: u64,
    /// Which screen.
    pub screen: Screen,
    /// Which language.
    pub language: Language,
    /// Larger text (about 1.3 times).
    pub large_text: bool,
    /// White and yellow on black.
    pub high_contrast: bool,
    /// The screen's time limit (countdown and "more time"); `None`: no limit shown.
    pub countdown: Option<Countdown>,
    /// Show "back".
    pub can_go_back: bool,
    /// Show "cancel".
    pub can_cancel: bool,
    /// The resident uses a phone (its pictures and "take your phone" wording).
    pub phone: bool,
    /// Services on idle and service-menu (`service:<id>`: `certificates`, `pin-reset`). Empty
    /// on idle: a single `start` button instead.
    pub services: Vec<Choice>,
    /// Progress (reading-card, authenticating, printing).
    pub progress: Progress,
    /// The PIN pad (pin-entry).
    pub pin: PinPad,
    /// certificate-problem.
    pub certificate_problem: Option<CertificateProblem>,
    /// choose-municipality (`municipality:<code>`).
    pub municipalities: Vec<Choice>,
    /// choose-document (`document:<kind>`).
    pub documents: Vec<Choice>,
    /// document-options (`option:<name>`, toggles).
    pub options: Vec<Choice>,
    /// document-options (`year:<YYYY>`).
    pub years: Vec<Choice>,
    /// copies, confirm, payment.
    pub order: Order,
    /// payment, take-documents.
    pub payment: Payment,
    /// failure.
    pub failure: Option<Failure>,
    /// idle, closed, out-of-service.
    pub hours: Hours,
    /// timeout-warning: the screen "more time" goes back to (the warning mentions money on
    /// the payment screen).
    pub resumes: Option<Screen>,
    /// document-options (`person:<id>` toggles; `persons:self`, `persons:household`): the
    /// household members who may appear, name as label, 続柄 as detail, chosen ones selected.
    /// Empty when the document offers no choice of persons.
    pub persons: Vec<Choice>,
    /// choose-document: the municipality's notices (a closed day next week), shown as written.
    pub notices: Vec<String>,
    /// pin-reset-choose (`reset:<id>`: `auth-pin`, `sign-password`); a direction this store
    /// does not offer, or not at this hour, is disabled with note `not-offered` / `hours`.
    pub resets: Vec<Choice>,
    /// The reset under way (place-card, password-entry, new-pin-*, pin-reset-done).
    pub reset_target: Option<ResetTarget>,
}

impl ViewModel {
    /// A view model for `screen` in `language` with everything else empty.
    pub fn new(screen: Screen, language: Language) -> ViewModel {
        ViewModel { screen, language, ..ViewModel::default() }
    }
}
