//! Scenario files: the kiosk's acceptance-test format (`docs/scenarios.md`). A crate of its
//! own so that it can be fuzzed, and read by municipalities' and store chains' tools, without
//! linking the kiosk (the `world` feature adds [`cast`], which reads a demo world).
//!
//! A scenario is a TOML file that plays one resident's visit against the whole kiosk. This module
//! is the format layer only: it reads and checks a file ([`load`], [`parse`]), finds a shipped
//! one by name ([`find`]), resolves its roles against a demo world's `manifest.json` ([`cast`])
//! and fills the placeholders of its texts at run time ([`Template::expand`]). The runner of
//! `madoguchi-lab demo --headless --scenario` executes the steps.
//!
//! Why it is strict: municipalities and store chains write their own scenarios, and a typo that
//! silently does nothing (an unknown key, a misspelt screen id) would make a test pass that
//! tests nothing. So every unknown key is refused with its line, and every value whose
//! vocabulary is known (screens, tags, documents, faults, coins) is checked here, before any
//! device is touched. PINs and passwords are never in a scenario: `{pin}` and friends are
//! expanded only at run time into zeroizing strings, and no `Debug` shows them.
//!
//! The modules, one concern each: [`tree`] (TOML with the line of every key), [`parse`] (the
//! checks), [`template`] (placeholders), [`files`] (finding and reading files), [`cast`] (the
//! roles in a demo world) and [`error`]; the types of a checked scenario are here.
#![forbid(unsafe_code)]

#[cfg(feature = "world")]
mod cast;
mod error;
mod files;
#[doc(hidden)]
pub mod fuzzing;
mod parse;
mod template;
#[cfg(test)]
mod tests;
mod tree;

#[cfg(feature = "world")]
pub use cast::{cast, Cast, Person, PhoneProfiles};
pub use error::{ErrorKind, ScenarioError};
pub use files::{find, load, shipped};
pub use parse::parse;
pub use template::Template;

use madoguchi_api::{DocumentKind, ResetCredential};
use madoguchi_session::view_model::Screen;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
#[cfg(feature = "world")]
use zeroize::Zeroizing;

/// The format version this module reads (`format = 1`, required in every file).
pub const FORMAT: u32 = 1;

/// A step waits this long (real time) for the kiosk to settle unless it says `timeout`.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Larger files are refused before parsing (a scenario is a few kilobytes).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Resident tags of the demo world (`reference/scenarios.md`).
pub const TAGS: [&str; 16] = [
    "adult",
    "household-head",
    "household-member",
    "under-15",
    "foreign-resident",
    "seal-registered",
    "koseki-elsewhere",
    "certs-expired",
    "certs-expiring-soon",
    "sign-revoked",
    "pin-blocked",
    "phone-android",
    "phone-iphone",
    "phone-suspended",
    "variant-kanji-name",
    "moved-abroad",
];

/// Prefixes of screen ids that later flows define.
const SCREEN_PREFIXES: [&str; 2] = ["pin-reset-", "operator-"];

/// Coins and notes of the yen.
pub const YEN: [u32; 8] = [10, 50, 100, 500, 1000, 2000, 5000, 10000];

/// Lamps `expect_lamp` may name (the chime has `expect_chime`).
pub const LAMPS: [&str; 2] = ["card-slot", "status"];

/// Backend outcomes per issuance.
pub const OUTCOMES: [&str; 3] = ["printed", "failed", "voided"];

const ACTIONS: [&str; 17] = [
    "place_card",
    "remove_card",
    "touch",
    "type",
    "insert_yen",
    "printer",
    "backend",
    "advance",
    "expect_screen",
    "expect_text",
    "expect_tries_left",
    "expect_lamp",
    "expect_chime",
    "expect_failure",
    "reserve_pin_reset",
    "operator_key",
    "door",
];

/// Keys that qualify a step's action rather than being one.
const STEP_MODIFIERS: [&str; 2] = ["timeout", "reserved_hours_ago"];

/// `reserved_hours_ago` at most: the backend takes reservations dated back up to 30 days.
pub const MAX_RESERVED_HOURS_AGO: u32 = 30 * 24;

const TOP_KEYS: [&str; 9] =
    ["format", "name", "description", "resident", "other", "member", "start_at", "step", "expect"];
const EXPECT_KEYS: [&str; 10] = [
    "printed",
    "charged_yen",
    "refunded_yen",
    "net_yen",
    "backend_outcomes",
    "tries_left",
    "sign_tries_left",
    "pin",
    "password",
    "ends_at",
];
const PRINTED_KEYS: [&str; 4] = ["document", "pages", "contains", "not_contains"];
const PLACE_CARD_KEYS: [&str; 3] = ["who", "reader", "token"];

// ---------------------------------------------------------------------------------------------
// The scenario

/// One scenario file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `name`, or the file's stem when the file gives none.
    pub name: String,
    /// What the scenario shows, for people (may be empty).
    pub description: String,
    pub resident: Who,
    /// A second person, never the resident nor of the resident's household (e.g. to check that
    /// their name is on no paper).
    pub other: Option<Who>,
    /// Someone of the resident's household, never the resident (e.g. the second name on a
    /// household 住民票).
    pub member: Option<Who>,
    /// The kiosk's wall clock at the start (`start_at`, RFC 3339; an addition to the shared
    /// format, so that out-of-hours visits can be written). `None`: the runner's default, a time
    /// when the kiosk is open.
    pub start_at: Option<OffsetDateTime>,
    pub steps: Vec<Step>,
    pub expect: Expect,
    /// The file it came from (error messages name it).
    pub source: PathBuf,
    lines: RoleLines,
}

/// Where `resident`, `other` and `member` are written, for errors found when casting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct RoleLines {
    resident: usize,
    other: usize,
    member: usize,
}

/// Which of the optional roles a file names: placeholders and `who` may use only those.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Named {
    pub other: bool,
    pub member: bool,
}

impl Named {
    pub(crate) fn has(self, role: Role) -> bool {
        match role {
            Role::Resident => true,
            Role::Other => self.other,
            Role::Member => self.member,
        }
    }
}

/// A person of the demo world, by id or by tags (first match in manifest order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Id(String),
    /// Every one of these tags, and none of those marked `!`
    /// (`"tag:variant-kanji-name+!pin-blocked+!certs-expired"`).
    Tags(Vec<String>),
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Who::Id(id) => f.write_str(id),
            Who::Tags(tags) => write!(f, "tag:{}", tags.join("+")),
        }
    }
}

/// One `[[step]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The line of the step's action key (results and errors name it).
    pub line: usize,
    /// How long (real time) to wait for the kiosk to settle after the action.
    pub timeout: Duration,
    pub action: StepAction,
}

/// What a step does or checks.
#[derive(Debug, Clone, PartialEq)]
pub enum StepAction {
    /// That person's card (or phone) goes onto a reader.
    PlaceCard {
        who: Role,
        reader: ReaderKind,
        token: Token,
    },
    /// The card or phone leaves the reader.
    RemoveCard,
    /// Touch the visible, enabled control with this action id (passed through unchecked: the UI
    /// knows its controls, and later flows add ids). Ids may name people (`person:{member.id}`).
    Touch(Template),
    /// Touch the keypad keys for each character (digits, A–Z) of the expanded text.
    Type(Template),
    InsertYen(Insert),
    Printer(PrinterFault),
    Backend(BackendFault),
    /// Advance the kiosk's clocks (timeouts fire as they would).
    Advance(Duration),
    ExpectScreen(String),
    /// Some visible text contains this (expanded) text.
    ExpectText(Template),
    ExpectTriesLeft(u8),
    /// This lamp is on (lit or blinking): `card-slot` or `status`.
    ExpectLamp(String),
    /// The chime sounds (`true`) or is silent (`false`).
    ExpectChime(bool),
    /// The failure shown (on `failure` or `certificate-problem`) has this code (a
    /// [`FailureCode`](madoguchi_session::FailureCode) id, e.g. `reset-not-reserved`):
    /// language-independent, unlike `expect_text`.
    ExpectFailure(String),
    /// The resident reserves a PIN reset of this credential, as the phone app would, through the
    /// backend's CLI; `hours_ago` dates the reservation back (25: older than its 24 hours).
    ReservePinReset {
        credential: ResetCredential,
        hours_ago: u32,
    },
    /// The store operator turns the operator key on (`true`) or off.
    OperatorKey(bool),
    /// The kiosk's door is opened (`true`) or shut; opened without the key, it is tampering.
    Door {
        open: bool,
    },
}

/// A person a scenario plays with: whose card a step places, whom a placeholder names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Resident,
    /// Of another household.
    Other,
    /// Of the resident's household.
    Member,
}

impl Role {
    /// The key naming the role at the top of a file, and its placeholders' prefix.
    pub const fn key(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Other => "other",
            Role::Member => "member",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderKind {
    Contact,
    Contactless,
}

/// What is placed: the card, or the phone carrying the certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Card,
    Android,
    Iphone,
}

impl Token {
    pub const fn id(self) -> &'static str {
        match self {
            Token::Card => "card",
            Token::Android => "android",
            Token::Iphone => "iphone",
        }
    }
}

/// `insert_yen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insert {
    /// Coins making exactly the fee shown.
    Exact,
    /// These coins and notes, in order (each one of [`YEN`]).
    Coins(Vec<u32>),
}

/// `printer = "KIND[@WHERE]"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterFault {
    pub kind: PrinterFaultKind,
    pub at: FaultAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterFaultKind {
    Jam,
    PaperOut,
    CoverOpen,
    /// The printer disappears from its port.
    Vanish,
    /// The printer takes data at a trickle (a job creeps along, status queries go unanswered)
    /// until `clear`.
    Slow,
    /// Every fault is cleared (paper refilled, jam removed, cover closed, port back).
    Clear,
}

impl PrinterFaultKind {
    pub const fn id(self) -> &'static str {
        match self {
            PrinterFaultKind::Jam => "jam",
            PrinterFaultKind::PaperOut => "paper-out",
            PrinterFaultKind::CoverOpen => "cover-open",
            PrinterFaultKind::Vanish => "vanish",
            PrinterFaultKind::Slow => "slow",
            PrinterFaultKind::Clear => "clear",
        }
    }
}

/// When a printer fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAt {
    /// At once.
    Now,
    /// At this page (1-based) of the next job.
    Page(u32),
    /// At the last page of the next job.
    PageLast,
    /// During the next job's data.
    Job,
}

/// The scenario's own spelling (`jam@page=1`), which the printer simulator's control also reads.
impl fmt::Display for PrinterFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.id())?;
        match self.at {
            FaultAt::Now => Ok(()),
            FaultAt::Page(n) => write!(f, "@page={n}"),
            FaultAt::PageLast => f.write_str("@page=last"),
            FaultAt::Job => f.write_str("@job"),
        }
    }
}

/// `backend = "..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendFault {
    /// Unreachable from now on.
    Down,
    /// Reachable again, at normal speed.
    Up,
    /// Every answer delayed by this much (real time) from now on.
    Slow(Duration),
    /// The next request gets this error code (`backend/README.md`).
    Reject(String),
}

/// The scenario's own spelling (`slow:3s`).
impl fmt::Display for BackendFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendFault::Down => f.write_str("down"),
            BackendFault::Up => f.write_str("up"),
            BackendFault::Slow(d) if d.subsec_millis() == 0 => write!(f, "slow:{}s", d.as_secs()),
            BackendFault::Slow(d) => write!(f, "slow:{}ms", d.as_millis()),
            BackendFault::Reject(code) => write!(f, "reject:{code}"),
        }
    }
}

/// `[expect]`: checked once the last step has settled. Absent keys are not checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expect {
    /// What came out of the printer, in order, one entry per copy; `Some(vec![])`: nothing.
    pub printed: Option<Vec<PrintedExpect>>,
    /// What the resident paid towards fees: money taken in minus change given back.
    pub charged_yen: Option<Amount>,
    /// What was given back as a refund (not change).
    pub refunded_yen: Option<Amount>,
    /// Charged minus refunded.
    pub net_yen: Option<i64>,
    /// Per issuance, in order: `printed`, `failed` or `voided`.
    pub backend_outcomes: Option<Vec<String>>,
    /// The user-authentication PIN counter on the card afterwards.
    pub tries_left: Option<u8>,
    /// The signature password's counter on the card afterwards (0–5).
    pub sign_tries_left: Option<u8>,
    /// The resident's card VERIFYs this user-authentication PIN afterwards (`9000`): `{pin}`
    /// (the value of the world) or a new PIN the scenario set.
    pub pin: Option<Secret>,
    /// The same for the signature password: `{password}` or a new one.
    pub password: Option<Secret>,
    /// The screen at the end, reached only after every card was removed.
    pub ends_at: Option<String>,
}

/// A PIN or password an `[expect]` checks on the card: the resident's value of the world
/// (`{pin}`, `{password}`), or a literal the scenario chose as the new value. A literal is test
/// material, but the runner treats it as a secret all the same (never logged, scanned for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// Where it is written (results name it).
    pub line: usize,
    pub value: Template,
}

/// A sum of money in `[expect]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// The fee the backend offered for the chosen document, times the copies.
    Offered,
    Yen(u32),
}

/// One document that came out of the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedExpect {
    /// Where it is written (results name it).
    pub line: usize,
    /// A document kind's id ([`DocumentKind::id`]).
    pub document: String,
    pub pages: Option<u32>,
    /// Texts the document's text must contain.
    pub contains: Vec<Template>,
    /// Texts it must not contain.
    pub not_contains: Vec<Template>,
}
