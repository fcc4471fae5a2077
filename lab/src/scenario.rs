//! Scenario files: the kiosk's acceptance-test format (`docs/scenarios.md`).
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

use madoguchi_session::view_model::Screen;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
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

/// Document kinds (the `document:<kind>` action ids and `printed` entries).
pub const DOCUMENTS: [&str; 7] = ["juminhyo", "kisaijiko", "inkan", "kazei", "koseki-zenbu", "koseki-kojin", "fuhyo"];

/// Coins and notes of the yen.
pub const YEN: [u32; 8] = [10, 50, 100, 500, 1000, 2000, 5000, 10000];

/// Lamps `expect_lamp` may name (the chime has `expect_chime`).
pub const LAMPS: [&str; 2] = ["card-slot", "status"];

/// Backend outcomes per issuance.
pub const OUTCOMES: [&str; 3] = ["printed", "failed", "voided"];

const ACTIONS: [&str; 13] = [
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
];

const TOP_KEYS: [&str; 8] = ["format", "name", "description", "resident", "other", "start_at", "step", "expect"];
const EXPECT_KEYS: [&str; 7] =
    ["printed", "charged_yen", "refunded_yen", "net_yen", "backend_outcomes", "tries_left", "ends_at"];
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

/// Where `resident` and `other` are written, for errors found when casting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct RoleLines {
    resident: usize,
    other: usize,
}

/// A person of the demo world, by id or by tags (first match in manifest order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Id(String),
    /// Every one of these tags (`"tag:adult+household-head"`).
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
    /// knows its controls, and later flows add ids).
    Touch(String),
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
}

/// Whose card a step places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Resident,
    Other,
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
    /// The screen at the end, reached only after every card was removed.
    pub ends_at: Option<String>,
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
    /// A document kind of [`DOCUMENTS`].
    pub document: String,
    pub pages: Option<u32>,
    /// Texts the document's text must contain.
    pub contains: Vec<Template>,
    /// Texts it must not contain.
    pub not_contains: Vec<Template>,
}

// ---------------------------------------------------------------------------------------------
// Templates

/// A text with placeholders (`{pin}`, `{name}`, `{other.name}` …; `{{` and `}}` for braces).
/// It holds the text as written; secrets appear only in what [`Template::expand`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

/// A field a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Name,
    Kana,
    Pin,
    Password,
    PhonePin,
    PhonePassword,
}

impl Field {
    const ALL: [(&'static str, Field); 7] = [
        ("id", Field::Id),
        ("name", Field::Name),
        ("kana", Field::Kana),
        ("pin", Field::Pin),
        ("password", Field::Password),
        ("phone.pin", Field::PhonePin),
        ("phone.password", Field::PhonePassword),
    ];

    fn secret(self) -> bool {
        matches!(self, Field::Pin | Field::Password | Field::PhonePin | Field::PhonePassword)
    }
}

enum Piece<'a> {
    Text(&'a str),
    Field(Role, Field),
}

/// Splits a template into text and placeholders, or says what is wrong with it.
fn pieces(raw: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let Some(i) = rest.find(['{', '}']) else {
            out.push(Piece::Text(rest));
            break;
        };
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push(Piece::Text(&tail[..1]));
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err("a lone `}` (write `}}` for a brace)".into());
        }
        let Some(end) = tail.find('}') else {
            return Err("a `{` without its `}` (write `{{` for a brace)".into());
        };
        let name = &tail[1..end];
        let (role, field_name) = match name.strip_prefix("other.") {
            Some(f) => (Role::Other, f),
            None => (Role::Resident, name),
        };
        let Some(&(_, field)) = Field::ALL.iter().find(|(n, _)| *n == field_name) else {
            let known: Vec<String> = Field::ALL.iter().map(|(n, _)| format!("{{{n}}}")).collect();
            return Err(format!(
                "no placeholder `{{{name}}}` (there are {} and `{{other.…}}` of each)",
                known.join(" ")
            ));
        };
        out.push(Piece::Field(role, field));
        rest = &tail[end + 1..];
    }
    Ok(out)
}

impl Template {
    /// Checks the placeholders of `raw`.
    pub fn new(raw: &str) -> Result<Template, ScenarioError> {
        pieces(raw).map_err(|m| ScenarioError::new(ErrorKind::Invalid, m))?;
        Ok(Template(raw.to_string()))
    }

    /// The text as written, placeholders unexpanded (safe to show and log).
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// Whether a placeholder names the other person.
    pub fn uses_other(&self) -> bool {
        self.fields().iter().any(|(r, _)| *r == Role::Other)
    }

    fn fields(&self) -> Vec<(Role, Field)> {
        pieces(&self.0)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| match p {
                Piece::Field(r, f) => Some((r, f)),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// The text with each placeholder filled from `cast`. The result wipes itself when dropped,
    /// and it is built in one allocation so no partial copy of a PIN is left behind.
    pub fn expand(&self, cast: &Cast) -> Result<Zeroizing<String>, ScenarioError> {
        let parts = pieces(&self.0).map_err(|m| ScenarioError::new(ErrorKind::Invalid, m))?;
        let mut values: Vec<&str> = Vec::with_capacity(parts.len());
        for p in &parts {
            values.push(match p {
                Piece::Text(t) => t,
                Piece::Field(role, field) => cast.value(*role, *field)?,
            });
        }
        let mut out = Zeroizing::new(String::with_capacity(values.iter().map(|v| v.len()).sum()));
        for v in values {
            out.push_str(v);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// What went wrong, for a caller that acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// Not TOML.
    Syntax,
    /// TOML, but not a valid scenario (unknown key, bad value, missing key).
    Invalid,
    /// No scenario of that name or path.
    NotFound,
    /// The demo world does not have what the scenario asks for (or its manifest is unreadable).
    World,
}

/// An error with the place it was found: `FILE:LINE: key `x`: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub kind: ErrorKind,
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl ScenarioError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> ScenarioError {
        ScenarioError { kind, file: None, line: None, key: None, message: message.into() }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    fn in_file(mut self, file: &Path) -> ScenarioError {
        self.file.get_or_insert_with(|| file.to_path_buf());
        self
    }

    fn at(mut self, line: usize, key: &str) -> ScenarioError {
        self.line.get_or_insert(line);
        if self.key.is_none() && !key.is_empty() {
            self.key = Some(key.to_string());
        }
        self
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lead = false;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            lead = true;
        }
        if let Some(line) = self.line {
            write!(f, "{}{line}", if lead { ":" } else { "line " })?;
            lead = true;
        }
        if lead {
            f.write_str(": ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

// ---------------------------------------------------------------------------------------------
// Loading and finding

/// Reads and checks one scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let io = |e: std::io::Error| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound { ErrorKind::NotFound } else { ErrorKind::Io };
        ScenarioError::new(kind, format!("cannot read: {e}")).in_file(path)
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(
            ScenarioError::new(ErrorKind::Invalid, format!("{size} bytes: a scenario is at most 1 MiB")).in_file(path)
        );
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse(&text, path)
}

/// NAME (the file `NAME.toml` in `shipped_dir`, the shipped scenarios' directory) or a path to a
/// file (anything with a `/` or ending in `.toml`).
pub fn find(name_or_file: &str, shipped_dir: &Path) -> Result<PathBuf, ScenarioError> {
    let as_path = Path::new(name_or_file);
    if name_or_file.contains(std::path::MAIN_SEPARATOR) || name_or_file.contains('/') || name_or_file.ends_with(".toml")
    {
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        return Err(ScenarioError::new(ErrorKind::NotFound, "no such scenario file").in_file(as_path));
    }
    let valid = !name_or_file.is_empty()
        && name_or_file.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(ScenarioError::new(
            ErrorKind::NotFound,
            format!("`{name_or_file}` is neither a scenario name (a-z, 0-9, -) nor a .toml file"),
        ));
    }
    let path = shipped_dir.join(format!("{name_or_file}.toml"));
    if path.is_file() {
        return Ok(path);
    }
    let names = shipped(shipped_dir).unwrap_or_default();
    let names: Vec<String> =
        names.iter().filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned())).collect();
    Err(ScenarioError::new(
        ErrorKind::NotFound,
        format!("no scenario `{name_or_file}` in {} (there are: {})", shipped_dir.display(), names.join(", ")),
    ))
}

/// Every `*.toml` in `shipped_dir`, sorted by name.
pub fn shipped(shipped_dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let rd = std::fs::read_dir(shipped_dir)
        .map_err(|e| ScenarioError::new(ErrorKind::Io, format!("cannot list: {e}")).in_file(shipped_dir))?;
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    out.sort();
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// TOML as a tree with the position of every key

/// A TOML value; tables keep their keys in file order with their byte offsets.
#[derive(Debug, Clone)]
enum Node {
    Str(String),
    Int(i64),
    Float,
    Bool(bool),
    Array(Vec<Node>),
    Table(Vec<Entry>),
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    offset: usize,
    value: Node,
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Str(_) => "a string",
            Node::Int(_) => "an integer",
            Node::Float => "a float",
            Node::Bool(_) => "a boolean",
            Node::Array(_) => "an array",
            Node::Table(_) => "a table",
        }
    }
}

const DATETIME_HINT: &str =
    "a TOML date-time: write it as a quoted string, e.g. start_at = \"2026-11-24T23:30:00+09:00\"";

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v).map(Node::Int).map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Float)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        // Keys of tables carry their span; the only map whose key does not is toml's private
        // encoding of a date-time, which a scenario writes as a string instead.
        while let Some(key) = map.next_key::<toml::Spanned<String>>().map_err(|_| de::Error::custom(DATETIME_HINT))? {
            let value = map.next_value()?;
            let offset = key.span().start;
            entries.push(Entry { key: key.into_inner(), offset, value });
        }
        Ok(Node::Table(entries))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// The text being parsed, for turning offsets into lines.
struct Src<'a> {
    text: &'a str,
    /// Lines of `[[step]]` headers, in order.
    step_headers: Vec<usize>,
}

impl Src<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }
}

fn step_headers(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let compact: String = l.chars().take_while(|c| *c != '#').filter(|c| !c.is_whitespace()).collect();
            compact == "[[step]]"
        })
        .map(|(i, _)| i + 1)
        .collect()
}

fn invalid(line: usize, key: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError::new(ErrorKind::Invalid, message).at(line, key)
}

fn unknown_key(line: usize, key: &str, known: &[&str]) -> ScenarioError {
    invalid(line, key, format!("unknown key (known here: {})", known.join(", ")))
}

fn expected(line: usize, key: &str, what: &str, found: &Node) -> ScenarioError {
    invalid(line, key, format!("expected {what}, found {}", found.kind()))
}

fn string<'a>(v: &'a Node, line: usize, key: &str) -> Result<&'a str, ScenarioError> {
    match v {
        Node::Str(s) => Ok(s),
        other => Err(expected(line, key, "a string", other)),
    }
}

fn integer(v: &Node, line: usize, key: &str) -> Result<i64, ScenarioError> {
    match v {
        Node::Int(i) => Ok(*i),
        other => Err(expected(line, key, "an integer", other)),
    }
}

fn boolean(v: &Node, line: usize, key: &str) -> Result<bool, ScenarioError> {
    match v {
        Node::Bool(b) => Ok(*b),
        other => Err(expected(line, key, "true or false", other)),
    }
}

fn ranged<T: TryFrom<i64>>(v: &Node, line: usize, key: &str, lo: i64, hi: i64) -> Result<T, ScenarioError> {
    let i = integer(v, line, key)?;
    if i < lo || i > hi {
        return Err(invalid(line, key, format!("{i} is outside {lo}..={hi}")));
    }
    T::try_from(i).map_err(|_| invalid(line, key, format!("{i} is out of range")))
}

fn duration(v: &Node, line: usize, key: &str) -> Result<Duration, ScenarioError> {
    let s = string(v, line, key)?;
    match madoguchi_firmware::config::parse_duration(s) {
        Some(d) if !d.is_zero() => Ok(d),
        Some(_) => Err(invalid(line, key, "a duration must be longer than 0")),
        None => Err(invalid(line, key, format!("{s:?} is not a duration (write e.g. \"130s\", \"2m\", \"500ms\")"))),
    }
}

fn template(v: &Node, line: usize, key: &str, has_other: bool) -> Result<Template, ScenarioError> {
    let s = string(v, line, key)?;
    let t = Template::new(s).map_err(|e| e.at(line, key))?;
    if t.uses_other() && !has_other {
        return Err(invalid(line, key, "`{other.…}` needs an `other = \"…\"` at the top of the file"));
    }
    Ok(t)
}

fn screen_id(v: &Node, line: usize, key: &str) -> Result<String, ScenarioError> {
    let s = string(v, line, key)?;
    let later = SCREEN_PREFIXES.iter().any(|p| s.len() > p.len() && s.starts_with(p));
    // The screen ids a scenario may name are the view model's one list; later flows add
    // `pin-reset-*` and `operator-*` screens.
    if Screen::from_id(s).is_some() || later {
        Ok(s.to_string())
    } else {
        Err(invalid(line, key, format!("no screen `{s}` (screens: {})", Screen::ALL.map(Screen::id).join(", "))))
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Checks a scenario's text; `source` names the file in errors and in [`Scenario::source`].
pub fn parse(text: &str, source: &Path) -> Result<Scenario, ScenarioError> {
    let src = Src { text, step_headers: step_headers(text) };
    let root = toml::from_str::<Node>(text).map_err(|e| {
        let mut err = ScenarioError::new(ErrorKind::Syntax, e.message().trim().replace('\n', "; "));
        err.line = e.span().map(|s| src.line(s.start));
        err.in_file(source)
    })?;
    let Node::Table(entries) = root else {
        return Err(ScenarioError::new(ErrorKind::Syntax, "not a TOML document").in_file(source));
    };
    build(&entries, &src, source).map_err(|e| e.in_file(source))
}

fn build(entries: &[Entry], src: &Src<'_>, source: &Path) -> Result<Scenario, ScenarioError> {
    // The version first: a file of another version may well have keys this one does not know.
    match entries.iter().find(|e| e.key == "format") {
        None => return Err(invalid(1, "format", format!("missing: every scenario starts with `format = {FORMAT}`"))),
        Some(e) => {
            let line = src.line(e.offset);
            let v = integer(&e.value, line, "format")?;
            if v != i64::from(FORMAT) {
                return Err(invalid(
                    line,
                    "format",
                    format!("format {v} is not understood here (this is format {FORMAT})"),
                ));
            }
        }
    }
    let mut name = None;
    let mut description = String::new();
    let mut resident = None;
    let mut other = None;
    let mut start_at = None;
    let mut step_entry = None;
    let mut expect_entry = None;
    let mut lines = RoleLines::default();
    for e in entries {
        let line = src.line(e.offset);
        let key = e.key.as_str();
        match key {
            "format" => {}
            "name" => {
                let s = string(&e.value, line, key)?;
                if s.trim().is_empty() {
                    return Err(invalid(line, key, "empty"));
                }
                name = Some(s.to_string());
            }
            "description" => description = string(&e.value, line, key)?.to_string(),
            "resident" => {
                resident = Some(who(string(&e.value, line, key)?, line, key)?);
                lines.resident = line;
            }
            "other" => {
                other = Some(who(string(&e.value, line, key)?, line, key)?);
                lines.other = line;
            }
            "start_at" => start_at = Some(start(string(&e.value, line, key)?, line, key)?),
            "step" => step_entry = Some(e),
            "expect" => expect_entry = Some(e),
            _ => return Err(unknown_key(line, key, &TOP_KEYS)),
        }
    }
    let Some(resident) = resident else {
        return Err(invalid(
            1,
            "resident",
            "missing: name the resident, e.g. `resident = \"tag:adult+household-head\"` or `resident = \"R0001\"`",
        ));
    };
    let has_other = other.is_some();
    let Some(step_entry) = step_entry else {
        return Err(invalid(1, "step", "no [[step]]: a scenario does something"));
    };
    let steps = steps(step_entry, src, has_other)?;
    let expect = match expect_entry {
        Some(e) => expect(e, src, has_other)?,
        None => Expect::default(),
    };
    let name = name
        .or_else(|| source.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "scenario".into());
    Ok(Scenario { name, description, resident, other, start_at, steps, expect, source: source.to_path_buf(), lines })
}

fn who(s: &str, line: usize, key: &str) -> Result<Who, ScenarioError> {
    if let Some(tags) = s.strip_prefix("tag:") {
        let mut out: Vec<String> = Vec::new();
        for t in tags.split('+').map(str::trim) {
            if !TAGS.contains(&t) {
                return Err(invalid(line, key, format!("no tag `{t}` (tags: {})", TAGS.join(", "))));
            }
            if !out.iter().any(|o| o == t) {
                out.push(t.to_string());
            }
        }
        return Ok(Who::Tags(out));
    }
    let id_ok = !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(invalid(line, key, format!("{s:?} is neither a resident id (e.g. \"R0003\") nor \"tag:…\"")));
    }
    Ok(Who::Id(s.to_string()))
}

fn start(s: &str, line: usize, key: &str) -> Result<OffsetDateTime, ScenarioError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        invalid(line, key, format!("{s:?} is not an RFC 3339 date and time (e.g. \"2026-11-24T23:30:00+09:00\")"))
    })
}

fn steps(entry: &Entry, src: &Src<'_>, has_other: bool) -> Result<Vec<Step>, ScenarioError> {
    let key_line = src.line(entry.offset);
    let Node::Array(items) = &entry.value else {
        return Err(expected(key_line, "step", "[[step]] tables", &entry.value));
    };
    if items.is_empty() {
        return Err(invalid(key_line, "step", "no steps"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Node::Table(fields) = item else {
            return Err(expected(key_line, "step", "a table", item));
        };
        let header = src.step_headers.get(i).copied().unwrap_or(key_line);
        out.push(step(fields, header, src, has_other)?);
    }
    Ok(out)
}

fn step(fields: &[Entry], header: usize, src: &Src<'_>, has_other: bool) -> Result<Step, ScenarioError> {
    let mut timeout = None;
    let mut action: Option<(usize, &str, StepAction)> = None;
    for f in fields {
        let line = src.line(f.offset);
        let name = f.key.as_str();
        let key = format!("step.{name}");
        if name == "timeout" {
            timeout = Some(duration(&f.value, line, &key)?);
            continue;
        }
        if !ACTIONS.contains(&name) {
            let mut known = ACTIONS.to_vec();
            known.push("timeout");
            return Err(unknown_key(line, &key, &known));
        }
        if let Some((first_line, first, _)) = &action {
            return Err(invalid(
                line,
                &key,
                format!("one action per [[step]]: this one already has `{first}` (line {first_line})"),
            ));
        }
        action = Some((line, name, step_action(name, &f.value, line, &key, src, has_other)?));
    }
    let Some((line, _, action)) = action else {
        return Err(invalid(header, "step", format!("a [[step]] needs one action: {}", ACTIONS.join(", "))));
    };
    Ok(Step { line, timeout: timeout.unwrap_or(DEFAULT_STEP_TIMEOUT), action })
}

fn step_action(
    name: &str,
    v: &Node,
    line: usize,
    key: &str,
    src: &Src<'_>,
    has_other: bool,
) -> Result<StepAction, ScenarioError> {
    Ok(match name {
        "place_card" => place_card(v, line, key, src, has_other)?,
        "remove_card" => {
            if !boolean(v, line, key)? {
                return Err(invalid(line, key, "write `remove_card = true` (or leave the step out)"));
            }
            StepAction::RemoveCard
        }
        "touch" => {
            let s = string(v, line, key)?;
            if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(line, key, format!("{s:?} is not an action id (e.g. \"document:juminhyo\")")));
            }
            StepAction::Touch(s.to_string())
        }
        "type" => {
            let t = template(v, line, key, has_other)?;
            for p in pieces(t.raw()).unwrap_or_default() {
                match p {
                    Piece::Text(text) => {
                        if let Some(c) = text.chars().find(|c| !(c.is_ascii_digit() || c.is_ascii_uppercase())) {
                            return Err(invalid(line, key, format!("{c:?} is not on the keypad (digits and A–Z)")));
                        }
                    }
                    Piece::Field(_, f) if !f.secret() => {
                        return Err(invalid(line, key, "only PINs and passwords are typed on the keypad"));
                    }
                    Piece::Field(..) => {}
                }
            }
            if t.raw().is_empty() {
                return Err(invalid(line, key, "nothing to type"));
            }
            StepAction::Type(t)
        }
        "insert_yen" => StepAction::InsertYen(insert(v, line, key)?),
        "printer" => StepAction::Printer(printer(string(v, line, key)?, line, key)?),
        "backend" => StepAction::Backend(backend(string(v, line, key)?, line, key)?),
        "advance" => StepAction::Advance(duration(v, line, key)?),
        "expect_screen" => StepAction::ExpectScreen(screen_id(v, line, key)?),
        "expect_text" => {
            let t = template(v, line, key, has_other)?;
            if t.raw().trim().is_empty() {
                return Err(invalid(line, key, "empty text matches anything"));
            }
            StepAction::ExpectText(t)
        }
        "expect_tries_left" => StepAction::ExpectTriesLeft(ranged(v, line, key, 0, 5)?),
        "expect_lamp" => {
            let s = string(v, line, key)?;
            if !LAMPS.contains(&s) {
                return Err(invalid(line, key, format!("no lamp `{s}` (lamps: {})", LAMPS.join(", "))));
            }
            StepAction::ExpectLamp(s.to_string())
        }
        "expect_chime" => StepAction::ExpectChime(boolean(v, line, key)?),
        _ => return Err(invalid(line, key, "unknown action")),
    })
}

fn place_card(v: &Node, line: usize, key: &str, src: &Src<'_>, has_other: bool) -> Result<StepAction, ScenarioError> {
    let Node::Table(fields) = v else {
        return Err(expected(line, key, "a table, e.g. { reader = \"contactless\" }", v));
    };
    let (mut who, mut reader, mut token) = (Role::Resident, ReaderKind::Contactless, Token::Card);
    let mut reader_line = line;
    for f in fields {
        let l = src.line(f.offset);
        let k = format!("{key}.{}", f.key);
        let s = || string(&f.value, l, &k);
        match f.key.as_str() {
            "who" => {
                who = match s()? {
                    "resident" => Role::Resident,
                    "other" if has_other => Role::Other,
                    "other" => return Err(invalid(l, &k, "`other` needs an `other = \"…\"` at the top of the file")),
                    x => return Err(invalid(l, &k, format!("{x:?}: `resident` or `other`"))),
                }
            }
            "reader" => {
                reader_line = l;
                reader = match s()? {
                    "contact" => ReaderKind::Contact,
                    "contactless" => ReaderKind::Contactless,
                    x => return Err(invalid(l, &k, format!("{x:?}: `contact` or `contactless`"))),
                }
            }
            "token" => {
                token = match s()? {
                    "card" => Token::Card,
                    "android" => Token::Android,
                    "iphone" => Token::Iphone,
                    x => return Err(invalid(l, &k, format!("{x:?}: `card`, `android` or `iphone`"))),
                }
            }
            _ => return Err(unknown_key(l, &k, &PLACE_CARD_KEYS)),
        }
    }
    if token != Token::Card && reader == ReaderKind::Contact {
        return Err(invalid(reader_line, &format!("{key}.reader"), "a phone is read only by the contactless reader"));
    }
    Ok(StepAction::PlaceCard { who, reader, token })
}

fn insert(v: &Node, line: usize, key: &str) -> Result<Insert, ScenarioError> {
    match v {
        Node::Str(s) if s == "exact" => Ok(Insert::Exact),
        Node::Str(s) => Err(invalid(line, key, format!("{s:?}: write \"exact\" or a list of coins, e.g. [100, 100]"))),
        Node::Array(items) => {
            if items.is_empty() || items.len() > 100 {
                return Err(invalid(line, key, "between 1 and 100 coins or notes"));
            }
            let mut coins = Vec::with_capacity(items.len());
            for item in items {
                let yen = integer(item, line, key)?;
                match YEN.iter().find(|&&y| i64::from(y) == yen) {
                    Some(&y) => coins.push(y),
                    None => {
                        let list: Vec<String> = YEN.iter().map(u32::to_string).collect();
                        return Err(invalid(line, key, format!("{yen} yen is no coin or note ({})", list.join(", "))));
                    }
                }
            }
            Ok(Insert::Coins(coins))
        }
        other => Err(expected(line, key, "\"exact\" or a list of coins", other)),
    }
}

fn printer(s: &str, line: usize, key: &str) -> Result<PrinterFault, ScenarioError> {
    let (kind, at) = s.split_once('@').map_or((s, None), |(k, a)| (k, Some(a)));
    let kind = match kind {
        "jam" => PrinterFaultKind::Jam,
        "paper-out" => PrinterFaultKind::PaperOut,
        "cover-open" => PrinterFaultKind::CoverOpen,
        "vanish" => PrinterFaultKind::Vanish,
        "clear" => PrinterFaultKind::Clear,
        _ => {
            return Err(invalid(
                line,
                key,
                format!("no printer fault `{kind}` (jam, paper-out, cover-open, vanish, clear)"),
            ))
        }
    };
    let at = match at {
        None => FaultAt::Now,
        Some("job") => FaultAt::Job,
        Some("page=last") => FaultAt::PageLast,
        Some(a) => match a.strip_prefix("page=").and_then(|n| n.parse::<u32>().ok()) {
            Some(n) if n >= 1 => FaultAt::Page(n),
            _ => return Err(invalid(line, key, format!("`@{a}`: write @page=N (from 1), @page=last or @job"))),
        },
    };
    if kind == PrinterFaultKind::Clear && at != FaultAt::Now {
        return Err(invalid(line, key, "`clear` acts at once"));
    }
    Ok(PrinterFault { kind, at })
}

fn backend(s: &str, line: usize, key: &str) -> Result<BackendFault, ScenarioError> {
    match s {
        "down" => return Ok(BackendFault::Down),
        "up" => return Ok(BackendFault::Up),
        _ => {}
    }
    if let Some(d) = s.strip_prefix("slow:") {
        return duration(&Node::Str(d.to_string()), line, key).map(BackendFault::Slow);
    }
    if let Some(code) = s.strip_prefix("reject:") {
        let ok = !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(invalid(line, key, format!("{code:?} is not an error code (e.g. reject:session_expired)")));
        }
        return Ok(BackendFault::Reject(code.to_string()));
    }
    Err(invalid(line, key, format!("no backend fault `{s}` (down, up, slow:DURATION, reject:CODE)")))
}

fn expect(entry: &Entry, src: &Src<'_>, has_other: bool) -> Result<Expect, ScenarioError> {
    let table_line = src.line(entry.offset);
    let Node::Table(fields) = &entry.value else {
        return Err(expected(table_line, "expect", "a table ([expect])", &entry.value));
    };
    let mut out = Expect::default();
    let mut net_line = table_line;
    for f in fields {
        let line = src.line(f.offset);
        let key = format!("expect.{}", f.key);
        let key = key.as_str();
        match f.key.as_str() {
            "printed" => out.printed = Some(printed(&f.value, line, key, src, has_other)?),
            "charged_yen" => out.charged_yen = Some(amount(&f.value, line, key)?),
            "refunded_yen" => out.refunded_yen = Some(amount(&f.value, line, key)?),
            "net_yen" => {
                out.net_yen = Some(ranged(&f.value, line, key, -10_000_000, 10_000_000)?);
                net_line = line;
            }
            "backend_outcomes" => {
                let Node::Array(items) = &f.value else { return Err(expected(line, key, "an array", &f.value)) };
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    let s = string(item, line, key)?;
                    if !OUTCOMES.contains(&s) {
                        return Err(invalid(line, key, format!("no outcome `{s}` ({})", OUTCOMES.join(", "))));
                    }
                    list.push(s.to_string());
                }
                out.backend_outcomes = Some(list);
            }
            "tries_left" => out.tries_left = Some(ranged(&f.value, line, key, 0, 3)?),
            "ends_at" => out.ends_at = Some(screen_id(&f.value, line, key)?),
            _ => return Err(unknown_key(line, key, &EXPECT_KEYS)),
        }
    }
    // A net that contradicts the two sums it is made of is a mistake in the file, not the kiosk.
    let implied = match (out.charged_yen, out.refunded_yen) {
        (Some(Amount::Yen(c)), Some(Amount::Yen(r))) => Some(i64::from(c) - i64::from(r)),
        (Some(Amount::Offered), Some(Amount::Offered)) => Some(0),
        _ => None,
    };
    if let (Some(net), Some(implied)) = (out.net_yen, implied) {
        if net != implied {
            return Err(invalid(
                net_line,
                "expect.net_yen",
                format!("{net} contradicts charged_yen − refunded_yen = {implied}"),
            ));
        }
    }
    Ok(out)
}

fn amount(v: &Node, line: usize, key: &str) -> Result<Amount, ScenarioError> {
    match v {
        Node::Str(s) if s == "offered" => Ok(Amount::Offered),
        Node::Int(_) => ranged(v, line, key, 0, 10_000_000).map(Amount::Yen),
        other => Err(expected(line, key, "\"offered\" or a number of yen", other)),
    }
}

fn printed(
    v: &Node,
    line: usize,
    key: &str,
    src: &Src<'_>,
    has_other: bool,
) -> Result<Vec<PrintedExpect>, ScenarioError> {
    let Node::Array(items) = v else { return Err(expected(line, key, "an array ([] for nothing)", v)) };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Node::Table(fields) = item else {
            return Err(expected(line, key, "tables like { document = \"juminhyo\" }", item));
        };
        let entry_line = fields.first().map_or(line, |f| src.line(f.offset));
        let mut document = None;
        let mut pages = None;
        let mut contains = Vec::new();
        let mut not_contains = Vec::new();
        for f in fields {
            let l = src.line(f.offset);
            let k = format!("{key}.{}", f.key);
            match f.key.as_str() {
                "document" => {
                    let s = string(&f.value, l, &k)?;
                    if !DOCUMENTS.contains(&s) {
                        return Err(invalid(l, &k, format!("no document `{s}` ({})", DOCUMENTS.join(", "))));
                    }
                    document = Some(s.to_string());
                }
                "pages" => pages = Some(ranged(&f.value, l, &k, 1, 1000)?),
                "contains" | "not_contains" => {
                    let Node::Array(texts) = &f.value else {
                        return Err(expected(l, &k, "an array of texts", &f.value));
                    };
                    let mut list = Vec::with_capacity(texts.len());
                    for t in texts {
                        let t = template(t, l, &k, has_other)?;
                        if t.fields().iter().any(|(_, f)| f.secret()) {
                            return Err(invalid(l, &k, "a PIN or password is never on paper"));
                        }
                        if t.raw().trim().is_empty() {
                            return Err(invalid(l, &k, "an empty text matches anything"));
                        }
                        list.push(t);
                    }
                    if f.key == "contains" {
                        contains = list;
                    } else {
                        not_contains = list;
                    }
                }
                _ => return Err(unknown_key(l, &k, &PRINTED_KEYS)),
            }
        }
        let Some(document) = document else {
            return Err(invalid(entry_line, &format!("{key}.document"), "missing: which document came out"));
        };
        out.push(PrintedExpect { line: entry_line, document, pages, contains, not_contains });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The cast: who the roles are in a demo world

/// The people a scenario plays with, from a demo world's `manifest.json`.
#[derive(Debug)]
pub struct Cast {
    pub resident: Person,
    pub other: Option<Person>,
    /// The world's day (`manifest.json` `today`): certificates' validity is relative to it.
    pub today: Date,
    /// The world directory (absolute).
    pub world: PathBuf,
}

impl Cast {
    pub fn person(&self, role: Role) -> Option<&Person> {
        match role {
            Role::Resident => Some(&self.resident),
            Role::Other => self.other.as_ref(),
        }
    }

    fn value(&self, role: Role, field: Field) -> Result<&str, ScenarioError> {
        let who = match role {
            Role::Resident => "",
            Role::Other => "other.",
        };
        let p = self.person(role).ok_or_else(|| {
            ScenarioError::new(ErrorKind::World, format!("`{{{who}…}}`: the scenario names no other person"))
        })?;
        let missing = |what: &str| ScenarioError::new(ErrorKind::World, format!("{} has no {what} in the world", p.id));
        Ok(match field {
            Field::Id => p.id.as_str(),
            Field::Name => p.name.as_str(),
            Field::Kana => p.name_kana.as_str(),
            Field::Pin => p.auth_pin.as_str(),
            Field::Password => p.sign_password.as_deref().ok_or_else(|| missing("signature password"))?,
            Field::PhonePin => p.phone_pin.as_deref().ok_or_else(|| missing("Android phone PIN"))?,
            Field::PhonePassword => p.phone_password.as_deref().ok_or_else(|| missing("Android phone password"))?,
        })
    }
}

/// Phone tokens a person has (profile files, absolute).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhoneProfiles {
    pub android: Option<PathBuf>,
    pub iphone: Option<PathBuf>,
}

/// One resident of the demo world. `Debug` shows the id, tags and files, never the name, PIN or
/// password.
pub struct Person {
    pub id: String,
    /// As in the resident register (printed documents carry it).
    pub name: String,
    pub name_kana: String,
    /// The card's user-authentication PIN.
    pub auth_pin: Zeroizing<String>,
    /// The card's signature password (`None` under 15).
    pub sign_password: Option<Zeroizing<String>>,
    /// The Android phone's own PIN and password (`{phone.pin}`, `{phone.password}`).
    pub phone_pin: Option<Zeroizing<String>>,
    pub phone_password: Option<Zeroizing<String>>,
    /// The card's profile file (absolute).
    pub card_profile: PathBuf,
    pub phone_profiles: PhoneProfiles,
    pub tags: Vec<String>,
    /// `None` for a resident abroad.
    pub household: Option<String>,
    /// Municipality code of residence (of 本籍 for a resident abroad).
    pub municipality: String,
}

impl Person {
    /// The profile file of what a `place_card` step puts on the reader.
    pub fn profile(&self, token: Token) -> Option<&Path> {
        match token {
            Token::Card => Some(&self.card_profile),
            Token::Android => self.phone_profiles.android.as_deref(),
            Token::Iphone => self.phone_profiles.iphone.as_deref(),
        }
    }
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person")
            .field("id", &self.id)
            .field("tags", &self.tags)
            .field("household", &self.household)
            .field("municipality", &self.municipality)
            .field("card_profile", &self.card_profile)
            .field("phone_profiles", &self.phone_profiles)
            .finish_non_exhaustive()
    }
}

/// `manifest.json`, only what a scenario needs (the generator writes more).
#[derive(serde::Deserialize)]
struct RawManifest {
    format: u32,
    today: String,
    residents: Vec<RawResident>,
}

#[derive(serde::Deserialize)]
struct RawResident {
    id: String,
    name: String,
    #[serde(default)]
    name_kana: String,
    card_profile: String,
    #[serde(default)]
    phone_profiles: RawPhones,
    #[serde(default)]
    phone_secrets: Option<RawPhoneSecrets>,
    #[serde(deserialize_with = "secret")]
    auth_pin: Zeroizing<String>,
    #[serde(default, deserialize_with = "optional_secret")]
    sign_password: Option<Zeroizing<String>>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    household: Option<String>,
    #[serde(default)]
    municipality: String,
}

#[derive(serde::Deserialize, Default)]
struct RawPhones {
    android: Option<String>,
    iphone: Option<String>,
}

#[derive(serde::Deserialize)]
struct RawPhoneSecrets {
    android: Option<RawSecrets>,
}

#[derive(serde::Deserialize)]
struct RawSecrets {
    #[serde(deserialize_with = "secret")]
    auth_pin: Zeroizing<String>,
    #[serde(deserialize_with = "secret")]
    sign_password: Zeroizing<String>,
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<String>, D::Error> {
    String::deserialize(d).map(Zeroizing::new)
}

fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Zeroizing<String>>, D::Error> {
    Option::<String>::deserialize(d).map(|o| o.map(Zeroizing::new))
}

fn world_error(s: &Scenario, line: usize, key: &str, message: impl Into<String>) -> ScenarioError {
    let mut e = ScenarioError::new(ErrorKind::World, message).in_file(&s.source);
    if line > 0 {
        e = e.at(line, key);
    } else {
        e.key = Some(key.to_string());
    }
    e
}

/// Finds the scenario's people in the world at `world_dir` and checks that they have what the
/// steps use (the phone placed, a password typed). `other` is never the resident and never of the
/// resident's household: by tags, the first such match; by id, an error otherwise.
pub fn cast(s: &Scenario, world_dir: &Path) -> Result<Cast, ScenarioError> {
    let world = std::path::absolute(world_dir).unwrap_or_else(|_| world_dir.to_path_buf());
    let manifest_path = world.join("manifest.json");
    let bad_world = |m: String| ScenarioError::new(ErrorKind::World, m).in_file(&manifest_path);
    // The file holds every resident's PIN in clear (test material): its bytes are wiped after use.
    let bytes = Zeroizing::new(std::fs::read(&manifest_path).map_err(|e| bad_world(format!("cannot read: {e}")))?);
    let manifest: RawManifest =
        serde_json::from_slice(&bytes).map_err(|e| bad_world(format!("not a demo world manifest: {e}")))?;
    if manifest.format != 1 {
        return Err(bad_world(format!("manifest format {} is not understood (1 is)", manifest.format)));
    }
    let today = Date::parse(&manifest.today, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| bad_world(format!("`today` {:?} is not a date", manifest.today)))?;
    let mut residents = manifest.residents;

    let pick = |who: &Who, residents: &[RawResident], skip: &dyn Fn(&RawResident) -> bool| -> Option<usize> {
        residents.iter().position(|r| {
            let matches = match who {
                Who::Id(id) => r.id == *id,
                Who::Tags(tags) => tags.iter().all(|t| r.tags.contains(t)),
            };
            matches && !skip(r)
        })
    };
    let ri = pick(&s.resident, &residents, &|_| false).ok_or_else(|| {
        world_error(
            s,
            s.lines.resident,
            "resident",
            format!("no resident `{}` in {}", s.resident, manifest_path.display()),
        )
    })?;
    let (res_id, res_household) = (residents[ri].id.clone(), residents[ri].household.clone());
    let same_home = |r: &RawResident| r.household.is_some() && r.household == res_household;
    let oi = match &s.other {
        None => None,
        Some(who) => {
            let skip = |r: &RawResident| r.id == res_id || same_home(r);
            let found = pick(who, &residents, &skip);
            if found.is_none() {
                let why = match pick(who, &residents, &|_| false) {
                    Some(i) if residents[i].id == res_id => "is the resident",
                    Some(_) => "lives in the resident's household",
                    None => "is not in the world",
                };
                return Err(world_error(s, s.lines.other, "other", format!("`{who}` {why}")));
            }
            found
        }
    };
    // Take the two out (the other index first when it is later, so the first stays valid).
    let (resident, other) = match oi {
        Some(oi) if oi > ri => {
            let o = residents.swap_remove(oi);
            (residents.swap_remove(ri), Some(o))
        }
        Some(oi) => {
            let r = residents.swap_remove(ri);
            (r, Some(residents.swap_remove(oi)))
        }
        None => (residents.swap_remove(ri), None),
    };
    let resident = person(resident, &world).map_err(|m| world_error(s, s.lines.resident, "resident", m))?;
    let other = match other {
        Some(o) => Some(person(o, &world).map_err(|m| world_error(s, s.lines.other, "other", m))?),
        None => None,
    };
    let cast = Cast { resident, other, today, world };
    check_cast(s, &cast)?;
    Ok(cast)
}

fn profile_path(world: &Path, relative: &str) -> Result<PathBuf, String> {
    let p = Path::new(relative);
    let inside = p.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        return Err(format!("profile path {relative:?} leaves the world directory"));
    }
    let full = world.join(p);
    if !full.is_file() {
        return Err(format!("profile {} is missing", full.display()));
    }
    Ok(full)
}

fn person(r: RawResident, world: &Path) -> Result<Person, String> {
    let (phone_pin, phone_password) = match r.phone_secrets.and_then(|s| s.android) {
        Some(s) => (Some(s.auth_pin), Some(s.sign_password)),
        None => (None, None),
    };
    let phone = |p: Option<String>| p.map(|p| profile_path(world, &p)).transpose();
    Ok(Person {
        card_profile: profile_path(world, &r.card_profile)?,
        phone_profiles: PhoneProfiles {
            android: phone(r.phone_profiles.android)?,
            iphone: phone(r.phone_profiles.iphone)?,
        },
        id: r.id,
        name: r.name,
        name_kana: r.name_kana,
        auth_pin: r.auth_pin,
        sign_password: r.sign_password,
        phone_pin,
        phone_password,
        tags: r.tags,
        household: r.household,
        municipality: r.municipality,
    })
}

/// What the steps and expectations use exists for these people.
fn check_cast(s: &Scenario, cast: &Cast) -> Result<(), ScenarioError> {
    let check = |t: &Template, line: usize, key: &str| -> Result<(), ScenarioError> {
        for (role, field) in t.fields() {
            cast.value(role, field).map_err(|e| world_error(s, line, key, e.message))?;
        }
        Ok(())
    };
    for step in &s.steps {
        match &step.action {
            StepAction::PlaceCard { who, token, .. } => {
                let p =
                    cast.person(*who).ok_or_else(|| world_error(s, step.line, "step.place_card", "no such person"))?;
                if p.profile(*token).is_none() {
                    let m = format!("{} has no {} token in the world", p.id, token.id());
                    return Err(world_error(s, step.line, "step.place_card.token", m));
                }
            }
            StepAction::Type(t) => check(t, step.line, "step.type")?,
            StepAction::ExpectText(t) => check(t, step.line, "step.expect_text")?,
            _ => {}
        }
    }
    for p in s.expect.printed.iter().flatten() {
        for t in &p.contains {
            check(t, p.line, "expect.printed.contains")?;
        }
        for t in &p.not_contains {
            check(t, p.line, "expect.printed.not_contains")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> &'static Path {
        Path::new("t.toml")
    }

    fn err(text: &str) -> ScenarioError {
        match parse(text, src()) {
            Ok(s) => panic!("accepted: {s:?}"),
            Err(e) => e,
        }
    }

    /// The line and key an error names.
    fn at(text: &str) -> (Option<usize>, Option<String>, ErrorKind) {
        let e = err(text);
        (e.line, e.key.clone(), e.kind)
    }

    const HEAD: &str = "format = 1\nresident = \"tag:adult\"\n";

    fn with_steps(steps: &str) -> String {
        format!("{HEAD}{steps}")
    }

    #[test]
    fn the_example_of_the_shared_page_parses() {
        let text = r#"format = 1
name = "wrong-pin-then-success"
resident = "tag:adult+household-head"

[[step]]
touch = "service:certificates"
[[step]]
place_card = { reader = "contactless" }
[[step]]
expect_screen = "pin-entry"
[[step]]
expect_tries_left = 3
[[step]]
type = "0000"            # wrong: generated PINs never begin with 0 or 9
[[step]]
touch = "ok"
[[step]]
type = "{pin}"
timeout = "20s"
[[step]]
insert_yen = "exact"

[expect]
printed = [{ document = "juminhyo", pages = 1, contains = ["{name}"] }]
charged_yen = "offered"
refunded_yen = 0
tries_left = 3
ends_at = "idle"
"#;
        let s = parse(text, Path::new("dir/x.toml")).unwrap();
        assert_eq!(s.name, "wrong-pin-then-success");
        assert_eq!(s.resident, Who::Tags(vec!["adult".into(), "household-head".into()]));
        assert_eq!(s.steps.len(), 8);
        assert_eq!(
            s.steps[0],
            Step { line: 6, timeout: DEFAULT_STEP_TIMEOUT, action: StepAction::Touch("service:certificates".into()) }
        );
        assert_eq!(
            s.steps[1].action,
            StepAction::PlaceCard { who: Role::Resident, reader: ReaderKind::Contactless, token: Token::Card }
        );
        assert_eq!(s.steps[6].timeout, Duration::from_secs(20));
        assert_eq!(s.steps[6].line, 18);
        assert_eq!(s.steps[7].action, StepAction::InsertYen(Insert::Exact));
        let printed = s.expect.printed.as_ref().unwrap();
        assert_eq!((printed[0].document.as_str(), printed[0].pages, printed[0].line), ("juminhyo", Some(1), 24));
        assert_eq!(printed[0].contains[0].raw(), "{name}");
        assert_eq!(s.expect.charged_yen, Some(Amount::Offered));
        assert_eq!(s.expect.refunded_yen, Some(Amount::Yen(0)));
        assert_eq!((s.expect.tries_left, s.expect.ends_at.as_deref()), (Some(3), Some("idle")));
        assert_eq!(s.source, Path::new("dir/x.toml"));
        // Without `name` the file's stem names it.
        let s = parse(&with_steps("[[step]]\nremove_card = true\n"), Path::new("a/b/my-test.toml")).unwrap();
        assert_eq!(s.name, "my-test");
        assert_eq!(s.expect, Expect::default());
    }

    #[test]
    fn every_action_and_value_form() {
        let text = format!(
            "{HEAD}other = \"R0004\"\nstart_at = \"2026-11-24T23:30:00+09:00\"\n\
             [[step]]\nplace_card = {{ who = \"other\", reader = \"contactless\", token = \"iphone\" }}\n\
             [[step]]\nplace_card = {{}}\n\
             [[step]]\nplace_card = {{ reader = \"contact\" }}\n\
             [[step]]\ninsert_yen = [10, 50, 100, 500, 1000, 2000, 5000, 10000]\n\
             [[step]]\nprinter = \"jam@page=1\"\n[[step]]\nprinter = \"paper-out@page=last\"\n\
             [[step]]\nprinter = \"vanish@job\"\n[[step]]\nprinter = \"clear\"\n\
             [[step]]\nbackend = \"down\"\n[[step]]\nbackend = \"up\"\n[[step]]\nbackend = \"slow:3s\"\n\
             [[step]]\nbackend = \"reject:session_expired\"\n[[step]]\nadvance = \"2m\"\n[[step]]\nadvance = \"500ms\"\n\
             [[step]]\nexpect_text = \"{{other.name}} {{{{x}}}}\"\n[[step]]\nexpect_lamp = \"card-slot\"\n\
             [[step]]\nexpect_chime = false\n[[step]]\nexpect_screen = \"pin-reset-new-pin\"\n\
             [[step]]\ntype = \"AB12{{password}}\"\n"
        );
        let s = parse(&text, src()).unwrap();
        let a: Vec<&StepAction> = s.steps.iter().map(|s| &s.action).collect();
        assert_eq!(
            *a[0],
            StepAction::PlaceCard { who: Role::Other, reader: ReaderKind::Contactless, token: Token::Iphone }
        );
        assert_eq!(
            *a[2],
            StepAction::PlaceCard { who: Role::Resident, reader: ReaderKind::Contact, token: Token::Card }
        );
        assert_eq!(*a[3], StepAction::InsertYen(Insert::Coins(YEN.to_vec())));
        assert_eq!(*a[4], StepAction::Printer(PrinterFault { kind: PrinterFaultKind::Jam, at: FaultAt::Page(1) }));
        assert_eq!(
            *a[5],
            StepAction::Printer(PrinterFault { kind: PrinterFaultKind::PaperOut, at: FaultAt::PageLast })
        );
        assert_eq!(*a[6], StepAction::Printer(PrinterFault { kind: PrinterFaultKind::Vanish, at: FaultAt::Job }));
        assert_eq!(*a[10], StepAction::Backend(BackendFault::Slow(Duration::from_secs(3))));
        assert_eq!(*a[11], StepAction::Backend(BackendFault::Reject("session_expired".into())));
        assert_eq!(*a[12], StepAction::Advance(Duration::from_secs(120)));
        assert_eq!(*a[13], StepAction::Advance(Duration::from_millis(500)));
        assert_eq!(*a[15], StepAction::ExpectLamp("card-slot".into()));
        assert_eq!(*a[16], StepAction::ExpectChime(false));
        // Faults print back as written (the runner hands them on in this form).
        let shown: Vec<String> = a[4..12]
            .iter()
            .map(|a| match a {
                StepAction::Printer(p) => p.to_string(),
                StepAction::Backend(b) => b.to_string(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "jam@page=1",
                "paper-out@page=last",
                "vanish@job",
                "clear",
                "down",
                "up",
                "slow:3s",
                "reject:session_expired"
            ]
        );
        let want = time::macros::datetime!(2026-11-24 23:30 +9);
        assert_eq!(s.start_at, Some(want));
        assert_eq!(s.other, Some(Who::Id("R0004".into())));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        // Top level.
        assert_eq!(
            at("format = 1\nresident = \"R0001\"\nresidnet = \"x\"\n"),
            (Some(3), Some("residnet".into()), ErrorKind::Invalid)
        );
        // In a step.
        let t = with_steps("[[step]]\ntouch = \"ok\"\n\n[[step]]\ntuoch = \"ok\"\n");
        assert_eq!(at(&t), (Some(7), Some("step.tuoch".into()), ErrorKind::Invalid));
        // Inside place_card.
        let t = with_steps("[[step]]\nplace_card = { reader = \"contact\", whom = \"other\" }\n");
        assert_eq!(at(&t), (Some(4), Some("step.place_card.whom".into()), ErrorKind::Invalid));
        // In [expect].
        let t = with_steps("[[step]]\ntouch = \"ok\"\n[expect]\nends_at = \"idle\"\ncharged = 0\n");
        assert_eq!(at(&t), (Some(7), Some("expect.charged".into()), ErrorKind::Invalid));
        // In a printed entry, on its own line.
        let t = with_steps(
            "[[step]]\ntouch = \"ok\"\n[expect]\nprinted = [\n  { document = \"juminhyo\" },\n  { document = \"inkan\", page = 1 },\n]\n",
        );
        assert_eq!(at(&t), (Some(8), Some("expect.printed.page".into()), ErrorKind::Invalid));
        // A table nobody defined.
        let t = with_steps("[[step]]\ntouch = \"ok\"\n[expected]\nends_at = \"idle\"\n");
        assert_eq!(at(&t), (Some(5), Some("expected".into()), ErrorKind::Invalid));
        // The message lists what is known there.
        let e = err(&with_steps("[[step]]\ntuoch = \"ok\"\n"));
        assert!(e.message.contains("touch") && e.message.contains("timeout"), "{e}");
    }

    #[test]
    fn a_step_has_exactly_one_action() {
        let t = with_steps("[[step]]\ntouch = \"ok\"\n[[step]]\ntouch = \"ok\"\nexpect_screen = \"idle\"\n");
        let e = err(&t);
        assert_eq!((e.line, e.key.as_deref()), (Some(7), Some("step.expect_screen")));
        assert!(e.message.contains("`touch` (line 6)"), "{e}");
        // Only a timeout: no action. The error names the step's header line.
        let t = with_steps("[[step]]\ntouch = \"ok\"\n\n[[step]]\ntimeout = \"5s\"\n");
        assert_eq!(at(&t), (Some(6), Some("step".into()), ErrorKind::Invalid));
        let t = with_steps("[[step]]\ntouch = \"ok\"\n[[step]]\n[[step]]\ntouch = \"ok\"\n");
        assert_eq!(at(&t), (Some(5), Some("step".into()), ErrorKind::Invalid));
        assert_eq!(at(HEAD), (Some(1), Some("step".into()), ErrorKind::Invalid));
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in ["\"10\"", "\"ten seconds\"", "\"1.5s\"", "\"0s\"", "\"5d\"", "\"-3s\"", "10"] {
            let t = with_steps(&format!("[[step]]\ntouch = \"ok\"\ntimeout = {bad}\n"));
            assert_eq!(at(&t), (Some(5), Some("step.timeout".into()), ErrorKind::Invalid), "{bad}");
            let t = with_steps(&format!("[[step]]\nadvance = {bad}\n"));
            assert_eq!(at(&t), (Some(4), Some("step.advance".into()), ErrorKind::Invalid), "{bad}");
        }
        let t = with_steps("[[step]]\nbackend = \"slow:soon\"\n");
        assert_eq!(at(&t), (Some(4), Some("step.backend".into()), ErrorKind::Invalid));
        assert!(err(&with_steps("[[step]]\nadvance = \"1.5s\"\n")).message.contains("\"130s\""));
    }

    #[test]
    fn only_yen_coins_and_notes_go_in() {
        let e = err(&with_steps("[[step]]\ninsert_yen = [100, 3]\n"));
        assert_eq!((e.line, e.key.as_deref()), (Some(4), Some("step.insert_yen")));
        assert!(e.message.contains("3 yen"), "{e}");
        for bad in ["[]", "[1]", "[20]", "[-100]", "[100.0]", "\"all\"", "100", "[\"100\"]"] {
            let t = with_steps(&format!("[[step]]\ninsert_yen = {bad}\n"));
            assert_eq!(at(&t), (Some(4), Some("step.insert_yen".into()), ErrorKind::Invalid), "{bad}");
        }
    }

    #[test]
    fn placeholders_must_exist_and_have_their_person() {
        let e = err(&with_steps("[[step]]\nexpect_text = \"{nmae}\"\n"));
        assert_eq!((e.line, e.key.as_deref()), (Some(4), Some("step.expect_text")));
        assert!(e.message.contains("{nmae}") && e.message.contains("{name}"), "{e}");
        for bad in ["{name", "name}", "{}", "{other}", "{other.nmae}", "{other.other.name}"] {
            let t = with_steps(&format!("[[step]]\nexpect_text = \"{bad}\"\n"));
            assert_eq!(at(&t), (Some(4), Some("step.expect_text".into()), ErrorKind::Invalid), "{bad}");
        }
        // {other.…} and who = "other" need an `other`.
        let t = with_steps("[[step]]\ntouch = \"ok\"\n[expect]\nprinted = [{ document = \"juminhyo\", not_contains = [\"{other.name}\"] }]\n");
        assert_eq!(at(&t), (Some(6), Some("expect.printed.not_contains".into()), ErrorKind::Invalid));
        let t = with_steps("[[step]]\nplace_card = { who = \"other\" }\n");
        assert_eq!(at(&t), (Some(4), Some("step.place_card.who".into()), ErrorKind::Invalid));
        // Typing: keypad characters and secrets only; paper: never a secret.
        for bad in ["\"12 34\"", "\"abcd\"", "\"{name}\"", "\"\""] {
            let t = with_steps(&format!("[[step]]\ntype = {bad}\n"));
            assert_eq!(at(&t), (Some(4), Some("step.type".into()), ErrorKind::Invalid), "{bad}");
        }
        let t = with_steps(
            "[[step]]\ntouch = \"ok\"\n[expect]\nprinted = [{ document = \"juminhyo\", contains = [\"{pin}\"] }]\n",
        );
        assert_eq!(at(&t), (Some(6), Some("expect.printed.contains".into()), ErrorKind::Invalid));
    }

    #[test]
    fn bad_values_are_refused_where_they_are() {
        let cases: [(&str, usize, &str); 22] = [
            ("[[step]]\nprinter = \"smoke\"\n", 4, "step.printer"),
            ("[[step]]\nprinter = \"jam@page=0\"\n", 4, "step.printer"),
            ("[[step]]\nprinter = \"jam@sheet=2\"\n", 4, "step.printer"),
            ("[[step]]\nprinter = \"clear@job\"\n", 4, "step.printer"),
            ("[[step]]\nbackend = \"sideways\"\n", 4, "step.backend"),
            ("[[step]]\nbackend = \"reject:Bad Code\"\n", 4, "step.backend"),
            ("[[step]]\nexpect_screen = \"pin_entry\"\n", 4, "step.expect_screen"),
            ("[[step]]\nexpect_tries_left = 9\n", 4, "step.expect_tries_left"),
            ("[[step]]\nexpect_tries_left = \"3\"\n", 4, "step.expect_tries_left"),
            ("[[step]]\nexpect_lamp = \"door\"\n", 4, "step.expect_lamp"),
            ("[[step]]\nexpect_chime = \"yes\"\n", 4, "step.expect_chime"),
            ("[[step]]\nremove_card = false\n", 4, "step.remove_card"),
            ("[[step]]\ntouch = \"\"\n", 4, "step.touch"),
            ("[[step]]\ntouch = \"two words\"\n", 4, "step.touch"),
            ("[[step]]\nplace_card = { reader = \"contact\", token = \"android\" }\n", 4, "step.place_card.reader"),
            ("[[step]]\nplace_card = { token = \"pager\" }\n", 4, "step.place_card.token"),
            ("[[step]]\nplace_card = \"contactless\"\n", 4, "step.place_card"),
            ("[[step]]\ntouch = \"ok\"\n[expect]\nends_at = \"home\"\n", 6, "expect.ends_at"),
            (
                "[[step]]\ntouch = \"ok\"\n[expect]\nbackend_outcomes = [\"printed\", \"lost\"]\n",
                6,
                "expect.backend_outcomes",
            ),
            ("[[step]]\ntouch = \"ok\"\n[expect]\ncharged_yen = \"fee\"\n", 6, "expect.charged_yen"),
            (
                "[[step]]\ntouch = \"ok\"\n[expect]\nprinted = [{ document = \"passport\" }]\n",
                6,
                "expect.printed.document",
            ),
            (
                "[[step]]\ntouch = \"ok\"\n[expect]\ncharged_yen = 300\nrefunded_yen = 300\nnet_yen = 300\n",
                8,
                "expect.net_yen",
            ),
        ];
        for (steps, line, key) in cases {
            assert_eq!(at(&with_steps(steps)), (Some(line), Some(key.into()), ErrorKind::Invalid), "{steps}");
        }
        let t = "format = 1\nresident = \"tag:adult+grown-up\"\n[[step]]\ntouch = \"ok\"\n";
        assert_eq!(at(t), (Some(2), Some("resident".into()), ErrorKind::Invalid));
        let t = "format = 1\nresident = \"R 1\"\n[[step]]\ntouch = \"ok\"\n";
        assert_eq!(at(t), (Some(2), Some("resident".into()), ErrorKind::Invalid));
        let t = "format = 1\nresident = \"R1\"\nstart_at = \"tonight\"\n[[step]]\ntouch = \"ok\"\n";
        assert_eq!(at(t), (Some(3), Some("start_at".into()), ErrorKind::Invalid));
        // An unquoted TOML date-time is pointed at, with the fix.
        let e = err("format = 1\nresident = \"R1\"\nstart_at = 2026-11-24T23:30:00+09:00\n");
        assert_eq!((e.line, e.kind), (Some(3), ErrorKind::Syntax));
        assert!(e.message.contains("quoted string"), "{e}");
    }

    #[test]
    fn format_and_resident_are_required() {
        assert_eq!(
            at("resident = \"R1\"\n[[step]]\ntouch = \"ok\"\n"),
            (Some(1), Some("format".into()), ErrorKind::Invalid)
        );
        // Another version is refused before its keys are looked at.
        assert_eq!(
            at("resident = \"R1\"\nformat = 2\nnew_key = 1\n"),
            (Some(2), Some("format".into()), ErrorKind::Invalid)
        );
        assert_eq!(at("format = \"1\"\n"), (Some(1), Some("format".into()), ErrorKind::Invalid));
        let e = err("format = 1\n[[step]]\ntouch = \"ok\"\n");
        assert_eq!((e.line, e.key.as_deref(), e.kind()), (Some(1), Some("resident"), ErrorKind::Invalid));
        // Not TOML at all.
        let e = err("format = 1\nresident = \"R1\nx = 2\n");
        assert_eq!((e.line, e.kind), (Some(2), ErrorKind::Syntax));
    }

    #[test]
    fn errors_read_file_line_key_message() {
        let e = parse(&with_steps("[[step]]\ntuoch = \"ok\"\n"), Path::new("tests/scenarios/x.toml")).unwrap_err();
        assert!(e.to_string().starts_with("tests/scenarios/x.toml:4: key `step.tuoch`: unknown key"), "{e}");
        let e = ScenarioError::new(ErrorKind::World, "no such person");
        assert_eq!(e.to_string(), "no such person");
        let e = ScenarioError::new(ErrorKind::Invalid, "m").at(3, "");
        assert_eq!(e.to_string(), "line 3: m");
    }

    // ---- the cast, against a small world of the generator's shape -------------------------

    /// Three households: H01 (R0001, R0002), H02 (R0004), and R0009 abroad.
    fn world() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("cards")).unwrap();
        for f in ["R0001", "R0001-android", "R0002", "R0002-iphone", "R0003", "R0004", "R0009"] {
            std::fs::write(dir.path().join("cards").join(format!("{f}.json")), "{}").unwrap();
        }
        let manifest = serde_json::json!({
            "format": 1, "seed": 7, "today": "2026-11-24", "notice": "TEST", "registry": "registry.json",
            "anchors": [], "crls": [], "municipalities": [], "households": [],
            "residents": [
                { "id": "R0001", "name": "佐藤　健一", "name_kana": "サトウ　ケンイチ", "card_profile": "cards/R0001.json",
                  "phone_profiles": { "android": "cards/R0001-android.json" },
                  "phone_secrets": { "android": { "auth_pin": "7351", "sign_password": "PHONEPW1" } },
                  "auth_pin": "5823", "sign_password": "SIGNPW42", "text_pin": "1111", "my_number": "1",
                  "tags": ["adult", "household-head", "phone-android"], "municipality": "132217", "household": "H01" },
                { "id": "R0002", "name": "佐藤　美和", "name_kana": "サトウ　ミワ", "card_profile": "cards/R0002.json",
                  "phone_profiles": { "iphone": "cards/R0002-iphone.json" },
                  "auth_pin": "6214", "sign_password": "MIWA5555",
                  "tags": ["adult", "household-member", "phone-iphone"], "municipality": "132217", "household": "H01" },
                { "id": "R0003", "name": "佐藤　陽翔", "name_kana": "サトウ　ハルト", "card_profile": "cards/R0003.json",
                  "auth_pin": "3141", "sign_password": null,
                  "tags": ["household-member", "under-15"], "municipality": "132217", "household": "H01" },
                { "id": "R0004", "name": "髙橋　誠", "name_kana": "タカハシ　マコト", "card_profile": "cards/R0004.json",
                  "auth_pin": "4455", "sign_password": "MAKOTO77",
                  "tags": ["adult", "household-head", "pin-blocked"], "municipality": "132217", "household": "H02" },
                { "id": "R0009", "name": "田中　裕子", "name_kana": "タナカ　ユウコ", "card_profile": "cards/R0009.json",
                  "auth_pin": "8080", "sign_password": "YUKO2020",
                  "tags": ["adult", "moved-abroad"], "municipality": "132217", "household": null }
            ]
        });
        std::fs::write(dir.path().join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
        dir
    }

    fn scenario(top: &str, steps: &str) -> Scenario {
        parse(&format!("format = 1\n{top}\n{steps}"), src()).unwrap()
    }

    #[test]
    fn cast_finds_people_by_id_and_tags_and_keeps_other_out_of_the_household() {
        let w = world();
        let s = scenario("resident = \"tag:adult+household-head\"\nother = \"tag:adult\"", "[[step]]\ntouch = \"ok\"");
        let c = cast(&s, w.path()).unwrap();
        assert_eq!(c.resident.id, "R0001");
        // R0001 is the resident and R0002 of the same household: the first other adult is R0004.
        assert_eq!(c.other.as_ref().unwrap().id, "R0004");
        assert_eq!(c.today, time::macros::date!(2026 - 11 - 24));
        assert!(c.resident.card_profile.is_absolute() && c.resident.card_profile.ends_with("cards/R0001.json"));
        assert!(c.resident.profile(Token::Android).is_some_and(|p| p.ends_with("cards/R0001-android.json")));
        assert!(c.resident.profile(Token::Iphone).is_none());
        assert_eq!(c.resident.household.as_deref(), Some("H01"));

        // By id: the same person, or the same household, is refused at the `other` line.
        for other in ["R0001", "R0002"] {
            let s = scenario(&format!("resident = \"R0001\"\nother = \"{other}\""), "[[step]]\ntouch = \"ok\"");
            let e = cast(&s, w.path()).unwrap_err();
            assert_eq!((e.kind(), e.line, e.key.as_deref()), (ErrorKind::World, Some(3), Some("other")), "{e}");
        }
        // Abroad: no household, so anyone else will do.
        let s =
            scenario("resident = \"tag:moved-abroad\"\nother = \"tag:household-member\"", "[[step]]\ntouch = \"ok\"");
        assert_eq!(cast(&s, w.path()).unwrap().other.unwrap().id, "R0002");
        // Nobody with these tags.
        let s = scenario("resident = \"tag:certs-expired\"", "[[step]]\ntouch = \"ok\"");
        let e = cast(&s, w.path()).unwrap_err();
        assert_eq!((e.kind(), e.line, e.key.as_deref()), (ErrorKind::World, Some(2), Some("resident")));
        assert!(e.to_string().contains("tag:certs-expired"), "{e}");
    }

    #[test]
    fn cast_checks_what_the_steps_use() {
        let w = world();
        // R0004 has no phone.
        let s = scenario(
            "resident = \"R0004\"",
            "[[step]]\ntouch = \"ok\"\n[[step]]\nplace_card = { token = \"android\" }",
        );
        let e = cast(&s, w.path()).unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(6), Some("step.place_card.token")));
        // Under 15: no signature password to type.
        let s = scenario("resident = \"tag:under-15\"", "[[step]]\ntype = \"{password}\"");
        let e = cast(&s, w.path()).unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(4), Some("step.type")));
        let s = scenario("resident = \"R0002\"", "[[step]]\ntype = \"{phone.pin}\"");
        assert_eq!(cast(&s, w.path()).unwrap_err().key.as_deref(), Some("step.type"));
        // No world there.
        let e = cast(&s, &w.path().join("nowhere")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::World);
        // A manifest of another format.
        std::fs::write(w.path().join("manifest.json"), r#"{"format": 2, "today": "2026-11-24", "residents": []}"#)
            .unwrap();
        assert!(cast(&s, w.path()).unwrap_err().message.contains("format 2"));
    }

    #[test]
    fn templates_expand_only_at_run_time() {
        let w = world();
        let s = scenario(
            "resident = \"R0001\"\nother = \"R0004\"",
            "[[step]]\ntype = \"{pin}\"\n[[step]]\nexpect_text = \"{name} / {other.kana} {{ok}} {id}\"\n\
             [[step]]\ntype = \"{phone.pin}{password}\"",
        );
        let c = cast(&s, w.path()).unwrap();
        let StepAction::Type(t) = &s.steps[0].action else { panic!() };
        assert_eq!(t.raw(), "{pin}");
        assert_eq!(t.expand(&c).unwrap().as_str(), "5823");
        assert!(!format!("{s:?}").contains("5823"), "the scenario holds no PIN");
        let StepAction::ExpectText(t) = &s.steps[1].action else { panic!() };
        assert_eq!(t.expand(&c).unwrap().as_str(), "佐藤　健一 / タカハシ　マコト {ok} R0001");
        let StepAction::Type(t) = &s.steps[2].action else { panic!() };
        assert_eq!(t.expand(&c).unwrap().as_str(), "7351SIGNPW42");
        // Without the other person, `{other.…}` cannot expand.
        let alone = Cast { other: None, ..c };
        let t = Template::new("{other.name}").unwrap();
        assert_eq!(t.expand(&alone).unwrap_err().kind(), ErrorKind::World);
    }

    #[test]
    fn debug_never_shows_a_pin_password_or_name() {
        let w = world();
        let s = scenario("resident = \"R0001\"\nother = \"R0004\"", "[[step]]\ntype = \"{pin}\"");
        let c = cast(&s, w.path()).unwrap();
        let shown = format!("{c:?} {:?} {:#?}", c.resident, c.other);
        for secret in ["5823", "SIGNPW42", "7351", "PHONEPW1", "4455", "MAKOTO77", "健一", "ケンイチ", "髙橋"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("R0001") && shown.contains("household-head"), "{shown}");
    }

    #[test]
    fn find_by_name_or_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("residence-certificate.toml");
        std::fs::write(&file, "format = 1\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        assert_eq!(find("residence-certificate", dir.path()).unwrap(), file);
        let e = find("residence", dir.path()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message.contains("residence-certificate"), "lists what there is: {e}");
        assert_eq!(find(file.to_str().unwrap(), Path::new("/nonexistent")).unwrap(), file);
        assert_eq!(find("../etc/passwd", dir.path()).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(find("Bad Name", dir.path()).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(shipped(dir.path()).unwrap(), vec![file]);
        assert_eq!(load(&dir.path().join("none.toml")).unwrap_err().kind(), ErrorKind::NotFound);
    }

    /// The shipped files: each parses, has a description, states the end, the money, the
    /// backend, the card and the paper, and ends idle with the card off (the casting against a
    /// generated world is `tests/tests/scenario_files.rs`).
    #[test]
    fn shipped_scenarios_parse_and_say_everything() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
        let files = shipped(&dir).unwrap();
        let names: Vec<String> = files.iter().map(|f| f.file_stem().unwrap().to_string_lossy().into_owned()).collect();
        let want = [
            "backend-down-refund",
            "card-pulled-mid-session",
            "english-resident",
            "expired-certificate",
            "koseki-other-municipality",
            "out-of-hours",
            "pin-locked",
            "printer-jam-refund",
            "renewal-notice",
            "residence-certificate",
            "session-timeout",
            "tax-certificate",
            "wrong-pin-then-success",
        ];
        assert_eq!(names, want);
        for f in &files {
            let s = load(f).unwrap_or_else(|e| panic!("{e}"));
            let name = f.file_stem().unwrap().to_string_lossy();
            assert_eq!(s.name, name, "{name}: name and file agree");
            assert!(!s.description.trim().is_empty(), "{name}: description");
            let e = &s.expect;
            assert!(e.printed.is_some() && e.charged_yen.is_some() && e.refunded_yen.is_some(), "{name}");
            assert!(e.net_yen.is_some() && e.backend_outcomes.is_some() && e.tries_left.is_some(), "{name}");
            assert_eq!(e.ends_at.as_deref(), Some("idle"), "{name}");
            let places = s.steps.iter().filter(|s| matches!(s.action, StepAction::PlaceCard { .. })).count();
            let removes = s.steps.iter().filter(|s| s.action == StepAction::RemoveCard).count();
            assert_eq!(places, removes, "{name}: every card placed is removed");
            for p in e.printed.iter().flatten() {
                assert!(p.contains.iter().any(|t| t.raw() == "{name}"), "{name}: the resident's name is on paper");
            }
        }
    }
}
