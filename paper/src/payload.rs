//! The backend's signed document data (`DocumentPayload` in `backend/src/domain.rs`, format 1)
//! turned into what the renderer prints: a [`Document`], its [`Issuer`] and the [`Issuance`].
//!
//! The firmware does not link the backend (ARCHITECTURE §1): this is its own serde mirror of
//! the wire form, with unknown fields refused, so that a payload the kiosk does not fully
//! understand is never printed half-understood. Everything is checked before the renderer sees
//! it (dates, required items, lengths, the binding against the body and the verification URL);
//! a bad payload is a [`PayloadError`] that names the field, never its value (the value is the
//! resident's data), and never a panic.
//!
//! The payload says what is printed: an item it does not carry is not printed, and items the
//! kiosk's layout has no place for (the backend's certification sentence and title wording,
//! the 印鑑 registration date) are checked but not printed.

use super::model::*;
use base64::Engine;
use madoguchi_certs::era::wareki;
use serde::Deserialize;
use time::Date;

/// The payload format this kiosk reads.
pub const FORMAT: u32 = 1;

/// Largest payload accepted (a scanned 印影 is at most 256 KiB, base64 a third more).
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Most persons on one document (the backend takes at most 50 in a request).
pub const MAX_PERSONS: usize = 50;

/// Largest scanned 印影 (PNG bytes), as the backend's configuration allows for seals.
pub const MAX_SEAL_PNG: usize = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// The wire form (no Debug: it holds the resident's data)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    format: u32,
    binding: Binding,
    municipality: IssuerInfo,
    title: String,
    issued_on: String,
    issued_on_era: String,
    certification: String,
    verify_url: String,
    verification_code: String,
    body: Body,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Binding {
    session_id: String,
    certificate_fingerprint: String,
    kiosk_id: String,
    issuance_number: String,
    issued_at: String,
    document: String,
    copies: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerInfo {
    code: String,
    name: String,
    prefecture: String,
    issuer_title: String,
    issuer_name: String,
    seal_sha256: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonRecord {
    id: String,
    name: String,
    name_kana: String,
    birth_date: String,
    sex: String,
    relationship: Option<String>,
    became_resident_on: Option<String>,
    address_since: Option<String>,
    previous_address: Option<String>,
    honseki: Option<String>,
    hittousha: Option<String>,
    my_number: Option<String>,
    nationality: Option<String>,
    residence_status: Option<String>,
    residence_period_end: Option<String>,
    father: Option<String>,
    mother: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaxRecordWire {
    municipality_code: String,
    fiscal_year: i32,
    income_year: i32,
    salary_income: i64,
    pension_income: i64,
    total_income: i64,
    taxable_income: i64,
    municipal_tax: i64,
    prefectural_tax: i64,
}

#[derive(Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
enum Body {
    #[serde(rename = "juminhyo")]
    Juminhyo {
        address: String,
        household_head: Option<String>,
        whole_household: bool,
        persons: Vec<PersonRecord>,
        options: Vec<String>,
    },
    #[serde(rename = "kisaijiko")]
    Kisaijiko { address: String, persons: Vec<PersonRecord> },
    #[serde(rename = "inkan")]
    Inkan {
        person: PersonRecord,
        address: String,
        registration_number: String,
        registered_on: String,
        seal_impression: String,
        seal_diameter_mm: i64,
        seal_png: Option<String>,
    },
    #[serde(rename = "kazei")]
    Kazei { person: PersonRecord, address: String, record: TaxRecordWire },
    #[serde(rename = "koseki")]
    Koseki { honseki: String, hittousha: String, whole: bool, persons: Vec<PersonRecord> },
    #[serde(rename = "fuhyo")]
    Fuhyo { honseki: String, hittousha: String, person: PersonRecord, address: String, address_since: Option<String> },
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a payload cannot be printed. Messages name fields (`body.persons[1].birth_date`), never
/// their values, so that the error may be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the document payload is {0} bytes, more than {MAX_PAYLOAD_BYTES}")]
    TooLarge(usize),
    #[error("the document payload does not have the expected form at {path}: {reason}")]
    Malformed { path: String, reason: String },
    #[error("document payload format {0} is not the one this kiosk reads ({FORMAT})")]
    UnsupportedFormat(u32),
    #[error("{field} is missing, and the document cannot be printed without it")]
    Missing { field: String },
    #[error("{field} {why}")]
    Invalid { field: String, why: &'static str },
    #[error("{field} does not agree with {with}")]
    Inconsistent { field: String, with: &'static str },
}

/// The class of a [`PayloadError`], for audit records and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadErrorKind {
    TooLarge,
    Malformed,
    UnsupportedFormat,
    Missing,
    Invalid,
    Inconsistent,
}

impl PayloadError {
    pub fn kind(&self) -> PayloadErrorKind {
        match self {
            PayloadError::TooLarge(_) => PayloadErrorKind::TooLarge,
            PayloadError::Malformed { .. } => PayloadErrorKind::Malformed,
            PayloadError::UnsupportedFormat(_) => PayloadErrorKind::UnsupportedFormat,
            PayloadError::Missing { .. } => PayloadErrorKind::Missing,
            PayloadError::Invalid { .. } => PayloadErrorKind::Invalid,
            PayloadError::Inconsistent { .. } => PayloadErrorKind::Inconsistent,
        }
    }

    /// The field the error is about (`binding.copies`), or `""` for the payload as a whole.
    pub fn field(&self) -> &str {
        match self {
            PayloadError::Malformed { path, .. } => path,
            PayloadError::Missing { field } | PayloadError::Invalid { field, .. } => field,
            PayloadError::Inconsistent { field, .. } => field,
            PayloadError::TooLarge(_) | PayloadError::UnsupportedFormat(_) => "",
        }
    }
}

fn invalid(field: impl Into<String>, why: &'static str) -> PayloadError {
    PayloadError::Invalid { field: field.into(), why }
}

fn missing(field: impl Into<String>) -> PayloadError {
    PayloadError::Missing { field: field.into() }
}

/// serde_json's message without the offending value (which may be the resident's data): field
/// and variant names are the schema's and stay; a value of the wrong type is only described.
fn sanitized(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("not well-formed JSON (line {}, column {})", e.line(), e.column())
        }
        Category::Data => {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or_default();
            let names_only = ["unknown field", "missing field", "duplicate field", "unknown variant"];
            if names_only.iter().any(|p| msg.starts_with(p)) && msg.chars().count() <= 300 {
                msg.to_string()
            } else {
                "a value of the wrong type or out of range".to_string()
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The result

/// A payload ready for the renderer, with what the print job needs of its binding.
#[derive(Clone, PartialEq, Eq)]
pub struct Printable {
    pub document: Document,
    pub issuer: Issuer,
    pub issuance: Issuance,
    /// Copies the document was issued (and paid) for.
    pub copies: u8,
    /// The document id (`juminhyo`, `koseki-kojin`, ...) the payload is bound to.
    pub kind: &'static str,
}

/// Resident data: never in Debug output.
impl std::fmt::Debug for Printable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printable")
            .field("kind", &self.kind)
            .field("issuance", &self.issuance.number)
            .field("copies", &self.copies)
            .finish_non_exhaustive()
    }
}

/// Maps the payload text (exactly as signed) to the renderer's document, issuer and issuance.
pub fn printable(payload_json: &str) -> Result<(Document, Issuer, Issuance), PayloadError> {
    let p = parse(payload_json)?;
    Ok((p.document, p.issuer, p.issuance))
}

/// As [`printable`], also giving the copies and document kind of the binding.
pub fn parse(payload_json: &str) -> Result<Printable, PayloadError> {
    if payload_json.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge(payload_json.len()));
    }
    let mut de = serde_json::Deserializer::from_str(payload_json);
    let p: Payload = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| PayloadError::Malformed { path: e.path().to_string(), reason: sanitized(e.inner()) })?;
    de.end().map_err(|e| PayloadError::Malformed { path: ".".into(), reason: sanitized(&e) })?;
    map(p)
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Printable text: `1..=max` characters (none if not `required` and empty), no control characters.
fn text(field: &str, s: &str, max: usize, required: bool) -> Result<(), PayloadError> {
    if s.trim().is_empty() {
        return if required { Err(missing(field)) } else { Ok(()) };
    }
    if s.chars().count() > max {
        return Err(invalid(field, "is longer than a certificate can hold"));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

/// `1..=max` characters of ASCII letters, digits and `-` (numbers, codes, ids).
fn token(field: &str, s: &str, max: usize) -> Result<(), PayloadError> {
    if s.is_empty() {
        return Err(missing(field));
    }
    if s.len() > max || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(invalid(field, "is not a short code of letters, digits and hyphens"));
    }
    Ok(())
}

fn opt_text(field: &str, s: &Option<String>, max: usize) -> Result<Option<String>, PayloadError> {
    match s {
        Some(v) if !v.trim().is_empty() => {
            text(field, v, max, true)?;
            Ok(Some(v.clone()))
        }
        _ => Ok(None),
    }
}

/// A `YYYY-MM-DD` date between the Meiji era and 2200.
fn date(field: &str, s: &str) -> Result<Date, PayloadError> {
    if s.is_empty() {
        return Err(missing(field));
    }
    let d = Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| invalid(field, "is not a date (YYYY-MM-DD)"))?;
    if !(1868..=2200).contains(&d.year()) {
        return Err(invalid(field, "is not a plausible date"));
    }
    Ok(d)
}

fn opt_date(field: &str, s: &Option<String>) -> Result<Option<Date>, PayloadError> {
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(v) => date(field, v).map(Some),
    }
}

/// Non-negative yen.
fn yen(field: &str, v: i64) -> Result<u64, PayloadError> {
    u64::try_from(v).map_err(|_| invalid(field, "is negative"))
}

/// Text limits (characters), generous for what the layout's boxes can take.
const NAME_MAX: usize = 40;
const KANA_MAX: usize = 80;
const ADDRESS_MAX: usize = 120;
const SHORT_MAX: usize = 40;

/// The document id, the backend's title for it, and the body kind that carries it.
const KINDS: [(&str, &str, &str); 7] = [
    ("juminhyo", "住民票の写し", "juminhyo"),
    ("kisaijiko", "住民票記載事項証明書", "kisaijiko"),
    ("inkan", "印鑑登録証明書", "inkan"),
    ("kazei", "課税・所得証明書", "kazei"),
    ("koseki-zenbu", "戸籍全部事項証明書", "koseki"),
    ("koseki-kojin", "戸籍個人事項証明書", "koseki"),
    ("fuhyo", "戸籍の附票の写し", "fuhyo"),
];

fn body_kind(b: &Body) -> &'static str {
    match b {
        Body::Juminhyo { .. } => "juminhyo",
        Body::Kisaijiko { .. } => "kisaijiko",
        Body::Inkan { .. } => "inkan",
        Body::Kazei { .. } => "kazei",
        Body::Koseki { .. } => "koseki",
        Body::Fuhyo { .. } => "fuhyo",
    }
}

fn map(p: Payload) -> Result<Printable, PayloadError> {
    if p.format != FORMAT {
        return Err(PayloadError::UnsupportedFormat(p.format));
    }
    // The binding: what this payload was issued as.
    let b = &p.binding;
    token("binding.session_id", &b.session_id, 100)?;
    if b.certificate_fingerprint.len() != 64 || !b.certificate_fingerprint.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid("binding.certificate_fingerprint", "is not a SHA-256 fingerprint (64 hex digits)"));
    }
    token("binding.kiosk_id", &b.kiosk_id, 100)?;
    text("binding.issued_at", &b.issued_at, 40, true)?;
    let (kind, title, carrier) = KINDS
        .iter()
        .copied()
        .find(|(id, _, _)| *id == b.document)
        .ok_or_else(|| invalid("binding.document", "is not a document this kiosk prints"))?;
    if carrier != body_kind(&p.body) {
        return Err(PayloadError::Inconsistent { field: "body.kind".into(), with: "binding.document" });
    }
    match (&p.body, kind) {
        (Body::Koseki { whole: true, .. }, "koseki-kojin") | (Body::Koseki { whole: false, .. }, "koseki-zenbu") => {
            return Err(PayloadError::Inconsistent { field: "body.whole".into(), with: "binding.document" })
        }
        _ => {}
    }
    if p.title != title {
        return Err(PayloadError::Inconsistent { field: "title".into(), with: "binding.document" });
    }
    let copies = u8::try_from(b.copies)
        .ok()
        .filter(|c| (1..=20).contains(c))
        .ok_or_else(|| invalid("binding.copies", "is not 1 to 20 copies"))?;

    // The issuance: number, date, verification reference.
    token("binding.issuance_number", &b.issuance_number, 40)?;
    let issued_on = date("issued_on", &p.issued_on)?;
    if p.issued_on_era != wareki(issued_on) {
        return Err(PayloadError::Inconsistent { field: "issued_on_era".into(), with: "issued_on" });
    }
    text("certification", &p.certification, 200, true)?;
    token("verification_code", &p.verification_code, 40)?;
    let issuance = issuance(&p.verify_url, &b.issuance_number, &p.verification_code, issued_on)?;

    // The issuer.
    let m = &p.municipality;
    if m.code.len() != 6 || !m.code.bytes().all(|c| c.is_ascii_digit()) {
        return Err(invalid("municipality.code", "is not a 6-digit 地方公共団体コード"));
    }
    text("municipality.name", &m.name, 20, true)?;
    text("municipality.prefecture", &m.prefecture, 10, true)?;
    text("municipality.issuer_title", &m.issuer_title, 40, true)?;
    text("municipality.issuer_name", &m.issuer_name, 40, true)?;
    if let Some(h) = &m.seal_sha256 {
        if h.len() != 64 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid("municipality.seal_sha256", "is not a SHA-256 (64 hex digits)"));
        }
    }

    let document = match p.body {
        Body::Juminhyo { address, household_head, whole_household, persons, options } => {
            Document::Juminhyo(juminhyo(address, household_head, whole_household, persons, &options)?)
        }
        Body::Kisaijiko { address, persons } => Document::Kisaijiko(kisaijiko(address, persons)?),
        Body::Inkan {
            person,
            address,
            registration_number,
            registered_on,
            seal_impression,
            seal_diameter_mm,
            seal_png,
        } => Document::Inkan(inkan(
            person,
            address,
            registration_number,
            &registered_on,
            seal_impression,
            seal_diameter_mm,
            seal_png,
        )?),
        Body::Kazei { person, address, record } => Document::Kazei(kazei(person, address, record)?),
        Body::Koseki { honseki, hittousha, whole, persons } => {
            Document::Koseki(koseki(honseki, hittousha, whole, persons)?)
        }
        Body::Fuhyo { honseki, hittousha, person, address, address_since } => {
            Document::Fuhyo(fuhyo(honseki, hittousha, person, address, &address_since)?)
        }
    };
    let requested = match &document {
        Document::Juminhyo(j) | Document::Kisaijiko(j) => j.requested,
        _ => ResidentOptions::default(),
    };
    let issuer = Issuer {
        prefecture: m.prefecture.clone(),
        municipality: m.name.clone(),
        title: m.issuer_title.clone(),
        name: m.issuer_name.clone(),
        // The payload names the seal by its hash only; the image is in the signed catalog.
        seal: MunicipalSeal::Drawn,
        // The backend issued only what the municipality enables: what was asked is enabled.
        enabled: requested,
    };
    Ok(Printable { document, issuer, issuance, copies, kind })
}

/// `https://HOST/v1/verify/NUMBER?code=CODE`, the one form the renderer prints in the QR code:
/// any other URL would put on paper something other than what the backend signed.
fn issuance(url: &str, number: &str, code: &str, issued_on: Date) -> Result<Issuance, PayloadError> {
    let wrong = || invalid("verify_url", "is not https://HOST/v1/verify/NUMBER?code=CODE");
    let rest = url.strip_prefix("https://").ok_or_else(wrong)?;
    let (host, _) = rest.split_once('/').ok_or_else(wrong)?;
    let issuance = Issuance {
        number: number.to_string(),
        issued_on,
        verify_host: host.to_string(),
        verify_code: code.to_string(),
    };
    if issuance.validate().is_err() {
        return Err(wrong());
    }
    if issuance.verify_url() != url {
        return Err(PayloadError::Inconsistent {
            field: "verify_url".into(),
            with: "binding.issuance_number and verification_code",
        });
    }
    Ok(issuance)
}

fn sex(field: &str, s: &str) -> Result<Sex, PayloadError> {
    match s {
        "男" | "male" => Ok(Sex::Male),
        "女" | "female" => Ok(Sex::Female),
        "" => Err(missing(field)),
        _ => Err(invalid(field, "is neither 男 nor 女")),
    }
}

/// Checks what every person record must have: id, name, kana, birth date.
fn person_basics(at: &str, p: &PersonRecord) -> Result<Date, PayloadError> {
    token(&format!("{at}.id"), &p.id, 64)?;
    text(&format!("{at}.name"), &p.name, NAME_MAX, true)?;
    text(&format!("{at}.name_kana"), &p.name_kana, KANA_MAX, false)?;
    date(&format!("{at}.birth_date"), &p.birth_date)
}

/// Checks the items a person of this document may carry, refusing the ones it must not.
fn persons_count(at: &str, persons: &[PersonRecord]) -> Result<(), PayloadError> {
    if persons.is_empty() {
        return Err(missing(at));
    }
    if persons.len() > MAX_PERSONS {
        return Err(invalid(at, "lists more persons than one certificate takes"));
    }
    Ok(())
}

/// Options of a 住民票の写し: the printed ones, and `household` (choosing other members).
const JUMINHYO_OPTIONS: [&str; 4] = ["setainushi", "honseki", "kojin_bango", "household"];

fn juminhyo(
    address: String,
    household_head: Option<String>,
    whole: bool,
    persons: Vec<PersonRecord>,
    options: &[String],
) -> Result<Juminhyo, PayloadError> {
    if options.len() > JUMINHYO_OPTIONS.len() * 2 {
        return Err(invalid("body.options", "lists too many options"));
    }
    if let Some(i) = options.iter().position(|o| !JUMINHYO_OPTIONS.contains(&o.as_str())) {
        return Err(invalid(format!("body.options[{i}]"), "is not an option of a 住民票の写し"));
    }
    let has = |o: &str| options.iter().any(|x| x == o);
    let requested = ResidentOptions {
        head_and_relationship: has("setainushi"),
        honseki: has("honseki"),
        previous_address: persons.iter().any(|p| p.previous_address.as_deref().is_some_and(|a| !a.trim().is_empty())),
        my_number: has("kojin_bango"),
        resident_code: false,
    };
    let head = if requested.head_and_relationship {
        let h = household_head.ok_or_else(|| missing("body.household_head"))?;
        text("body.household_head", &h, NAME_MAX, true)?;
        h
    } else {
        String::new()
    };
    let mut j = residents(address, persons, requested)?;
    j.head = head;
    // The renderer words the certification by whether every member is on it.
    j.household_size = if whole { j.members.len() } else { j.members.len() + 1 };
    Ok(j)
}

fn kisaijiko(address: String, persons: Vec<PersonRecord>) -> Result<Juminhyo, PayloadError> {
    let requested = ResidentOptions {
        previous_address: persons.iter().any(|p| p.previous_address.as_deref().is_some_and(|a| !a.trim().is_empty())),
        ..ResidentOptions::default()
    };
    let j = residents(address, persons, requested)?;
    Ok(Juminhyo { household_size: j.members.len(), ..j })
}

/// The members of a 住民票 / 記載事項証明書.
fn residents(address: String, persons: Vec<PersonRecord>, o: ResidentOptions) -> Result<Juminhyo, PayloadError> {
    text("body.address", &address, ADDRESS_MAX, true)?;
    persons_count("body.persons", &persons)?;
    let mut members = Vec::with_capacity(persons.len());
    for (i, p) in persons.into_iter().enumerate() {
        let at = format!("body.persons[{i}]");
        let born = person_basics(&at, &p)?;
        let relationship = if o.head_and_relationship {
            let r = p.relationship.clone().ok_or_else(|| missing(format!("{at}.relationship")))?;
            text(&format!("{at}.relationship"), &r, 12, true)?;
            r
        } else {
            String::new()
        };
        let address_since = date(&format!("{at}.address_since"), p.address_since.as_deref().unwrap_or_default())?;
        let became_resident = opt_date(&format!("{at}.became_resident_on"), &p.became_resident_on)?;
        let previous_address = opt_text(&format!("{at}.previous_address"), &p.previous_address, ADDRESS_MAX)?;
        let foreign = foreign(&at, &p)?;
        let honseki = match (opt_text(&format!("{at}.honseki"), &p.honseki, ADDRESS_MAX)?, &p.hittousha) {
            (Some(address), Some(head)) => {
                text(&format!("{at}.hittousha"), head, NAME_MAX, true)?;
                Some(Honseki { address, head: head.clone() })
            }
            (None, None) => None,
            (Some(_), None) => return Err(missing(format!("{at}.hittousha"))),
            (None, Some(_)) => return Err(missing(format!("{at}.honseki"))),
        };
        if o.honseki && honseki.is_none() && foreign.is_none() {
            return Err(missing(format!("{at}.honseki")));
        }
        let my_number = if o.my_number {
            let n = p.my_number.clone().ok_or_else(|| missing(format!("{at}.my_number")))?;
            if n.len() != 12 || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(format!("{at}.my_number"), "is not 12 digits"));
            }
            Some(n)
        } else {
            None
        };
        members.push(Resident {
            name: p.name,
            kana: Some(p.name_kana).filter(|k| !k.trim().is_empty()),
            born,
            sex: sex(&format!("{at}.sex"), &p.sex)?,
            relationship,
            became_resident,
            address_since,
            notified_on: None,
            previous_address,
            honseki,
            my_number,
            resident_code: None,
            foreign,
        });
    }
    Ok(Juminhyo { address, head: String::new(), household_size: members.len(), members, requested: o })
}

/// The foreign-resident items: 国籍・地域 and 在留資格 together, or neither.
fn foreign(at: &str, p: &PersonRecord) -> Result<Option<ForeignResident>, PayloadError> {
    let nationality = opt_text(&format!("{at}.nationality"), &p.nationality, SHORT_MAX)?;
    let status = opt_text(&format!("{at}.residence_status"), &p.residence_status, SHORT_MAX)?;
    let period_ends = opt_date(&format!("{at}.residence_period_end"), &p.residence_period_end)?;
    match (nationality, status) {
        (Some(nationality), Some(status)) => Ok(Some(ForeignResident {
            nationality,
            category: None,
            status,
            period: None,
            period_ends,
            card_number: None,
        })),
        (None, None) if period_ends.is_none() => Ok(None),
        (None, _) => Err(missing(format!("{at}.nationality"))),
        (Some(_), None) => Err(missing(format!("{at}.residence_status"))),
    }
}

fn inkan(
    person: PersonRecord,
    address: String,
    registration_number: String,
    registered_on: &str,
    seal_impression: String,
    seal_diameter_mm: i64,
    seal_png: Option<String>,
) -> Result<Inkan, PayloadError> {
    let born = person_basics("body.person", &person)?;
    text("body.address", &address, ADDRESS_MAX, true)?;
    text("body.registration_number", &registration_number, SHORT_MAX, true)?;
    date("body.registered_on", registered_on)?;
    let impression = match seal_png {
        Some(b64) => {
            if b64.len() > MAX_SEAL_PNG * 4 / 3 + 4 {
                return Err(invalid("body.seal_png", "is larger than 256 KiB"));
            }
            let png = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|_| invalid("body.seal_png", "is not base64"))?;
            if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
                return Err(invalid("body.seal_png", "is not a PNG image"));
            }
            SealImpression::Image(png)
        }
        None => {
            text("body.seal_impression", &seal_impression, 10, true)?;
            let diameter_mm = u8::try_from(seal_diameter_mm)
                .ok()
                .filter(|d| (8..=52).contains(d))
                .ok_or_else(|| invalid("body.seal_diameter_mm", "is not a seal size (8 to 52 mm)"))?;
            SealImpression::Engraved { text: seal_impression, diameter_mm }
        }
    };
    // The sex is in every person record; this kiosk's 印鑑登録証明書 does not print it.
    sex("body.person.sex", &person.sex)?;
    Ok(Inkan { name: person.name, born, sex: None, address, registration_number, impression: Some(impression) })
}

fn kazei(person: PersonRecord, address: String, r: TaxRecordWire) -> Result<Kazei, PayloadError> {
    let born = person_basics("body.person", &person)?;
    text("body.address", &address, ADDRESS_MAX, true)?;
    if r.municipality_code.len() != 6 || !r.municipality_code.bytes().all(|c| c.is_ascii_digit()) {
        return Err(invalid("body.record.municipality_code", "is not a 6-digit 地方公共団体コード"));
    }
    if !(1989..=2200).contains(&r.fiscal_year) {
        return Err(invalid("body.record.fiscal_year", "is not a plausible fiscal year"));
    }
    if r.income_year != r.fiscal_year - 1 {
        return Err(PayloadError::Inconsistent {
            field: "body.record.income_year".into(),
            with: "body.record.fiscal_year (the income is of the year before)",
        });
    }
    let salary = yen("body.record.salary_income", r.salary_income)?;
    let pension = yen("body.record.pension_income", r.pension_income)?;
    let mut incomes = Vec::new();
    if salary > 0 {
        // The backend's salary figure is 給与収入 (revenue), before the salary deduction.
        incomes.push((Income::SalaryRevenue, salary));
    }
    if pension > 0 {
        incomes.push((Income::Pension, pension));
    }
    let record = TaxRecord {
        fiscal_year: r.fiscal_year,
        address,
        address_on_jan_1: false,
        incomes,
        total_income: yen("body.record.total_income", r.total_income)?,
        deductions: Vec::new(),
        total_deductions: None,
        has_spouse: None,
        dependents: None,
        taxable_income: yen("body.record.taxable_income", r.taxable_income)?,
        municipal_tax: yen("body.record.municipal_tax", r.municipal_tax)?,
        prefectural_tax: yen("body.record.prefectural_tax", r.prefectural_tax)?,
    };
    Ok(Kazei { name: person.name, born, record })
}

/// Whether a 続柄 is one a 戸籍 records (長男, 二女, 養子 ...), as opposed to a household
/// relationship (世帯主, 子, 同居人) that has no place on a 戸籍.
fn koseki_relationship(r: &str) -> bool {
    let c: Vec<char> = r.chars().collect();
    matches!(r, "養子" | "養女")
        || (c.len() >= 2
            && matches!(c[c.len() - 1], '男' | '女')
            && c[..c.len() - 1].iter().all(|ch| "長一二三四五六七八九十".contains(*ch)))
}

fn koseki(honseki: String, hittousha: String, whole: bool, persons: Vec<PersonRecord>) -> Result<Koseki, PayloadError> {
    text("body.honseki", &honseki, ADDRESS_MAX, true)?;
    text("body.hittousha", &hittousha, NAME_MAX, true)?;
    persons_count("body.persons", &persons)?;
    if !whole && persons.len() != 1 {
        return Err(invalid("body.persons", "of a 個人事項証明書 is not one person"));
    }
    let family = hittousha.split(['　', ' ']).next().unwrap_or_default().to_string();
    let mut people = Vec::with_capacity(persons.len());
    for (i, p) in persons.into_iter().enumerate() {
        let at = format!("body.persons[{i}]");
        let born = person_basics(&at, &p)?;
        sex(&format!("{at}.sex"), &p.sex)?;
        let father = opt_text(&format!("{at}.father"), &p.father, NAME_MAX)?;
        let mother = opt_text(&format!("{at}.mother"), &p.mother, NAME_MAX)?;
        let rel = opt_text(&format!("{at}.relationship"), &p.relationship, 12)?;
        // 夫/妻 is the 配偶者区分; household relationships (世帯主, 子 ...) are not printed.
        let (relationship, spouse_role) = match rel.as_deref() {
            Some("夫" | "妻") => (None, rel),
            Some(r) if koseki_relationship(r) => (rel, None),
            _ => (None, None),
        };
        let is_head = p.name == hittousha;
        let given_name =
            p.name.strip_prefix(family.as_str()).unwrap_or(&p.name).trim_start_matches(['　', ' ']).to_string();
        if given_name.is_empty() {
            return Err(missing(format!("{at}.name")));
        }
        people.push((
            is_head,
            KosekiPerson {
                given_name,
                born,
                father,
                mother,
                relationship,
                spouse_role,
                events: vec![KosekiEvent { kind: "出生".into(), items: vec![("出生日".into(), wareki(born))] }],
                removed: false,
            },
        ));
    }
    // As a 戸籍 is written: the 筆頭者 first, then by birth.
    people.sort_by_key(|(head, p)| (!*head, p.born));
    Ok(Koseki {
        honseki,
        head: hittousha,
        created: None,
        persons: people.into_iter().map(|(_, p)| p).collect(),
        scope: if whole { KosekiScope::All } else { KosekiScope::Persons(vec![0]) },
    })
}

fn fuhyo(
    honseki: String,
    hittousha: String,
    person: PersonRecord,
    address: String,
    address_since: &Option<String>,
) -> Result<Fuhyo, PayloadError> {
    text("body.honseki", &honseki, ADDRESS_MAX, true)?;
    text("body.hittousha", &hittousha, NAME_MAX, true)?;
    let born = person_basics("body.person", &person)?;
    text("body.address", &address, ADDRESS_MAX, false)?;
    let since = opt_date("body.address_since", address_since)?;
    // An address is printed with the day it was set; one without (moved abroad) is not.
    let addresses = match since {
        Some(since) if !address.trim().is_empty() => vec![FuhyoAddress { address, since }],
        _ => Vec::new(),
    };
    Ok(Fuhyo { honseki, head: hittousha, persons: vec![FuhyoPerson { name: person.name, born, addresses }] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn person(id: &str, name: &str, born: &str) -> Value {
        json!({
            "id": id, "name": name, "name_kana": "ヤマダ", "birth_date": born, "sex": "男",
            "relationship": null, "became_resident_on": "2016-11-26", "address_since": "2016-11-26",
            "previous_address": null, "honseki": null, "hittousha": null, "my_number": null,
            "nationality": null, "residence_status": null, "residence_period_end": null,
            "father": null, "mother": null,
        })
    }

    fn payload(document: &str, title: &str, body: Value) -> Value {
        json!({
            "format": 1,
            "binding": {
                "session_id": "S-1", "certificate_fingerprint": "ab".repeat(32), "kiosk_id": "K001",
                "issuance_number": "20261124-ABCDEFGHJK", "issued_at": "2026-11-24T10:00:00Z",
                "document": document, "copies": 2,
            },
            "municipality": {
                "code": "132217", "name": "清瀬市", "prefecture": "東京都", "issuer_title": "清瀬市長",
                "issuer_name": "𠮷田　正和", "seal_sha256": null,
            },
            "title": title,
            "issued_on": "2026-11-24",
            "issued_on_era": "令和8年11月24日",
            "certification": "上記のとおり証明する。",
            "verify_url": "https://127.0.0.1:8444/v1/verify/20261124-ABCDEFGHJK?code=23456789ABCD",
            "verification_code": "23456789ABCD",
            "body": body,
        })
    }

    fn juminhyo_payload() -> Value {
        let mut head = person("R0001", "山田　太郎", "1978-05-14");
        head["relationship"] = "世帯主".into();
        head["honseki"] = "東京都清瀬市中里五丁目８４２番地".into();
        head["hittousha"] = "山田　太郎".into();
        head["my_number"] = "171341675340".into();
        let mut wife = person("R0002", "山田　花子", "1980-01-02");
        wife["sex"] = "女".into();
        wife["relationship"] = "妻".into();
        wife["honseki"] = "東京都清瀬市中里五丁目８４２番地".into();
        wife["hittousha"] = "山田　太郎".into();
        wife["my_number"] = "123456789012".into();
        wife["previous_address"] = "埼玉県所沢市並木一丁目１番地".into();
        payload(
            "juminhyo",
            "住民票の写し",
            json!({
                "kind": "juminhyo", "address": "東京都清瀬市中里五丁目８４２番地",
                "household_head": "山田　太郎", "whole_household": false,
                "persons": [head, wife], "options": ["household", "honseki", "kojin_bango", "setainushi"],
            }),
        )
    }

    fn err(v: &Value) -> PayloadError {
        match parse(&v.to_string()) {
            Err(e) => e,
            Ok(p) => panic!("accepted: {p:?}"),
        }
    }

    #[test]
    fn juminhyo_maps_members_options_and_issuance() {
        let p = parse(&juminhyo_payload().to_string()).unwrap();
        assert_eq!((p.kind, p.copies), ("juminhyo", 2));
        assert_eq!(p.issuance.number, "20261124-ABCDEFGHJK");
        assert_eq!(p.issuance.verify_url(), "https://127.0.0.1:8444/v1/verify/20261124-ABCDEFGHJK?code=23456789ABCD");
        assert_eq!(p.issuance.issued_on, time::macros::date!(2026 - 11 - 24));
        assert_eq!((p.issuer.title.as_str(), p.issuer.name.as_str()), ("清瀬市長", "𠮷田　正和"));
        let Document::Juminhyo(j) = &p.document else { panic!("not a 住民票") };
        assert_eq!(j.head, "山田　太郎");
        assert_eq!(j.members.len(), 2);
        assert!(j.household_size > j.members.len(), "not the whole household");
        let o = j.requested;
        assert!(o.head_and_relationship && o.honseki && o.my_number && o.previous_address && !o.resident_code);
        assert!(o.not_in(p.issuer.enabled).is_empty());
        let wife = &j.members[1];
        assert_eq!((wife.sex, wife.relationship.as_str()), (Sex::Female, "妻"));
        assert_eq!(wife.honseki.as_ref().map(|h| h.head.as_str()), Some("山田　太郎"));
        assert_eq!(wife.my_number.as_deref(), Some("123456789012"));
        assert_eq!(wife.address_since, time::macros::date!(2016 - 11 - 26));
        assert!(crate::testing::renderer().check(&p.document, &p.issuer, &p.issuance).is_ok());
    }

    #[test]
    fn options_not_asked_for_are_not_printed() {
        let mut v = juminhyo_payload();
        v["body"]["options"] = json!([]);
        v["body"]["household_head"] = Value::Null;
        v["body"]["whole_household"] = true.into();
        let p = parse(&v.to_string()).unwrap();
        let Document::Juminhyo(j) = &p.document else { panic!() };
        assert_eq!(j.household_size, j.members.len());
        assert!(!j.requested.head_and_relationship && !j.requested.my_number && !j.requested.honseki);
        assert!(j.members.iter().all(|m| m.my_number.is_none() && m.relationship.is_empty()));
    }

    #[test]
    fn every_body_kind_maps_and_passes_the_renderers_check() {
        let mut foreigner = person("R0009", "SMITH　JOHN", "1990-03-03");
        foreigner["nationality"] = "アメリカ合衆国".into();
        foreigner["residence_status"] = "永住者".into();
        let mut son = person("R0003", "山田　一郎", "2010-04-04");
        son["relationship"] = "長男".into();
        son["father"] = "山田　太郎".into();
        son["mother"] = "山田　花子".into();
        son["became_resident_on"] = Value::Null;
        son["address_since"] = Value::Null;
        let mut head = person("R0001", "山田　太郎", "1978-05-14");
        head["relationship"] = "世帯主".into();
        head["became_resident_on"] = Value::Null;
        head["address_since"] = Value::Null;
        let mut wife = head.clone();
        wife["name"] = "山田　花子".into();
        wife["relationship"] = "妻".into();
        let tax = json!({
            "municipality_code": "132217", "fiscal_year": 2025, "income_year": 2024, "salary_income": 6088000,
            "pension_income": 0, "total_income": 4430400, "taxable_income": 3148000, "municipal_tax": 191800,
            "prefectural_tax": 126900,
        });
        let cases = [
            (
                "kisaijiko",
                "住民票記載事項証明書",
                json!({"kind": "kisaijiko", "address": "東京都清瀬市中里", "persons": [person("R0001", "山田　太郎", "1978-05-14"), foreigner]}),
            ),
            (
                "inkan",
                "印鑑登録証明書",
                json!({"kind": "inkan", "person": person("R0001", "山田　太郎", "1978-05-14"), "address": "東京都清瀬市中里", "registration_number": "132217-327224", "registered_on": "2020-01-20", "seal_impression": "山田", "seal_diameter_mm": 15, "seal_png": null}),
            ),
            (
                "kazei",
                "課税・所得証明書",
                json!({"kind": "kazei", "person": person("R0001", "山田　太郎", "1978-05-14"), "address": "東京都清瀬市中里", "record": tax}),
            ),
            (
                "koseki-zenbu",
                "戸籍全部事項証明書",
                json!({"kind": "koseki", "honseki": "東京都清瀬市中里", "hittousha": "山田　太郎", "whole": true, "persons": [son.clone(), wife, head.clone()]}),
            ),
            (
                "koseki-kojin",
                "戸籍個人事項証明書",
                json!({"kind": "koseki", "honseki": "東京都清瀬市中里", "hittousha": "山田　太郎", "whole": false, "persons": [son]}),
            ),
            (
                "fuhyo",
                "戸籍の附票の写し",
                json!({"kind": "fuhyo", "honseki": "東京都清瀬市中里", "hittousha": "山田　太郎", "person": head, "address": "東京都清瀬市中里", "address_since": "2016-11-26"}),
            ),
        ];
        let r = crate::testing::renderer();
        for (kind, title, body) in cases {
            let p = parse(&payload(kind, title, body).to_string()).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(p.kind, kind);
            assert_eq!(p.document.kind(), if kind == "koseki-zenbu" { "koseki-zenbu" } else { kind });
            r.check(&p.document, &p.issuer, &p.issuance).unwrap_or_else(|e| panic!("{kind}: {e}"));
            match &p.document {
                Document::Kisaijiko(j) => {
                    let f = j.members[1].foreign.as_ref().expect("foreign items");
                    assert_eq!((f.nationality.as_str(), f.status.as_str()), ("アメリカ合衆国", "永住者"));
                }
                Document::Inkan(i) => {
                    assert_eq!(i.impression, Some(SealImpression::Engraved { text: "山田".into(), diameter_mm: 15 }));
                    assert_eq!(i.registration_number, "132217-327224");
                }
                Document::Kazei(k) => {
                    assert_eq!(k.record.incomes, vec![(Income::SalaryRevenue, 6_088_000)]);
                    assert_eq!((k.record.fiscal_year, k.record.total_income), (2025, 4_430_400));
                }
                Document::Koseki(k) if k.scope == KosekiScope::All => {
                    let names: Vec<&str> = k.persons.iter().map(|p| p.given_name.as_str()).collect();
                    assert_eq!(names, ["太郎", "花子", "一郎"], "筆頭者 first, then by birth");
                    assert_eq!(k.persons[0].relationship, None, "世帯主 is no 戸籍 続柄");
                    assert_eq!(k.persons[1].spouse_role.as_deref(), Some("妻"));
                    assert_eq!(k.persons[2].relationship.as_deref(), Some("長男"));
                    assert_eq!(k.persons[2].father.as_deref(), Some("山田　太郎"));
                }
                Document::Koseki(k) => assert_eq!(k.scope, KosekiScope::Persons(vec![0])),
                Document::Fuhyo(f) => {
                    assert_eq!(f.persons[0].addresses.len(), 1);
                    assert_eq!(f.head, "山田　太郎");
                }
                Document::Juminhyo(_) => unreachable!(),
            }
        }
    }

    #[test]
    fn a_scanned_seal_impression_is_used_and_checked() {
        let png = {
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, 2, 2);
            enc.set_color(png::ColorType::Rgba);
            enc.write_header().unwrap().write_image_data(&[200, 0, 0, 255].repeat(4)).unwrap();
            out
        };
        let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
        let mut v = payload(
            "inkan",
            "印鑑登録証明書",
            json!({"kind": "inkan", "person": person("R1", "山田　太郎", "1978-05-14"), "address": "東京都",
                   "registration_number": "1", "registered_on": "2020-01-20", "seal_impression": "山田",
                   "seal_diameter_mm": 15, "seal_png": b64}),
        );
        let p = parse(&v.to_string()).unwrap();
        let Document::Inkan(i) = p.document else { panic!() };
        assert_eq!(i.impression, Some(SealImpression::Image(png)));
        v["body"]["seal_png"] = "bm90IGEgcG5n".into();
        assert_eq!(err(&v), invalid("body.seal_png", "is not a PNG image"));
        v["body"]["seal_png"] = "***".into();
        assert_eq!(err(&v).field(), "body.seal_png");
    }

    #[test]
    fn malformed_payloads_are_refused_with_typed_errors() {
        use PayloadErrorKind as K;
        let good = juminhyo_payload();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = good.clone();
            f(&mut v);
            err(&v)
        };
        // Not the schema.
        let e = parse("{").unwrap_err();
        assert_eq!(e.kind(), K::Malformed);
        assert_eq!(parse("[]").unwrap_err().kind(), K::Malformed);
        let e = with(&|v| v["extra"] = 1.into());
        assert_eq!(e.kind(), K::Malformed);
        assert!(e.to_string().contains("unknown field `extra`"), "{e}");
        let e = with(&|v| v["body"]["persons"][0]["nickname"] = "x".into());
        assert_eq!((e.kind(), e.field()), (K::Malformed, "body"));
        let e = with(&|v| {
            v["body"]["persons"][0].as_object_mut().unwrap().remove("birth_date");
        });
        assert_eq!(e.kind(), K::Malformed);
        let e = with(&|v| v["body"]["kind"] = "passport".into());
        assert_eq!(e.kind(), K::Malformed);
        let e = with(&|v| v["binding"]["copies"] = "山田　太郎".into());
        assert_eq!((e.kind(), e.field()), (K::Malformed, "binding.copies"));
        assert!(!e.to_string().contains("山田"), "a value never shows in the error: {e}");
        assert_eq!(parse(&" ".repeat(MAX_PAYLOAD_BYTES + 1)).unwrap_err().kind(), K::TooLarge);
        assert_eq!(with(&|v| v["format"] = 2.into()), PayloadError::UnsupportedFormat(2));
        // Dates.
        let e = with(&|v| v["body"]["persons"][1]["birth_date"] = "1980-02-30".into());
        assert_eq!((e.kind(), e.field()), (K::Invalid, "body.persons[1].birth_date"));
        assert!(!e.to_string().contains("1980"), "{e}");
        assert_eq!(with(&|v| v["issued_on"] = "24.11.2026".into()).field(), "issued_on");
        assert_eq!(with(&|v| v["body"]["persons"][0]["address_since"] = Value::Null).kind(), K::Missing);
        // Consistency of the binding, title, era date and verification URL.
        let e = with(&|v| v["binding"]["document"] = "kisaijiko".into());
        assert_eq!((e.kind(), e.field()), (K::Inconsistent, "body.kind"));
        assert_eq!(with(&|v| v["title"] = "住民票".into()).field(), "title");
        assert_eq!(with(&|v| v["issued_on_era"] = "令和8年11月25日".into()).field(), "issued_on_era");
        let e = with(&|v| v["verify_url"] = "https://127.0.0.1:8444/v1/verify/20261124-OTHER?code=23456789ABCD".into());
        assert_eq!((e.kind(), e.field()), (K::Inconsistent, "verify_url"));
        assert_eq!(with(&|v| v["verify_url"] = "http://x/v1/verify".into()).field(), "verify_url");
        assert_eq!(with(&|v| v["binding"]["issuance_number"] = "R7/../../x".into()).kind(), K::Invalid);
        assert_eq!(with(&|v| v["binding"]["copies"] = 0.into()).field(), "binding.copies");
        assert_eq!(with(&|v| v["binding"]["copies"] = 300.into()).field(), "binding.copies");
        assert_eq!(with(&|v| v["binding"]["certificate_fingerprint"] = "ab".into()).kind(), K::Invalid);
        // Required items and sane lengths.
        assert_eq!(with(&|v| v["body"]["persons"] = json!([])).kind(), K::Missing);
        assert_eq!(with(&|v| v["body"]["household_head"] = Value::Null).field(), "body.household_head");
        assert_eq!(with(&|v| v["body"]["persons"][0]["relationship"] = Value::Null).kind(), K::Missing);
        assert_eq!(with(&|v| v["body"]["persons"][0]["my_number"] = "12".into()).kind(), K::Invalid);
        assert_eq!(with(&|v| v["body"]["persons"][0]["hittousha"] = Value::Null).kind(), K::Missing);
        assert_eq!(with(&|v| v["body"]["persons"][0]["sex"] = "x".into()).kind(), K::Invalid);
        assert_eq!(with(&|v| v["body"]["address"] = "".into()).field(), "body.address");
        assert_eq!(with(&|v| v["body"]["address"] = "長".repeat(500).into()).kind(), K::Invalid);
        assert_eq!(with(&|v| v["body"]["persons"][0]["name"] = "山田\u{7}太郎".into()).kind(), K::Invalid);
        assert_eq!(with(&|v| v["body"]["options"] = json!(["resident_code"])).field(), "body.options[0]");
        assert_eq!(with(&|v| v["municipality"]["code"] = "13221".into()).field(), "municipality.code");
        assert_eq!(with(&|v| v["municipality"]["issuer_name"] = "".into()).kind(), K::Missing);
        let e = with(&|v| {
            let p = v["body"]["persons"][0].clone();
            v["body"]["persons"] = Value::Array(vec![p; MAX_PERSONS + 1]);
        });
        assert_eq!((e.kind(), e.field()), (K::Invalid, "body.persons"));
    }

    #[test]
    fn malformed_bodies_of_other_kinds() {
        use PayloadErrorKind as K;
        let tax = |income_year: i64, salary: i64| {
            payload(
                "kazei",
                "課税・所得証明書",
                json!({"kind": "kazei", "person": person("R1", "山田　太郎", "1978-05-14"), "address": "東京都",
                       "record": {"municipality_code": "132217", "fiscal_year": 2025, "income_year": income_year,
                                  "salary_income": salary, "pension_income": 0, "total_income": 1,
                                  "taxable_income": 1, "municipal_tax": 1, "prefectural_tax": 1}}),
            )
        };
        assert!(parse(&tax(2024, 1).to_string()).is_ok());
        assert_eq!(err(&tax(2023, 1)).kind(), K::Inconsistent);
        assert_eq!(err(&tax(2024, -1)).field(), "body.record.salary_income");
        let kojin = |persons: Value, whole: bool, document: &str, title: &str| {
            payload(
                document,
                title,
                json!({"kind": "koseki", "honseki": "東京都", "hittousha": "山田　太郎", "whole": whole, "persons": persons}),
            )
        };
        let one = json!([person("R1", "山田　太郎", "1978-05-14")]);
        let two = json!([person("R1", "山田　太郎", "1978-05-14"), person("R2", "山田　次郎", "1980-05-14")]);
        assert!(parse(&kojin(one.clone(), false, "koseki-kojin", "戸籍個人事項証明書").to_string()).is_ok());
        assert_eq!(err(&kojin(two, false, "koseki-kojin", "戸籍個人事項証明書")).field(), "body.persons");
        assert_eq!(err(&kojin(one, true, "koseki-kojin", "戸籍個人事項証明書")).field(), "body.whole");
        let seal = |d: i64| {
            payload(
                "inkan",
                "印鑑登録証明書",
                json!({"kind": "inkan", "person": person("R1", "山田　太郎", "1978-05-14"), "address": "東京都",
                       "registration_number": "1", "registered_on": "2020-01-20", "seal_impression": "山田",
                       "seal_diameter_mm": d, "seal_png": null}),
            )
        };
        assert_eq!(err(&seal(0)).field(), "body.seal_diameter_mm");
        assert_eq!(err(&seal(300)).field(), "body.seal_diameter_mm");
    }

    #[test]
    fn household_relationships_are_not_koseki_relationships() {
        for r in ["長男", "二女", "十一男", "養子"] {
            assert!(koseki_relationship(r), "{r}");
        }
        for r in ["世帯主", "子", "同居人", "男", "妻の子"] {
            assert!(!koseki_relationship(r), "{r}");
        }
    }

    #[test]
    fn debug_output_shows_no_resident_data() {
        let p = parse(&juminhyo_payload().to_string()).unwrap();
        let d = format!("{p:?}");
        assert!(!d.contains("山田") && !d.contains("1978") && d.contains("20261124-ABCDEFGHJK"), "{d}");
    }
}
