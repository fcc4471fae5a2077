//! Operator diagnostics: `madoguchi card info` and `madoguchi card pin-status`.
//!
//! They show what the kiosk sees of a card without ever spending a PIN try: only SELECT, READ
//! BINARY and *empty* VERIFY (which reports the counter) are sent. No PIN is asked for.
//!
//! The commands look at the PC/SC readers the options select; each also has an `_on` form that
//! takes any [`Connector`] (the card worker's trait), so they run on an in-memory card in tests.

use madoguchi_certs::{validity, JpkiCertificate, TrustAnchors};
use madoguchi_drivers::card::{
    Connector, PcscConnector, ReaderEvent, ReaderInterface, ReaderRoles, Readers, TransportErrorKind,
};
use madoguchi_drivers::jpki::{CertificateEf, JpkiCard, JpkiError, JpkiErrorKind, PinKind, PinStatus, TokenKind};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options shared by the `card` subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct CardOptions {
    /// Reader-name pattern (case-insensitive substring) of a contact reader; repeatable.
    #[arg(long = "contact", value_name = "PATTERN")]
    pub contact: Vec<String>,
    /// Reader-name pattern of a contactless reader; repeatable.
    #[arg(long = "contactless", value_name = "PATTERN")]
    pub contactless: Vec<String>,
    /// Use only readers whose name contains this.
    #[arg(long, value_name = "PATTERN")]
    pub reader: Option<String>,
    /// Wait up to this many seconds for a card to be placed.
    #[arg(long, default_value_t = 0)]
    pub wait: u64,
    /// Directory of pinned JPKI trust anchors (DER or PEM) to check the chain against.
    #[arg(long, value_name = "DIR")]
    pub anchors: Option<PathBuf>,
    /// Accept test trust anchors (demo world); never on a production kiosk.
    #[arg(long)]
    pub allow_test_anchors: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

impl CardOptions {
    fn roles(&self) -> ReaderRoles {
        let mut roles = if self.contact.is_empty() && self.contactless.is_empty() {
            ReaderRoles::default()
        } else {
            ReaderRoles { contact: self.contact.clone(), contactless: self.contactless.clone() }
        };
        if let Some(only) = &self.reader {
            let only = only.to_lowercase();
            let keep = |v: &mut Vec<String>| {
                if v.iter().any(|p| only.contains(&p.to_lowercase())) {
                    *v = vec![only.clone()];
                } else {
                    v.clear();
                }
            };
            keep(&mut roles.contactless);
            if roles.contactless.is_empty() {
                keep(&mut roles.contact);
            } else {
                roles.contact.clear();
            }
        }
        roles
    }

    /// The PC/SC readers these options select.
    pub fn connector(&self) -> PcscConnector {
        PcscConnector::new(self.roles())
    }
}

/// A failure the operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum DiagError {
    #[error("PC/SC: {0} (is pcscd running?)")]
    Transport(#[from] madoguchi_drivers::card::TransportError),
    #[error("no card or phone on any reader{0}")]
    NoCard(String),
    #[error("card: {0}")]
    Card(#[from] JpkiError),
    #[error("trust anchors: {0}")]
    Anchors(String),
}

impl DiagError {
    /// The card went away during the inspection.
    fn card_removed(&self) -> bool {
        match self {
            DiagError::Card(e) => e.kind() == JpkiErrorKind::Removed,
            DiagError::Transport(e) => e.kind() == TransportErrorKind::CardRemoved,
            _ => false,
        }
    }
}

/// What a JSON consumer or the operator's screen gets.
#[derive(Debug, Default)]
pub struct CardReport {
    pub readers: Vec<(String, ReaderInterface)>,
    pub reader: String,
    pub interface: Option<ReaderInterface>,
    pub atr: Vec<u8>,
    pub token: Option<TokenKind>,
    pub auth_pin: Option<PinStatus>,
    pub sign_pin: Option<PinStatus>,
    pub certificate: Option<CertSummary>,
    /// Why the certificate could not be shown (e.g. Android token before the PIN).
    pub certificate_note: Option<String>,
    pub apdus: u32,
}

#[derive(Debug)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub expires_in_days: i64,
    pub expired: bool,
    pub renewal_window_open: bool,
    /// `None` when no anchors were given.
    pub chain: Option<Result<String, String>>,
}

/// Collects the report. `with_certificate` is false for `pin-status`.
pub fn inspect(opts: &CardOptions, with_certificate: bool) -> Result<CardReport, DiagError> {
    inspect_on(&opts.connector(), opts, with_certificate)
}

/// [`inspect`] on the readers of `connector`.
pub fn inspect_on(
    connector: &dyn Connector,
    opts: &CardOptions,
    with_certificate: bool,
) -> Result<CardReport, DiagError> {
    let anchors = match &opts.anchors {
        Some(dir) => {
            Some(TrustAnchors::from_dir(dir, opts.allow_test_anchors).map_err(|e| DiagError::Anchors(e.to_string()))?)
        }
        None => None,
    };
    let mut monitor = connector.open()?;
    let deadline = Instant::now() + Duration::from_secs(opts.wait);
    loop {
        if let Some((reader, interface)) = monitor.reader_with_card()? {
            match inspect_card(monitor.as_ref(), &reader, interface, anchors.as_ref(), with_certificate) {
                // The card left (or pcscd had not yet noticed the previous one leave): wait for
                // the next change rather than report a stale card.
                Err(e) if e.card_removed() && Instant::now() < deadline => {}
                other => return other,
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let readers = monitor.list()?;
            let list = if readers.is_empty() {
                " (no readers found)".to_string()
            } else {
                format!(" (readers: {})", readers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "))
            };
            return Err(DiagError::NoCard(list));
        }
        monitor.wait(Some(left))?;
    }
}

fn inspect_card(
    monitor: &dyn Readers,
    reader: &str,
    interface: ReaderInterface,
    anchors: Option<&TrustAnchors>,
    with_certificate: bool,
) -> Result<CardReport, DiagError> {
    let mut report = CardReport {
        readers: monitor.list()?,
        reader: reader.to_owned(),
        interface: Some(interface),
        ..Default::default()
    };
    let transport = monitor.connect(reader)?;
    report.atr = transport.atr().to_vec();
    let mut card = JpkiCard::open(transport)?;
    report.token = Some(card.token());
    if with_certificate {
        match card.read_certificate(CertificateEf::UserAuth) {
            Ok(der) => report.certificate = Some(summarise(&der, anchors)),
            Err(JpkiError::SecurityStatusNotSatisfied) => {
                report.certificate_note = Some("readable only after the PIN on this token (Android); not shown".into())
            }
            Err(e) => return Err(e.into()),
        }
    }
    report.auth_pin = Some(card.pin_status(PinKind::UserAuth)?);
    // Phones and under-15 cards may have no signature password; report what the card says.
    report.sign_pin = card.pin_status(PinKind::Signature).ok();
    report.apdus = card.apdu_count();
    card.into_transport().release();
    Ok(report)
}

fn summarise(der: &[u8], anchors: Option<&TrustAnchors>) -> CertSummary {
    let now = time::OffsetDateTime::now_utc();
    match JpkiCertificate::from_der(der) {
        Ok(cert) => {
            let st = validity::status(&cert, now);
            CertSummary {
                subject: cert.subject(),
                issuer: cert.issuer(),
                serial: cert.serial_hex(),
                not_before: cert.not_before().date().to_string(),
                not_after: cert.not_after().date().to_string(),
                expires_in_days: st.expires_in_days,
                expired: st.expired,
                renewal_window_open: st.renewal_window_open,
                // Trust is judged within the certificate's validity; expiry is reported on its own.
                chain: anchors.map(|a| match a.verify_chain(&cert, now.min(cert.not_after())) {
                    Ok(anchor) => {
                        Ok(format!("{} (valid to {})", anchor.cert().subject(), anchor.cert().not_after().date()))
                    }
                    Err(e) => Err(e.to_string()),
                }),
            }
        }
        Err(e) => CertSummary {
            subject: format!("(unparseable certificate: {e})"),
            issuer: String::new(),
            serial: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            expires_in_days: 0,
            expired: true,
            renewal_window_open: false,
            chain: None,
        },
    }
}

fn pin_text(p: Option<PinStatus>) -> String {
    match p {
        Some(PinStatus::Tries(t)) => format!("{} of {} tries left", t.left, t.max),
        Some(PinStatus::Blocked) => "BLOCKED (reset at city hall or the PIN-reset service)".into(),
        Some(PinStatus::Verified) => "no PIN needed now (verified on the token)".into(),
        None => "not present".into(),
    }
}

fn interface_text(i: ReaderInterface) -> &'static str {
    match i {
        ReaderInterface::Contact => "contact",
        ReaderInterface::Contactless => "contactless",
    }
}

/// Human-readable report for the operator.
pub fn render_text(r: &CardReport, with_certificate: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Readers:");
    for (name, i) in &r.readers {
        let mark = if *name == r.reader { "  <- card" } else { "" };
        let _ = writeln!(s, "  {name}  ({}){mark}", interface_text(*i));
    }
    let token = r.token.map(|t| t.describe()).unwrap_or("unknown");
    let _ = writeln!(s, "Token:        {token}");
    let _ = writeln!(s, "ATR:          {}", hex(&r.atr));
    if with_certificate {
        if let Some(c) = &r.certificate {
            let _ = writeln!(s, "User-authentication certificate:");
            let _ = writeln!(s, "  Subject:    {}", c.subject);
            let _ = writeln!(s, "  Issuer:     {}", c.issuer);
            let _ = writeln!(s, "  Serial:     {}", c.serial);
            let _ = writeln!(s, "  Valid:      {} to {}", c.not_before, c.not_after);
            let state = if c.expired {
                "EXPIRED: renew at the municipal office".to_string()
            } else if c.renewal_window_open {
                format!("expires in {} days; renewal window OPEN", c.expires_in_days)
            } else {
                format!("expires in {} days; renewal window not yet open", c.expires_in_days)
            };
            let _ = writeln!(s, "  Status:     {state}");
            match &c.chain {
                None => {
                    let _ = writeln!(s, "  Chain:      not checked (no --anchors)");
                }
                Some(Ok(a)) => {
                    let _ = writeln!(s, "  Chain:      trusted, anchor {a}");
                }
                Some(Err(e)) => {
                    let _ = writeln!(s, "  Chain:      NOT TRUSTED: {e}");
                }
            }
        } else if let Some(n) = &r.certificate_note {
            let _ = writeln!(s, "User-authentication certificate: {n}");
        }
    }
    let _ = writeln!(s, "PIN (user authentication): {}", pin_text(r.auth_pin));
    let _ = writeln!(s, "Password (signature):      {}", pin_text(r.sign_pin));
    let _ = writeln!(s, "APDUs sent: {} (no PIN try spent)", r.apdus);
    s
}

fn json_pin(p: Option<PinStatus>) -> serde_json::Value {
    use serde_json::json;
    match p {
        Some(PinStatus::Tries(t)) => json!({"state": "tries", "tries_left": t.left, "max": t.max}),
        Some(PinStatus::Blocked) => json!({"state": "blocked", "tries_left": 0}),
        Some(PinStatus::Verified) => json!({"state": "verified"}),
        None => serde_json::Value::Null,
    }
}

/// JSON report (a stable shape for scripts and tests).
pub fn render_json(r: &CardReport) -> String {
    use serde_json::json;
    let token = r.token.map(|t| match t {
        TokenKind::Card => "card",
        TokenKind::LegacyJukiCard => "juki",
        TokenKind::Android => "android",
        TokenKind::Iphone => "iphone",
    });
    let certificate = r.certificate.as_ref().map(|c| {
        json!({
            "subject": c.subject, "issuer": c.issuer, "serial": c.serial,
            "not_before": c.not_before, "not_after": c.not_after,
            "expires_in_days": c.expires_in_days, "expired": c.expired,
            "renewal_window_open": c.renewal_window_open,
            "chain": match &c.chain {
                None => serde_json::Value::Null,
                Some(Ok(a)) => json!({"trusted": true, "anchor": a}),
                Some(Err(e)) => json!({"trusted": false, "error": e}),
            },
        })
    });
    json!({
        "readers": r.readers.iter().map(|(n, i)| json!({"name": n, "interface": interface_text(*i)})).collect::<Vec<_>>(),
        "reader": r.reader,
        "interface": r.interface.map(interface_text),
        "atr": hex(&r.atr),
        "token": token,
        "certificate": certificate,
        "certificate_note": r.certificate_note,
        "auth_pin": json_pin(r.auth_pin),
        "sign_pin": json_pin(r.sign_pin),
        "apdus": r.apdus,
    })
    .to_string()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join(" ")
}

/// Result of [`auth_check`].
#[derive(Debug)]
pub struct AuthCheck {
    pub token: TokenKind,
    pub tries_before: PinStatus,
    pub tries_after: PinStatus,
    pub signature_valid: bool,
    pub apdus: u32,
    pub elapsed: Duration,
}

/// Runs the resident authentication path once, as the kiosk will: token, user-auth
/// certificate, tries left, VERIFY, signature over a fresh random challenge, and checks the
/// signature against the certificate's key. For service technicians with a test card; the PIN
/// comes from a zeroizing buffer and goes nowhere but the card.
pub fn auth_check(opts: &CardOptions, pin_text: &zeroize::Zeroizing<String>) -> Result<AuthCheck, DiagError> {
    auth_check_on(&opts.connector(), pin_text)
}

/// [`auth_check`] on the first card on the readers of `connector`.
pub fn auth_check_on(connector: &dyn Connector, pin_text: &zeroize::Zeroizing<String>) -> Result<AuthCheck, DiagError> {
    use madoguchi_drivers::jpki::{Pin, SigningKey};
    let monitor = connector.open()?;
    let (reader, _) = monitor.reader_with_card()?.ok_or_else(|| DiagError::NoCard(String::new()))?;
    let started = Instant::now();
    let mut card = JpkiCard::open(monitor.connect(&reader)?)?;
    let token = card.token();
    let pin = Pin::new(PinKind::UserAuth, pin_text.trim())?;
    // Android tokens release the certificate only after the PIN.
    let before = card.pin_status(PinKind::UserAuth)?;
    let der = match card.read_certificate(CertificateEf::UserAuth) {
        Err(JpkiError::SecurityStatusNotSatisfied) => None,
        other => Some(other?),
    };
    if before != PinStatus::Verified {
        card.verify(&pin)?;
    }
    let der = match der {
        Some(d) => d,
        None => card.read_certificate(CertificateEf::UserAuth)?,
    };
    let mut challenge = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut challenge);
    let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(challenge).into();
    let signature = card.sign_sha256(SigningKey::UserAuth, &hash)?;
    let elapsed = started.elapsed();
    let apdus = card.apdu_count();
    let after = card.pin_status(PinKind::UserAuth)?;
    card.into_transport().release();
    let signature_valid = JpkiCertificate::from_der(&der)
        .ok()
        .map(|c| madoguchi_certs::verify_pkcs1v15_sha256(c.public_key(), &challenge, &signature).is_ok())
        .unwrap_or(false);
    Ok(AuthCheck { token, tries_before: before, tries_after: after, signature_valid, apdus, elapsed })
}

pub fn render_auth_check(a: &AuthCheck) -> String {
    format!(
        "Token:            {}\nTries before:     {}\nPIN:              accepted\nTries after:      {}\nSignature:        {}\nAPDUs:            {} (card placed -> signed)\nTime:             {} ms\n",
        a.token.describe(),
        pin_text(Some(a.tries_before)),
        pin_text(Some(a.tries_after)),
        if a.signature_valid { "valid (verified with the certificate's public key)" } else { "INVALID" },
        a.apdus,
        a.elapsed.as_millis()
    )
}

/// What `madoguchi card watch` waits for before it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WatchUntil {
    /// No accepted reader holds a card.
    Removed,
    /// Some accepted reader holds a card.
    Present,
}

/// Prints reader and card events as PC/SC reports them (an operator checks that a reader sees
/// cards and phones). With `until`, returns once that state holds; `timeout` bounds the wait.
pub fn watch(
    opts: &CardOptions,
    until: Option<WatchUntil>,
    timeout: Option<Duration>,
    out: &mut dyn std::io::Write,
) -> Result<bool, DiagError> {
    watch_on(&opts.connector(), until, timeout, out)
}

/// [`watch`] on the readers of `connector`.
pub fn watch_on(
    connector: &dyn Connector,
    until: Option<WatchUntil>,
    timeout: Option<Duration>,
    out: &mut dyn std::io::Write,
) -> Result<bool, DiagError> {
    let mut monitor = connector.open()?;
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let has_card = monitor.reader_with_card()?.is_some();
        match until {
            Some(WatchUntil::Removed) if !has_card => return Ok(true),
            Some(WatchUntil::Present) if has_card => return Ok(true),
            _ => {}
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(false);
        }
        for event in monitor.wait(left)? {
            let line = match event {
                ReaderEvent::ReaderAdded { reader, interface } => {
                    format!("reader added: {reader} ({})", interface_text(interface))
                }
                ReaderEvent::ReaderRemoved { reader } => format!("reader removed: {reader}"),
                ReaderEvent::CardPresented { reader, interface, atr } => {
                    format!("card placed: {reader} ({}), ATR {}", interface_text(interface), hex(&atr))
                }
                ReaderEvent::CardRemoved { reader } => format!("card removed: {reader}"),
            };
            let _ = writeln!(out, "{line}");
        }
    }
}
