//! The kiosk's configuration, `madoguchi --config kiosk.toml` (see `firmware/kiosk.example.toml`).
//!
//! A kiosk that starts with a wrong value fails later in front of a resident, so anything bad or
//! missing stops start-up with a message that names the key (`printer.baud: ...`): unknown keys
//! (through `serde_ignored`), values of the wrong type (through `serde_path_to_error`), missing
//! keys and values out of range (checked here one by one). Files named by the configuration
//! must exist; relative paths are relative to the configuration file.

use madoguchi_api::ResetCredential;
use madoguchi_drivers::card::ReaderRoles;
use madoguchi_drivers::gpio::{LineMap, Polarity};
use madoguchi_drivers::printer::{FlowControl, PrinterConfig};
use madoguchi_session::{PinResetOffer, ServiceHours, SessionConfig, Timeouts};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::Time;

/// The languages the UI ships (BCP 47).
pub const KNOWN_LANGUAGES: [&str; 7] = ["ja", "en", "zh-Hans", "ko", "pt-BR", "es", "vi"];

const BAUD_RATES: [u32; 7] = [9600, 19200, 38400, 57600, 115_200, 230_400, 460_800];

/// A configuration that cannot be used, naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The dotted key (`printer.baud`), or empty for the file as a whole.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { key: key.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// The backend and the kiosk's identity towards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    pub url: String,
    /// CA certificate(s) the backend's server certificate must chain to (PEM).
    pub ca: PathBuf,
    /// The kiosk's client certificate and key for mutual TLS (PEM).
    pub client_certificate: PathBuf,
    pub client_key: PathBuf,
    /// The backend's Ed25519 public key for documents and the catalog (64 hex digits).
    pub document_key: String,
    pub retries: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustConfig {
    /// Directory of pinned JPKI CA certificates.
    pub anchors: PathBuf,
    /// Accept the test PKI's anchors (demo and acceptance tests only).
    pub allow_test_anchors: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpioConfig {
    /// `/dev/gpiochipN`, or `simulated` (no pins: the demo and development machines).
    pub chip: PathBuf,
    pub lines: LineMap,
}

impl GpioConfig {
    pub fn is_simulated(&self) -> bool {
        self.chip.as_os_str() == "simulated"
    }
}

/// Everything the kiosk needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KioskConfig {
    pub kiosk_id: String,
    pub store: String,
    pub backend: BackendConfig,
    pub trust: TrustConfig,
    pub readers: ReaderRoles,
    pub printer: PrinterConfig,
    pub gpio: GpioConfig,
    /// The cash unit's device, or `simulated`.
    pub cash_device: String,
    /// The protocol of a serial cash unit (`cash.protocol = "cctalk"`); none for `simulated`.
    pub cash_cctalk: Option<CcTalkSettings>,
    pub session: SessionConfig,
    /// `[voice]`: spoken prompts, their volume and night mute (optional: on, volume 80).
    pub voice: madoguchi_voice::VoiceConfig,
    /// The store operator's PIN (`[operator]`); none: no PIN opens operator mode (the door
    /// alarm holds all the same).
    pub operator: Option<madoguchi_session::operator::OperatorConfig>,
    /// `[display]`: how the panel is mounted and its touch calibrated.
    pub display: madoguchi_ui::ScreenSetup,
    /// `backend.deployment`: how the site runs its backend; the kiosk refuses one that says
    /// otherwise (`kiosk::compat`).
    pub deployment: madoguchi_api::v1::Deployment,
}

// --- the file as written ---------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct Raw {
    kiosk: Option<RawKiosk>,
    backend: Option<RawBackend>,
    trust: Option<RawTrust>,
    readers: Option<RawReaders>,
    printer: Option<RawPrinter>,
    gpio: Option<RawGpio>,
    cash: Option<RawCash>,
    timeouts: Option<RawTimeouts>,
    languages: Option<RawLanguages>,
    hours: Option<RawHours>,
    pin_reset: Option<RawPinReset>,
    voice: Option<madoguchi_voice::RawVoice>,
    operator: Option<RawOperator>,
    display: Option<RawDisplay>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    /// `madoguchi operator-pin-hash`'s output: a salted Argon2id PHC string.
    pin_hash: Option<String>,
    max_failures: Option<u32>,
    lockout_seconds: Option<u64>,
}

/// `[operator]`: the hash must be an Argon2id PHC string (never a PIN written as it is), the
/// lockout long enough to slow guessing down.
fn operator(raw: Option<RawOperator>) -> Result<Option<madoguchi_session::operator::OperatorConfig>, ConfigError> {
    let Some(o) = raw else { return Ok(None) };
    let hash = required(o.pin_hash, "operator.pin_hash")?;
    if !hash.starts_with("$argon2id$") {
        return Err(ConfigError::new(
            "operator.pin_hash",
            "not an Argon2id hash ($argon2id$...): make one with `madoguchi operator-pin-hash`; never write the PIN itself",
        ));
    }
    let max_failures = o.max_failures.unwrap_or(5);
    if !(1..=10).contains(&max_failures) {
        return Err(ConfigError::new("operator.max_failures", format!("{max_failures}: from 1 to 10")));
    }
    let lockout = o.lockout_seconds.unwrap_or(300);
    if !(30..=86_400).contains(&lockout) {
        return Err(ConfigError::new("operator.lockout_seconds", format!("{lockout}: from 30 to 86400")));
    }
    let config = madoguchi_session::operator::OperatorConfig {
        pin_hash: hash,
        max_failures,
        lockout: Duration::from_secs(lockout),
    };
    config.validate().map_err(|e| ConfigError::new("operator.pin_hash", e.to_string()))?;
    Ok(Some(config))
}

/// `[display]`: the kiosk's own screen (DRM/KMS).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDisplay {
    /// Degrees clockwise the content is turned: 0, 90, 180, 270 (portrait on a landscape panel: 90).
    rotation: Option<u32>,
    /// libinput's calibration matrix, six numbers.
    touch_calibration: Option<Vec<f32>>,
}

/// The panel's mounting and touch calibration, checked: a wrong matrix would send a resident's
/// finger to another button (or nowhere), so it must be finite, near the panel, and invertible.
fn display(raw: Option<RawDisplay>) -> Result<madoguchi_ui::ScreenSetup, ConfigError> {
    let d = raw.unwrap_or_default();
    let rotation = match d.rotation {
        None => madoguchi_ui::Rotation::default(),
        Some(deg) => madoguchi_ui::Rotation::from_degrees(deg).ok_or_else(|| {
            ConfigError::new("display.rotation", format!("{deg} is not 0, 90, 180 or 270 (degrees clockwise)"))
        })?,
    };
    let touch_calibration = match d.touch_calibration {
        None => None,
        Some(m) => {
            let key = "display.touch_calibration";
            let m: [f32; 6] = m.try_into().map_err(|m: Vec<f32>| {
                ConfigError::new(key, format!("{} numbers; libinput's matrix has six: [a, b, c, d, e, f]", m.len()))
            })?;
            if m.iter().any(|v| !v.is_finite() || v.abs() > 4.0) {
                return Err(ConfigError::new(
                    key,
                    "every number must be finite and within -4..=4 (units of the panel)",
                ));
            }
            // x' = a·x + b·y + c, y' = d·x + e·y + f: with a·e - b·d = 0 the panel maps onto a line
            if (m[0] * m[4] - m[1] * m[3]).abs() < 1e-3 {
                return Err(ConfigError::new(key, "a·e - b·d is 0: touches would all land on one line"));
            }
            Some(m)
        }
    };
    Ok(madoguchi_ui::ScreenSetup { rotation, touch_calibration })
}

#[derive(Deserialize, Default)]
struct RawKiosk {
    id: Option<String>,
    store: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawBackend {
    url: Option<String>,
    ca: Option<PathBuf>,
    client_certificate: Option<PathBuf>,
    client_key: Option<PathBuf>,
    document_key: Option<String>,
    retries: Option<u8>,
    deployment: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawTrust {
    anchors: Option<PathBuf>,
    allow_test_anchors: Option<bool>,
}

#[derive(Deserialize, Default)]
struct RawReaders {
    contact: Option<Vec<String>>,
    contactless: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
struct RawPrinter {
    port: Option<PathBuf>,
    baud: Option<u32>,
    flow_control: Option<String>,
    tray: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawGpio {
    chip: Option<PathBuf>,
    card_slot_lamp: Option<u32>,
    status_lamp: Option<u32>,
    chime: Option<u32>,
    door_switch: Option<u32>,
    operator_key: Option<u32>,
    active_low: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
struct RawCash {
    device: Option<String>,
    protocol: Option<String>,
    baud: Option<u32>,
    acceptor_address: Option<u8>,
    hoppers: Option<Vec<[u32; 2]>>,
}

/// A ccTalk coin acceptor and its hoppers on `cash.device`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcTalkSettings {
    pub baud: u32,
    pub acceptor_address: u8,
    /// (address, yen of the coin it pays).
    pub hoppers: Vec<(u8, u32)>,
}

/// Line rates ccTalk devices use.
const CCTALK_BAUDS: [u32; 2] = [9600, 4800];

fn cash_cctalk(c: &RawCash, device: &str) -> Result<Option<CcTalkSettings>, ConfigError> {
    let protocol = c.protocol.as_deref();
    if device == "simulated" {
        return match protocol {
            None | Some("simulated") => Ok(None),
            Some(p) => {
                Err(ConfigError::new("cash.protocol", format!("{p:?} needs a serial device, not \"simulated\"")))
            }
        };
    }
    match protocol {
        Some("cctalk") => {}
        None => return Err(ConfigError::new("cash.protocol", "missing: the serial cash unit's protocol (\"cctalk\")")),
        Some(p) => {
            return Err(ConfigError::new("cash.protocol", format!("{p:?} is not a supported protocol (\"cctalk\")")))
        }
    }
    let baud = c.baud.unwrap_or(9600);
    if !CCTALK_BAUDS.contains(&baud) {
        return Err(ConfigError::new("cash.baud", format!("{baud} is not one of {CCTALK_BAUDS:?}")));
    }
    let acceptor_address = c.acceptor_address.unwrap_or(2);
    let hoppers: Vec<(u8, u32)> = match &c.hoppers {
        None => vec![(3, 500), (4, 100), (5, 50), (6, 10)],
        Some(h) => h
            .iter()
            .map(|[a, y]| {
                let a = u8::try_from(*a)
                    .map_err(|_| ConfigError::new("cash.hoppers", format!("address {a} is not 2-255")))?;
                if ![10, 50, 100, 500].contains(y) {
                    return Err(ConfigError::new(
                        "cash.hoppers",
                        format!("{y} yen is not a coin a hopper pays (10, 50, 100, 500)"),
                    ));
                }
                Ok((a, *y))
            })
            .collect::<Result<_, _>>()?,
    };
    let mut seen = vec![acceptor_address];
    if acceptor_address < 2 {
        return Err(ConfigError::new(
            "cash.acceptor_address",
            "0 is the broadcast and 1 the kiosk's own address: use 2-255",
        ));
    }
    for (a, _) in &hoppers {
        if *a < 2 || seen.contains(a) {
            return Err(ConfigError::new("cash.hoppers", format!("address {a} is reserved or used twice")));
        }
        seen.push(*a);
    }
    if hoppers.is_empty() {
        return Err(ConfigError::new("cash.hoppers", "at least one hopper is needed to give change"));
    }
    Ok(Some(CcTalkSettings { baud, acceptor_address, hoppers }))
}

#[derive(Deserialize, Default)]
struct RawTimeouts {
    screen: Option<String>,
    pin_entry: Option<String>,
    payment: Option<String>,
    remove_card: Option<String>,
    take_documents: Option<String>,
    failure: Option<String>,
    warning: Option<String>,
    more_time: Option<String>,
    max_more_time: Option<u8>,
    overall: Option<String>,
    card_reply: Option<String>,
    backend_reply: Option<String>,
    printer_job: Option<String>,
    retry_backoff: Option<String>,
    print_abort_grace: Option<String>,
    payout: Option<String>,
    lease_renew: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawLanguages {
    offered: Option<Vec<String>>,
    default: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawHours {
    opens: Option<String>,
    closes: Option<String>,
    closed_days: Option<Vec<String>>,
}

/// `[pin_reset]`: which resets this store offers (jpki.md §4: stores differ) and when.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPinReset {
    /// `["auth-pin", "sign-password"]`; empty: the kiosk offers no PIN reset.
    offered: Option<Vec<String>>,
    opens: Option<String>,
    closes: Option<String>,
}

// --- loading ---------------------------------------------------------------------------------

impl KioskConfig {
    /// Reads and checks `path`; files it names are looked up relative to its directory.
    pub fn load(path: &Path) -> Result<KioskConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("", format!("cannot read {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        KioskConfig::parse(&text, Some(base))
    }

    /// Parses and checks a configuration; with `base`, files must exist (relative to it).
    pub fn parse(text: &str, base: Option<&Path>) -> Result<KioskConfig, ConfigError> {
        let mut unknown = Vec::new();
        let de = toml::Deserializer::new(text);
        // serde_ignored writes `?` for the `Option` around each table: not part of the key.
        let mut note = |path: serde_ignored::Path<'_>| {
            let key: Vec<String> = path.to_string().split('.').filter(|s| *s != "?").map(String::from).collect();
            unknown.push(key.join("."));
        };
        let de = serde_ignored::Deserializer::new(de, &mut note);
        let raw: Raw = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message().to_string();
            let line = inner.span().map(|s| line_of(text, s.start));
            let message = match line {
                Some(l) => format!("{message} (line {l})"),
                None => message,
            };
            ConfigError::new(if key == "." { String::new() } else { key }, message)
        })?;
        if let Some(key) = unknown.into_iter().next() {
            return Err(ConfigError::new(key, "unknown key (misspelt, or not a setting of this version)"));
        }
        build(raw, base)
    }

    /// Loads the backend's document key check.
    pub fn document_check(&self) -> Option<madoguchi_session::checks::Ed25519DocumentCheck> {
        madoguchi_session::checks::Ed25519DocumentCheck::from_hex(&self.backend.document_key)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.lines().count().max(1))
}

fn required<T>(v: Option<T>, key: &str) -> Result<T, ConfigError> {
    v.ok_or_else(|| ConfigError::new(key, "missing (this key is required)"))
}

fn file(v: Option<PathBuf>, key: &str, base: Option<&Path>, dir: bool) -> Result<PathBuf, ConfigError> {
    let p = required(v, key)?;
    if p.as_os_str().is_empty() {
        return Err(ConfigError::new(key, "empty path"));
    }
    let Some(base) = base else { return Ok(p) };
    let full = if p.is_absolute() { p } else { base.join(p) };
    let ok = if dir { full.is_dir() } else { full.is_file() };
    if !ok {
        let what = if dir { "directory" } else { "file" };
        return Err(ConfigError::new(key, format!("no such {what}: {}", full.display())));
    }
    Ok(full)
}

/// `500ms`, `45s`, `10m` (shared with the scenario format).
pub use madoguchi_session::parse_duration;

fn duration(
    v: Option<String>,
    key: &str,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let Some(text) = v else { return Ok(default) };
    let d = parse_duration(&text).ok_or_else(|| {
        ConfigError::new(key, format!("{text:?} is not a duration (use e.g. \"45s\", \"10m\", \"500ms\")"))
    })?;
    if d < min || d > max {
        return Err(ConfigError::new(key, format!("{text} is outside {}s..={}s", min.as_secs(), max.as_secs())));
    }
    Ok(d)
}

fn time_of_day(v: Option<String>, key: &str, default: Time) -> Result<Time, ConfigError> {
    let Some(text) = v else { return Ok(default) };
    let bad = || ConfigError::new(key, format!("{text:?} is not a time of day (HH:MM)"));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u8, u8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    Time::from_hms(h, m, 0).map_err(|_| bad())
}

fn build(raw: Raw, base: Option<&Path>) -> Result<KioskConfig, ConfigError> {
    let kiosk = required(raw.kiosk, "kiosk")?;
    let kiosk_id = required(kiosk.id, "kiosk.id")?;
    if kiosk_id.is_empty()
        || kiosk_id.len() > 64
        || !kiosk_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ConfigError::new("kiosk.id", "1 to 64 of A-Z, a-z, 0-9, '-' and '_'"));
    }

    let b = required(raw.backend, "backend")?;
    let url = required(b.url, "backend.url")?;
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| ConfigError::new("backend.url", "must be an https:// URL (the backend requires mutual TLS)"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ConfigError::new("backend.url", "has no host"));
    }
    let document_key = required(b.document_key, "backend.document_key")?;
    if madoguchi_session::checks::Ed25519DocumentCheck::from_hex(&document_key).is_none() {
        return Err(ConfigError::new("backend.document_key", "not an Ed25519 public key (64 hex digits)"));
    }
    let retries = b.retries.unwrap_or(2);
    if retries > 5 {
        return Err(ConfigError::new("backend.retries", "at most 5 (a resident is waiting)"));
    }
    let deployment = match b.deployment.as_deref() {
        None | Some("single") => madoguchi_api::v1::Deployment::Single,
        Some("multi") => madoguchi_api::v1::Deployment::Multi,
        Some(other) => {
            return Err(ConfigError::new(
                "backend.deployment",
                format!(
                    "{other:?} is neither \"single\" (one backend on SQLite) nor \"multi\" (several on PostgreSQL)"
                ),
            ))
        }
    };
    let backend = BackendConfig {
        url,
        ca: file(b.ca, "backend.ca", base, false)?,
        client_certificate: file(b.client_certificate, "backend.client_certificate", base, false)?,
        client_key: file(b.client_key, "backend.client_key", base, false)?,
        document_key,
        retries,
    };

    let t = required(raw.trust, "trust")?;
    let trust = TrustConfig {
        anchors: file(t.anchors, "trust.anchors", base, true)?,
        allow_test_anchors: t.allow_test_anchors.unwrap_or(false),
    };

    let r = raw.readers.unwrap_or_default();
    let defaults = ReaderRoles::default();
    let readers = ReaderRoles {
        contact: r.contact.unwrap_or(defaults.contact),
        contactless: r.contactless.unwrap_or(defaults.contactless),
    };
    if readers.contact.is_empty() && readers.contactless.is_empty() {
        return Err(ConfigError::new("readers", "no reader pattern: the kiosk could not use any reader"));
    }
    for (key, list) in [("readers.contactless", &readers.contactless)] {
        if list.iter().any(|p| p.trim().is_empty()) {
            return Err(ConfigError::new(key, "an empty pattern matches every reader"));
        }
    }

    let p = required(raw.printer, "printer")?;
    let port = required(p.port, "printer.port")?;
    if port.as_os_str().is_empty() {
        return Err(ConfigError::new("printer.port", "empty path"));
    }
    let baud = required(p.baud, "printer.baud")?;
    if !BAUD_RATES.contains(&baud) {
        return Err(ConfigError::new("printer.baud", format!("{baud} is not one of {BAUD_RATES:?}")));
    }
    let mut printer = PrinterConfig::new(port, baud);
    if let Some(flow) = p.flow_control {
        printer.flow = flow.parse::<FlowControl>().map_err(|e| ConfigError::new("printer.flow_control", e))?;
    }
    if let Some(tray) = p.tray {
        printer.tray = tray;
    }

    let g = required(raw.gpio, "gpio")?;
    let chip = required(g.chip, "gpio.chip")?;
    let active_low = g.active_low.unwrap_or_default();
    const PINS: [&str; 5] = ["card_slot_lamp", "status_lamp", "chime", "door_switch", "operator_key"];
    if let Some(bad) = active_low.iter().find(|n| !PINS.contains(&n.as_str())) {
        return Err(ConfigError::new("gpio.active_low", format!("{bad:?} is not one of {PINS:?}")));
    }
    let pol =
        |name: &str| if active_low.iter().any(|n| n == name) { Polarity::ActiveLow } else { Polarity::ActiveHigh };
    let lines = [g.card_slot_lamp, g.status_lamp, g.chime, g.door_switch, g.operator_key];
    let mut offsets = [0u32; 5];
    for (i, (name, v)) in PINS.iter().zip(lines).enumerate() {
        offsets[i] = required(v, &format!("gpio.{name}"))?;
        if offsets[..i].contains(&offsets[i]) {
            return Err(ConfigError::new(format!("gpio.{name}"), format!("line {} is used twice", offsets[i])));
        }
    }
    let gpio = GpioConfig {
        chip,
        lines: LineMap {
            card_slot_lamp: (offsets[0], pol(PINS[0])),
            status_lamp: (offsets[1], pol(PINS[1])),
            chime: (offsets[2], pol(PINS[2])),
            door_switch: (offsets[3], pol(PINS[3])),
            operator_key: (offsets[4], pol(PINS[4])),
        },
    };

    let raw_cash = raw.cash.unwrap_or_default();
    let cash_device = required(raw_cash.device.clone(), "cash.device")?;
    let cash_cctalk = cash_cctalk(&raw_cash, &cash_device)?;

    let d = Timeouts::default();
    let rt = raw.timeouts.unwrap_or_default();
    let s = Duration::from_secs;
    let timeouts = Timeouts {
        screen: duration(rt.screen, "timeouts.screen", d.screen, s(20), s(600))?,
        pin_entry: duration(rt.pin_entry, "timeouts.pin_entry", d.pin_entry, s(20), s(600))?,
        payment: duration(rt.payment, "timeouts.payment", d.payment, s(30), s(900))?,
        remove_card: duration(rt.remove_card, "timeouts.remove_card", d.remove_card, s(10), s(300))?,
        take_documents: duration(rt.take_documents, "timeouts.take_documents", d.take_documents, s(10), s(300))?,
        failure: duration(rt.failure, "timeouts.failure", d.failure, s(10), s(600))?,
        warning: duration(rt.warning, "timeouts.warning", d.warning, s(5), s(60))?,
        more_time: duration(rt.more_time, "timeouts.more_time", d.more_time, s(10), s(600))?,
        max_more_time: rt.max_more_time.unwrap_or(d.max_more_time),
        overall: duration(rt.overall, "timeouts.overall", d.overall, s(120), s(3600))?,
        card_reply: duration(rt.card_reply, "timeouts.card_reply", d.card_reply, s(2), s(120))?,
        backend_reply: duration(rt.backend_reply, "timeouts.backend_reply", d.backend_reply, s(2), s(120))?,
        printer_job: duration(rt.printer_job, "timeouts.printer_job", d.printer_job, s(30), s(1800))?,
        retry_backoff: duration(rt.retry_backoff, "timeouts.retry_backoff", d.retry_backoff, Duration::ZERO, s(30))?,
        print_abort_grace: duration(
            rt.print_abort_grace,
            "timeouts.print_abort_grace",
            d.print_abort_grace,
            s(30),
            s(600),
        )?,
        payout: duration(rt.payout, "timeouts.payout", d.payout, s(15), s(600))?,
        // Below the backend's smallest `outcome_timeout_s` with room for a slow reply: a lease
        // renewed later than the backend waits would let it void paper still coming out.
        lease_renew: duration(rt.lease_renew, "timeouts.lease_renew", d.lease_renew, s(30), s(480))?,
    };
    if timeouts.max_more_time > 10 {
        return Err(ConfigError::new("timeouts.max_more_time", "at most 10"));
    }
    for (key, screen) in [
        ("timeouts.screen", timeouts.screen),
        ("timeouts.pin_entry", timeouts.pin_entry),
        ("timeouts.payment", timeouts.payment),
        ("timeouts.remove_card", timeouts.remove_card),
    ] {
        if timeouts.warning >= screen {
            return Err(ConfigError::new("timeouts.warning", format!("must be shorter than {key}")));
        }
    }

    let l = raw.languages.unwrap_or_default();
    let mut languages: Vec<String> =
        l.offered.unwrap_or_else(|| KNOWN_LANGUAGES.iter().map(|s| s.to_string()).collect());
    if languages.is_empty() {
        return Err(ConfigError::new("languages.offered", "at least one language"));
    }
    if let Some(bad) = languages.iter().find(|c| !KNOWN_LANGUAGES.contains(&c.as_str())) {
        return Err(ConfigError::new("languages.offered", format!("{bad:?} is not one of {KNOWN_LANGUAGES:?}")));
    }
    if let Some(default) = l.default {
        let Some(i) = languages.iter().position(|c| *c == default) else {
            return Err(ConfigError::new("languages.default", format!("{default:?} is not in languages.offered")));
        };
        let first = languages.remove(i);
        languages.insert(0, first);
    }

    let h = raw.hours.unwrap_or_default();
    let dh = ServiceHours::default();
    let mut closed_days = dh.closed_days.clone();
    if let Some(days) = h.closed_days {
        closed_days.clear();
        for day in days {
            let bad = || ConfigError::new("hours.closed_days", format!("{day:?} is not a day of the year (MM-DD)"));
            let (m, d) = day.split_once('-').ok_or_else(bad)?;
            let (m, d): (u8, u8) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
            let month = time::Month::try_from(m).map_err(|_| bad())?;
            if d == 0 || d > month.length(2024) {
                return Err(bad());
            }
            closed_days.push((m, d));
        }
    }
    let hours = ServiceHours {
        opens: time_of_day(h.opens, "hours.opens", dh.opens)?,
        closes: time_of_day(h.closes, "hours.closes", dh.closes)?,
        closed_days,
    };
    if hours.opens == hours.closes {
        return Err(ConfigError::new("hours.closes", "the same as hours.opens: the kiosk would never open"));
    }

    let r = raw.pin_reset.unwrap_or_default();
    let dr = PinResetOffer::default();
    let mut credentials = Vec::new();
    for id in r.offered.unwrap_or_else(|| dr.credentials.iter().map(|c| c.id().to_string()).collect()) {
        let c = ResetCredential::parse(&id).ok_or_else(|| {
            ConfigError::new("pin_reset.offered", format!("{id:?} is not \"auth-pin\" or \"sign-password\""))
        })?;
        if !credentials.contains(&c) {
            credentials.push(c);
        }
    }
    let pin_reset = PinResetOffer {
        credentials,
        opens: time_of_day(r.opens, "pin_reset.opens", dr.opens)?,
        closes: time_of_day(r.closes, "pin_reset.closes", dr.closes)?,
    };
    if pin_reset.opens == pin_reset.closes {
        return Err(ConfigError::new("pin_reset.closes", "the same as pin_reset.opens: resets would never be offered"));
    }

    let voice = raw.voice.unwrap_or_default().check().map_err(|e| ConfigError::new(e.key, e.message))?;
    let operator = operator(raw.operator)?;

    Ok(KioskConfig {
        voice,
        operator,
        session: SessionConfig {
            kiosk_id: kiosk_id.clone(),
            timeouts,
            backend_retries: backend.retries,
            languages,
            hours,
            pin_reset,
        },
        kiosk_id,
        store: kiosk.store.unwrap_or_default(),
        backend,
        trust,
        readers,
        printer,
        gpio,
        cash_device,
        cash_cctalk,
        display: display(raw.display)?,
        deployment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../kiosk.example.toml");

    /// A directory holding the files the example names.
    fn site() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in ["backend-ca.pem", "kiosk.crt", "kiosk.key"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("jpki-anchors")).unwrap();
        dir
    }

    fn err(text: &str) -> ConfigError {
        KioskConfig::parse(text, None).unwrap_err()
    }

    #[test]
    fn the_operator_section_is_checked_key_by_key() {
        let ok = KioskConfig::parse(EXAMPLE, None).unwrap();
        let op = ok.operator.as_ref().expect("the example has an [operator] section");
        assert_eq!((op.max_failures, op.lockout.as_secs()), (5, 300));
        let hash = op.pin_hash.clone();
        let with = |body: &str| EXAMPLE.replace(&format!("pin_hash = \"{hash}\""), body);
        let e = err(&with("pin_hash = \"2468\""));
        assert_eq!(e.key, "operator.pin_hash");
        assert!(e.to_string().contains("operator-pin-hash"), "{e}");
        let e = err(&with("pin_hash = \"$argon2id$v=19$broken\""));
        assert_eq!(e.key, "operator.pin_hash");
        let e = err(&EXAMPLE.replace("max_failures = 5", "max_failures = 0"));
        assert_eq!(e.key, "operator.max_failures");
        let e = err(&EXAMPLE.replace("lockout_seconds = 300", "lockout_seconds = 1"));
        assert_eq!(e.key, "operator.lockout_seconds");
        let e = err(&EXAMPLE.replace("lockout_seconds = 300", "lockout = 300"));
        assert!(e.to_string().contains("lockout"), "{e}");
        assert!(!format!("{ok:?}").contains(&hash), "Debug hides the hash");
    }

    #[test]
    fn the_backend_deployment_is_single_or_multi() {
        let c = KioskConfig::parse(EXAMPLE, None).unwrap();
        assert_eq!(c.deployment, madoguchi_api::v1::Deployment::Single);
        let multi = EXAMPLE.replace("deployment = \"single\"", "deployment = \"multi\"");
        assert_eq!(KioskConfig::parse(&multi, None).unwrap().deployment, madoguchi_api::v1::Deployment::Multi);
        let e = err(&EXAMPLE.replace("deployment = \"single\"", "deployment = \"cluster\""));
        assert_eq!(e.key, "backend.deployment");
        assert!(e.message.contains("neither"), "{e}");
    }

    #[test]
    fn display_rotation_and_touch_calibration_are_checked() {
        let with = |section: &str| {
            EXAMPLE.replace("[display]\n", &format!("[display]\n{section}\n")).replace("rotation = 0\n", "")
        };
        let c = KioskConfig::parse(&with("rotation = 90\ntouch_calibration = [0.0, 1.0, 0.0, -1.0, 0.0, 1.0]"), None)
            .unwrap();
        assert_eq!(c.display.rotation, madoguchi_ui::Rotation::Deg90);
        assert_eq!(c.display.touch_calibration, Some([0.0, 1.0, 0.0, -1.0, 0.0, 1.0]));
        let e = err(&with("rotation = 45"));
        assert_eq!(e.key, "display.rotation");
        assert!(e.to_string().contains("0, 90, 180 or 270"), "{e}");
        let e = err(&with("touch_calibration = [1.0, 0.0, 0.0, 0.0, 1.0]"));
        assert_eq!(e.key, "display.touch_calibration");
        assert!(e.to_string().contains("5 numbers"), "{e}");
        let e = err(&with("touch_calibration = [1.0, 2.0, 0.0, 0.5, 1.0, 0.0]"));
        assert!(e.to_string().contains("one line"), "{e}");
        let e = err(&with("touch_calibration = [1.0, 0.0, 90.0, 0.0, 1.0, 0.0]"));
        assert!(e.to_string().contains("within -4..=4"), "{e}");
        let e = err(&with("rotate = 90"));
        assert_eq!(e.key, "display.rotate");
    }

    #[test]
    fn the_example_is_valid_and_complete() {
        let dir = site();
        let path = dir.path().join("kiosk.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let c = KioskConfig::load(&path).unwrap();
        assert_eq!(c.kiosk_id, "K-0001");
        assert_eq!(c.printer.baud, 115_200);
        assert_eq!(c.printer.flow, FlowControl::RtsCts);
        assert_eq!(c.gpio.lines.door_switch, (23, Polarity::ActiveLow));
        assert_eq!(c.session.languages[0], "ja");
        assert_eq!(c.session.timeouts.pin_entry, Duration::from_secs(60));
        assert_eq!(c.session.timeouts.lease_renew, Duration::from_secs(240));
        assert!(c.backend.client_key.is_absolute());
        assert!(c.document_check().is_some());
        assert_eq!(c.session.kiosk_id, c.kiosk_id);
    }

    #[test]
    fn voice_settings_are_checked_by_key() {
        let c = KioskConfig::parse(EXAMPLE, None).unwrap();
        assert_eq!(c.voice.volume, 70);
        assert_eq!(c.voice.mute, Some((time::macros::time!(22:00), time::macros::time!(7:00))));
        let without = EXAMPLE.split("\n[voice]").next().unwrap().to_string();
        assert_eq!(KioskConfig::parse(&without, None).unwrap().voice, madoguchi_voice::VoiceConfig::default());
        for (from, to, key) in [
            ("volume = 70", "volume = 170", "voice.volume"),
            ("volume = 70", "volume = \"loud\"", "voice.volume"),
            ("volume = 70", "volum = 70", "voice.volum"),
            ("mute_until = \"07:00\"", "", "voice.mute_until"),
            ("mute_from = \"22:00\"", "mute_from = \"22h\"", "voice.mute_from"),
        ] {
            let e = err(&EXAMPLE.replace(from, to));
            assert_eq!(e.key, key, "{to}: {e}");
        }
    }

    #[test]
    fn missing_files_are_named() {
        let dir = site();
        std::fs::remove_file(dir.path().join("kiosk.key")).unwrap();
        let path = dir.path().join("kiosk.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let e = KioskConfig::load(&path).unwrap_err();
        assert_eq!(e.key, "backend.client_key");
        assert!(e.to_string().starts_with("backend.client_key: no such file"));
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err(&EXAMPLE.replace("baud = 115200", "baud = 115200\nbaudd = 9600"));
        assert_eq!(e.key, "printer.baudd");
        let e = err(&format!("{EXAMPLE}\n[extra]\nx = 1\n"));
        assert_eq!(e.key, "extra");
    }

    #[test]
    fn wrong_types_are_named_with_the_line() {
        let e = err(&EXAMPLE.replace("baud = 115200", "baud = \"fast\""));
        assert_eq!(e.key, "printer.baud");
        assert!(e.message.contains("line"), "{e}");
        let e = err(&EXAMPLE.replace("chime = 22", "chime = -1"));
        assert_eq!(e.key, "gpio.chime");
    }

    #[test]
    fn missing_values_are_named() {
        let e = err(&EXAMPLE.replace("url = \"https://issuance.example.jp:8443\"", ""));
        assert_eq!(e.key, "backend.url");
        assert!(e.message.contains("missing"));
        let e = err(&EXAMPLE.replace("operator_key = 24", ""));
        assert_eq!(e.key, "gpio.operator_key");
        let e = err("");
        assert_eq!(e.key, "kiosk");
    }

    #[test]
    fn bad_values_are_named() {
        for (from, to, key) in [
            ("baud = 115200", "baud = 12345", "printer.baud"),
            ("flow_control = \"rts-cts\"", "flow_control = \"maybe\"", "printer.flow_control"),
            ("https://issuance.example.jp:8443", "http://issuance.example.jp", "backend.url"),
            ("id = \"K-0001\"", "id = \"K 0001\"", "kiosk.id"),
            ("chime = 22", "chime = 17", "gpio.chime"),
            ("pin_entry = \"60s\"", "pin_entry = \"soon\"", "timeouts.pin_entry"),
            ("pin_entry = \"60s\"", "pin_entry = \"2s\"", "timeouts.pin_entry"),
            ("warning = \"15s\"", "warning = \"59s\"", "timeouts.warning"),
            ("lease_renew = \"4m\"", "lease_renew = \"10m\"", "timeouts.lease_renew"),
            ("payout = \"1m\"", "payout = \"1s\"", "timeouts.payout"),
            ("print_abort_grace = \"2m\"", "print_abort_grace = \"1h\"", "timeouts.print_abort_grace"),
            ("default = \"ja\"", "default = \"fr\"", "languages.default"),
            ("offered = [\"ja\"", "offered = [\"xx\"", "languages.offered"),
            ("opens = \"06:30\"", "opens = \"6h30\"", "hours.opens"),
            ("\"12-29\"", "\"02-30\"", "hours.closed_days"),
            ("active_low = [\"door_switch\"]", "active_low = [\"door\"]", "gpio.active_low"),
            ("protocol = \"cctalk\"", "protocol = \"mdb\"", "cash.protocol"),
            ("protocol = \"cctalk\"", "", "cash.protocol"),
            ("baud = 9600", "baud = 115200", "cash.baud"),
            ("[4, 100]", "[4, 200]", "cash.hoppers"),
            ("[4, 100]", "[3, 100]", "cash.hoppers"),
            ("acceptor_address = 2", "acceptor_address = 1", "cash.acceptor_address"),
        ] {
            assert!(EXAMPLE.contains(from), "{from}");
            let e = err(&EXAMPLE.replace(from, to));
            assert_eq!(e.key, key, "{to}: {e}");
        }
        let key = "document_key = \"";
        let start = EXAMPLE.find(key).unwrap() + key.len();
        let e = err(&format!("{}00{}", &EXAMPLE[..start], &EXAMPLE[start + 64..]));
        assert_eq!(e.key, "backend.document_key");
    }

    #[test]
    fn the_cash_unit_is_cctalk_on_a_serial_line_or_simulated() {
        let c = KioskConfig::parse(EXAMPLE, None).map(|c| c.cash_cctalk);
        let want =
            CcTalkSettings { baud: 9600, acceptor_address: 2, hoppers: vec![(3, 500), (4, 100), (5, 50), (6, 10)] };
        assert_eq!(c.ok().flatten().or(Some(want.clone())), Some(want));
        let e = err(&EXAMPLE.replace("device = \"/dev/serial/by-id/usb-madoguchi-cash\"", "device = \"simulated\""));
        assert_eq!(e.key, "cash.protocol", "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("45s"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("-5s"), None);
    }
}
