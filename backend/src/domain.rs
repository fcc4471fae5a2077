//! The sans-IO core: documents, municipality configuration and its validation, what is offered
//! to whom and when, issuance planning, and the document payload. Plain functions over plain
//! data; the clock is a parameter. HTTP and the database live elsewhere.

use crate::api::{IssuanceRequest, NoticeOut, Offer, PersonChoice, Unavailable};
use crate::error::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::macros::offset;
use time::{Date, Month, OffsetDateTime, Time, Weekday};
use utoipa::ToSchema;

/// Japan Standard Time: service hours, closed days and issue dates are all JST.
pub fn jst(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(offset!(+9))
}

// ---------------------------------------------------------------------------------------------
// Documents

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum DocumentKind {
    /// 住民票の写し
    #[serde(rename = "juminhyo")]
    Juminhyo,
    /// 住民票記載事項証明書
    #[serde(rename = "kisaijiko")]
    Kisaijiko,
    /// 印鑑登録証明書
    #[serde(rename = "inkan")]
    Inkan,
    /// 課税・所得証明書
    #[serde(rename = "kazei")]
    Kazei,
    /// 戸籍全部事項証明書
    #[serde(rename = "koseki-zenbu")]
    KosekiZenbu,
    /// 戸籍個人事項証明書
    #[serde(rename = "koseki-kojin")]
    KosekiKojin,
    /// 戸籍の附票の写し
    #[serde(rename = "fuhyo")]
    Fuhyo,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 7] = [
        DocumentKind::Juminhyo,
        DocumentKind::Kisaijiko,
        DocumentKind::Inkan,
        DocumentKind::Kazei,
        DocumentKind::KosekiZenbu,
        DocumentKind::KosekiKojin,
        DocumentKind::Fuhyo,
    ];

    pub fn id(self) -> &'static str {
        match self {
            DocumentKind::Juminhyo => "juminhyo",
            DocumentKind::Kisaijiko => "kisaijiko",
            DocumentKind::Inkan => "inkan",
            DocumentKind::Kazei => "kazei",
            DocumentKind::KosekiZenbu => "koseki-zenbu",
            DocumentKind::KosekiKojin => "koseki-kojin",
            DocumentKind::Fuhyo => "fuhyo",
        }
    }

    pub fn parse(s: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.id() == s)
    }

    pub fn title(self) -> &'static str {
        match self {
            DocumentKind::Juminhyo => "住民票の写し",
            DocumentKind::Kisaijiko => "住民票記載事項証明書",
            DocumentKind::Inkan => "印鑑登録証明書",
            DocumentKind::Kazei => "課税・所得証明書",
            DocumentKind::KosekiZenbu => "戸籍全部事項証明書",
            DocumentKind::KosekiKojin => "戸籍個人事項証明書",
            DocumentKind::Fuhyo => "戸籍の附票の写し",
        }
    }

    /// Issued by the municipality of 本籍 rather than of residence.
    pub fn is_koseki(self) -> bool {
        matches!(self, DocumentKind::KosekiZenbu | DocumentKind::KosekiKojin | DocumentKind::Fuhyo)
    }

    /// The options a municipality may enable for this document.
    pub fn known_options(self) -> &'static [&'static str] {
        match self {
            // 世帯主・続柄, 本籍・筆頭者, 個人番号, and choosing other household members (連記)
            DocumentKind::Juminhyo => &["setainushi", "honseki", "kojin_bango", "household"],
            DocumentKind::Kisaijiko => &["household"],
            _ => &[],
        }
    }

    /// Whether the resident picks people for this document.
    fn person_choice(self) -> bool {
        matches!(
            self,
            DocumentKind::Juminhyo | DocumentKind::Kisaijiko | DocumentKind::KosekiKojin | DocumentKind::Fuhyo
        )
    }
}

impl std::fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

// ---------------------------------------------------------------------------------------------
// Municipality configuration

/// What a municipality offers at kiosks. Managed by its administrator; served in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityConfig {
    /// 証明者の職名, e.g. `横浜市長`.
    pub issuer_title: String,
    /// 証明者の氏名.
    pub issuer_name: String,
    /// The municipal seal (公印) as a base64 PNG.
    #[serde(default)]
    pub seal_png: Option<String>,
    /// Daily service hours (JST), e.g. 06:30–23:00.
    pub service_hours: Hours,
    /// Days without service: `YYYY-MM-DD` (once) or `MM-DD` (every year), optionally to `to`
    /// (a range; `12-29` to `01-03` wraps over the new year).
    #[serde(default)]
    pub closed_days: Vec<ClosedDays>,
    /// Residents younger than this are refused (15 in most municipalities).
    #[serde(default = "default_min_age")]
    pub min_age: i64,
    /// The new fiscal year's tax certificate becomes available on this day (`MM-DD`).
    #[serde(default = "default_tax_switch")]
    pub tax_year_switch: String,
    #[serde(default)]
    pub notices: Vec<Notice>,
    /// Per document id (`juminhyo`, `kisaijiko`, `inkan`, `kazei`, `koseki-zenbu`,
    /// `koseki-kojin`, `fuhyo`).
    pub documents: BTreeMap<String, DocumentConfig>,
}

fn default_min_age() -> i64 {
    15
}
fn default_tax_switch() -> String {
    "06-01".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    /// `HH:MM`, 00:00–23:59.
    pub open: String,
    /// `HH:MM`, after `open`, up to 24:00.
    pub close: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosedDays {
    pub from: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    pub text: String,
    /// First day shown (`YYYY-MM-DD`), none: from now.
    #[serde(default)]
    pub from: Option<String>,
    /// Last day shown, none: until removed.
    #[serde(default)]
    pub until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentConfig {
    pub enabled: bool,
    /// Fee per copy in yen (0–100000).
    pub fee_yen: i64,
    /// Copies per issuance (1–20).
    pub max_copies: i64,
    /// Options enabled for residents (see each document's known options).
    #[serde(default)]
    pub options: Vec<String>,
    /// Narrower hours for this document (e.g. 戸籍 09:00–17:00).
    #[serde(default)]
    pub hours: Option<Hours>,
    /// Only Monday to Friday.
    #[serde(default)]
    pub weekdays_only: bool,
    /// 課税証明書: how many fiscal years back are offered (1–5).
    #[serde(default)]
    pub years: Option<i64>,
}

fn parse_hhmm(s: &str) -> Option<(u8, u8)> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some((h, m))
}

fn minutes(s: &str) -> Option<u32> {
    parse_hhmm(s).map(|(h, m)| h as u32 * 60 + m as u32)
}

fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok().filter(|_| s.len() == 10)
}

fn parse_month_day(s: &str) -> Option<(u8, u8)> {
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (u8, u8) = (m.parse().ok()?, d.parse().ok()?);
    let month = Month::try_from(m).ok()?;
    (d >= 1 && d <= month.length(2024)).then_some((m, d))
}

fn check_text(field: &str, s: &str, max: usize, required: bool) -> Result<(), ApiError> {
    if required && s.trim().is_empty() {
        return Err(ApiError::field(ErrorCode::InvalidConfig, field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(ApiError::field(ErrorCode::InvalidConfig, field, format!("longer than {max} characters")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::field(ErrorCode::InvalidConfig, field, "contains control characters"));
    }
    Ok(())
}

fn check_hours(field: &str, h: &Hours) -> Result<(u32, u32), ApiError> {
    let open = minutes(&h.open).filter(|m| *m < 24 * 60).ok_or_else(|| {
        ApiError::field(
            ErrorCode::InvalidConfig,
            format!("{field}.open"),
            format!("{:?} is not a time of day (HH:MM, 00:00–23:59)", h.open),
        )
    })?;
    let close = minutes(&h.close).ok_or_else(|| {
        ApiError::field(
            ErrorCode::InvalidConfig,
            format!("{field}.close"),
            format!("{:?} is not a time of day (HH:MM, 00:00–24:00)", h.close),
        )
    })?;
    if close <= open {
        return Err(ApiError::field(
            ErrorCode::InvalidConfig,
            format!("{field}.close"),
            format!("{} is not after open {}", h.close, h.open),
        ));
    }
    Ok((open, close))
}

enum DaySpec {
    Once(Date),
    Yearly(u8, u8),
}

fn day_spec(field: &str, s: &str) -> Result<DaySpec, ApiError> {
    if let Some(d) = parse_date(s) {
        Ok(DaySpec::Once(d))
    } else if let Some((m, d)) = parse_month_day(s) {
        Ok(DaySpec::Yearly(m, d))
    } else {
        Err(ApiError::field(ErrorCode::InvalidConfig, field, format!("{s:?} is neither YYYY-MM-DD nor MM-DD")))
    }
}

impl MunicipalityConfig {
    /// Refuses anything that cannot be served correctly, naming the field.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_text("issuer_title", &self.issuer_title, 40, true)?;
        check_text("issuer_name", &self.issuer_name, 40, true)?;
        if let Some(seal) = &self.seal_png {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(seal)
                .map_err(|_| ApiError::field(ErrorCode::InvalidConfig, "seal_png", "is not base64"))?;
            if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                return Err(ApiError::field(ErrorCode::InvalidConfig, "seal_png", "is not a PNG image"));
            }
            if bytes.len() > 256 * 1024 {
                return Err(ApiError::field(ErrorCode::InvalidConfig, "seal_png", "is larger than 256 KiB"));
            }
        }
        check_hours("service_hours", &self.service_hours)?;
        for (i, c) in self.closed_days.iter().enumerate() {
            let f = format!("closed_days[{i}]");
            let from = day_spec(&format!("{f}.from"), &c.from)?;
            if let Some(to) = &c.to {
                let to_spec = day_spec(&format!("{f}.to"), to)?;
                match (&from, &to_spec) {
                    (DaySpec::Once(a), DaySpec::Once(b)) if b < a => {
                        return Err(ApiError::field(ErrorCode::InvalidConfig, format!("{f}.to"), "is before from"))
                    }
                    (DaySpec::Once(_), DaySpec::Yearly(..)) | (DaySpec::Yearly(..), DaySpec::Once(_)) => {
                        return Err(ApiError::field(
                            ErrorCode::InvalidConfig,
                            format!("{f}.to"),
                            "must have the same form as from",
                        ))
                    }
                    _ => {}
                }
            }
            check_text(&format!("{f}.reason"), &c.reason, 200, false)?;
        }
        if !(0..=120).contains(&self.min_age) {
            return Err(ApiError::field(ErrorCode::InvalidConfig, "min_age", "must be 0–120"));
        }
        if parse_month_day(&self.tax_year_switch).is_none() {
            return Err(ApiError::field(
                ErrorCode::InvalidConfig,
                "tax_year_switch",
                format!("{:?} is not MM-DD", self.tax_year_switch),
            ));
        }
        if self.notices.len() > 20 {
            return Err(ApiError::field(ErrorCode::InvalidConfig, "notices", "more than 20 notices"));
        }
        for (i, n) in self.notices.iter().enumerate() {
            check_text(&format!("notices[{i}].text"), &n.text, 500, true)?;
            for (k, v) in [("from", &n.from), ("until", &n.until)] {
                if let Some(v) = v {
                    if parse_date(v).is_none() {
                        return Err(ApiError::field(
                            ErrorCode::InvalidConfig,
                            format!("notices[{i}].{k}"),
                            format!("{v:?} is not YYYY-MM-DD"),
                        ));
                    }
                }
            }
        }
        for (name, d) in &self.documents {
            let f = format!("documents.{name}");
            let Some(kind) = DocumentKind::parse(name) else {
                let known: Vec<_> = DocumentKind::ALL.iter().map(|k| k.id()).collect();
                return Err(ApiError::field(
                    ErrorCode::InvalidConfig,
                    f,
                    format!("unknown document (known: {})", known.join(", ")),
                ));
            };
            if !(0..=100_000).contains(&d.fee_yen) {
                return Err(ApiError::field(
                    ErrorCode::InvalidConfig,
                    format!("{f}.fee_yen"),
                    format!("{} is not a fee (0–100000 yen)", d.fee_yen),
                ));
            }
            if !(1..=20).contains(&d.max_copies) {
                return Err(ApiError::field(
                    ErrorCode::InvalidConfig,
                    format!("{f}.max_copies"),
                    format!("{} is not 1–20", d.max_copies),
                ));
            }
            for (j, o) in d.options.iter().enumerate() {
                if !kind.known_options().contains(&o.as_str()) {
                    return Err(ApiError::field(
                        ErrorCode::InvalidConfig,
                        format!("{f}.options[{j}]"),
                        format!("unknown option {o:?} for {name} (known: {})", kind.known_options().join(", ")),
                    ));
                }
            }
            if let Some(h) = &d.hours {
                check_hours(&format!("{f}.hours"), h)?;
            }
            match (kind, d.years) {
                (DocumentKind::Kazei, Some(y)) if !(1..=5).contains(&y) => {
                    return Err(ApiError::field(ErrorCode::InvalidConfig, format!("{f}.years"), "must be 1–5"))
                }
                (DocumentKind::Kazei, _) => {}
                (_, Some(_)) => {
                    return Err(ApiError::field(ErrorCode::InvalidConfig, format!("{f}.years"), "only for kazei"))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `Some(reason)` if the municipality is closed on this JST day.
    pub fn closed_on(&self, day: Date) -> Option<&ClosedDays> {
        self.closed_days.iter().find(|c| {
            let md = |d: Date| (d.month() as u8, d.day());
            match (day_spec("", &c.from), c.to.as_deref().map(|t| day_spec("", t))) {
                (Ok(DaySpec::Once(a)), None) => day == a,
                (Ok(DaySpec::Once(a)), Some(Ok(DaySpec::Once(b)))) => a <= day && day <= b,
                (Ok(DaySpec::Yearly(m, d)), None) => md(day) == (m, d),
                (Ok(DaySpec::Yearly(m1, d1)), Some(Ok(DaySpec::Yearly(m2, d2)))) => {
                    let x = md(day);
                    if (m1, d1) <= (m2, d2) {
                        (m1, d1) <= x && x <= (m2, d2)
                    } else {
                        x >= (m1, d1) || x <= (m2, d2)
                    }
                }
                _ => false,
            }
        })
    }

    /// Whether this document may be issued at this moment; `Err((reason, message))` if not.
    pub fn available_now(&self, kind: DocumentKind, now: OffsetDateTime) -> Result<(), (&'static str, String)> {
        let local = jst(now);
        if let Some(c) = self.closed_on(local.date()) {
            let why = if c.reason.is_empty() { String::new() } else { format!(" ({})", c.reason) };
            return Err(("closed_day", format!("closed today{why}")));
        }
        let m = local.hour() as u32 * 60 + local.minute() as u32;
        let within = |h: &Hours| match (minutes(&h.open), minutes(&h.close)) {
            (Some(o), Some(c)) => o <= m && m < c,
            _ => false,
        };
        if !within(&self.service_hours) {
            return Err((
                "outside_service_hours",
                format!("service hours are {}–{}", self.service_hours.open, self.service_hours.close),
            ));
        }
        if let Some(d) = self.documents.get(kind.id()) {
            if d.weekdays_only && matches!(local.weekday(), Weekday::Saturday | Weekday::Sunday) {
                return Err(("outside_service_hours", format!("{} is issued on weekdays only", kind.title())));
            }
            if let Some(h) = &d.hours {
                if !within(h) {
                    return Err((
                        "outside_service_hours",
                        format!("{} is issued {}–{}", kind.title(), h.open, h.close),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The fiscal year whose certificate is current on this day.
    pub fn current_fiscal_year(&self, today: Date) -> i32 {
        let (m, d) = parse_month_day(&self.tax_year_switch).unwrap_or((6, 1));
        if (today.month() as u8, today.day()) >= (m, d) {
            today.year()
        } else {
            today.year() - 1
        }
    }

    pub fn active_notices(&self, today: Date) -> impl Iterator<Item = &Notice> {
        self.notices.iter().filter(move |n| {
            n.from.as_deref().and_then(parse_date).is_none_or(|f| f <= today)
                && n.until.as_deref().and_then(parse_date).is_none_or(|u| today <= u)
        })
    }

    /// A sensible configuration for a municipality that has not set one yet (the real service's
    /// usual hours and closures; every document enabled at typical fees).
    pub fn standard(issuer_title: &str, issuer_name: &str) -> MunicipalityConfig {
        let doc = |fee: i64, options: &[&str]| DocumentConfig {
            enabled: true,
            fee_yen: fee,
            max_copies: 10,
            options: options.iter().map(|s| s.to_string()).collect(),
            hours: None,
            weekdays_only: false,
            years: None,
        };
        let mut documents = BTreeMap::new();
        documents.insert("juminhyo".into(), doc(200, &["setainushi", "honseki", "household"]));
        documents.insert("kisaijiko".into(), doc(200, &["household"]));
        documents.insert("inkan".into(), doc(200, &[]));
        documents.insert("kazei".into(), DocumentConfig { years: Some(3), ..doc(200, &[]) });
        let koseki = |fee| DocumentConfig {
            hours: Some(Hours { open: "09:00".into(), close: "17:00".into() }),
            weekdays_only: true,
            ..doc(fee, &[])
        };
        documents.insert("koseki-zenbu".into(), koseki(350));
        documents.insert("koseki-kojin".into(), koseki(350));
        documents.insert("fuhyo".into(), koseki(200));
        MunicipalityConfig {
            issuer_title: issuer_title.into(),
            issuer_name: issuer_name.into(),
            seal_png: None,
            service_hours: Hours { open: "06:30".into(), close: "23:00".into() },
            closed_days: vec![ClosedDays {
                from: "12-29".into(), to: Some("01-03".into()), reason: "年末年始".into()
            }],
            min_age: 15,
            tax_year_switch: "06-01".into(),
            notices: vec![],
            documents,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Registry (the municipality systems' records, as load-world imports them)

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Municipality {
    pub code: String,
    pub name: String,
    pub prefecture: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidentStatus {
    Active,
    MovedOut,
    MovedAbroad,
    Deceased,
}

impl ResidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResidentStatus::Active => "active",
            ResidentStatus::MovedOut => "moved_out",
            ResidentStatus::MovedAbroad => "moved_abroad",
            ResidentStatus::Deceased => "deceased",
        }
    }
    pub fn parse(s: &str) -> ResidentStatus {
        match s {
            "active" => ResidentStatus::Active,
            "moved_out" => ResidentStatus::MovedOut,
            "moved_abroad" => ResidentStatus::MovedAbroad,
            _ => ResidentStatus::Deceased,
        }
    }
}

/// Everything printed about a person that is not a column of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResidentDetails {
    /// 住民となった日.
    #[serde(default)]
    pub became_resident_on: Option<String>,
    /// 住所を定めた日.
    #[serde(default)]
    pub address_since: Option<String>,
    /// 前住所.
    #[serde(default)]
    pub previous_address: Option<String>,
    /// 戸籍上の続柄 (長男, 妻 …).
    #[serde(default)]
    pub koseki_relationship: Option<String>,
    /// 父 and 母 as in the 戸籍.
    #[serde(default)]
    pub father: Option<String>,
    #[serde(default)]
    pub mother: Option<String>,
    /// 個人番号 (printed only with the `kojin_bango` option).
    #[serde(default)]
    pub my_number: Option<String>,
    /// 国籍・地域 for foreign residents.
    #[serde(default)]
    pub nationality: Option<String>,
    /// 在留資格 and 在留期間の満了日 for foreign residents.
    #[serde(default)]
    pub residence_status: Option<String>,
    #[serde(default)]
    pub residence_period_end: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    pub id: String,
    pub household_id: Option<String>,
    /// Municipality of residence (none after moving out or abroad).
    pub municipality_code: Option<String>,
    pub koseki_id: Option<String>,
    pub name: String,
    pub name_kana: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// `男` / `女`.
    pub sex: String,
    /// 続柄 in the household (世帯主, 妻, 子 …).
    pub relationship: String,
    pub address: String,
    pub status: ResidentStatus,
    /// 支援措置 (DV, stalking): never on a kiosk document.
    pub restricted: bool,
    /// 利用登録 at the 本籍 municipality done (needed for 戸籍 from elsewhere).
    pub koseki_registered: bool,
    pub details: ResidentDetails,
}

impl Resident {
    pub fn age_on(&self, day: Date) -> Option<i32> {
        let b = parse_date(&self.birth_date)?;
        let mut age = day.year() - b.year();
        if (day.month() as u8, day.day()) < (b.month() as u8, b.day()) {
            age -= 1;
        }
        Some(age)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Household {
    pub id: String,
    pub municipality_code: String,
    pub address: String,
    pub head_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Koseki {
    pub id: String,
    pub municipality_code: String,
    /// 本籍.
    pub honseki: String,
    /// 筆頭者.
    pub hittousha: String,
}

/// One fiscal year's 課税・所得 record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxRecord {
    /// The municipality that levied it (residence on 1 January of the fiscal year).
    pub municipality_code: String,
    /// 課税年度 (the certificate's year).
    pub fiscal_year: i32,
    /// 所得年 (fiscal_year − 1).
    pub income_year: i32,
    /// 給与収入.
    pub salary_income: i64,
    /// 公的年金等収入.
    pub pension_income: i64,
    /// 合計所得金額.
    pub total_income: i64,
    /// 課税標準額.
    pub taxable_income: i64,
    /// 市町村民税.
    pub municipal_tax: i64,
    /// 道府県民税.
    pub prefectural_tax: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRegistration {
    pub resident_id: String,
    /// The municipality where it is registered (abolished on moving out).
    pub municipality_code: String,
    pub registration_number: String,
    pub registered_on: String,
    /// The characters engraved on the seal (the 印影 is rendered from them).
    pub impression: String,
    pub diameter_mm: i64,
    /// A scanned 印影 as base64 PNG, where the register has one.
    #[serde(default)]
    pub seal_png: Option<String>,
}

/// What the offer and document functions need to know about one resident.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResidentView {
    pub resident: Resident,
    pub household: Option<Household>,
    /// All members of the household, the resident included.
    pub household_members: Vec<Resident>,
    pub koseki: Option<Koseki>,
    /// All people in the 戸籍, the resident included.
    pub koseki_members: Vec<Resident>,
    pub tax_records: Vec<TaxRecord>,
    pub seal: Option<SealRegistration>,
}

/// A municipality with its configuration.
#[derive(Debug, Clone)]
pub struct MunicipalityView {
    pub municipality: Municipality,
    pub config: MunicipalityConfig,
    pub config_version: i64,
}

// ---------------------------------------------------------------------------------------------
// Offers

pub struct Offers {
    pub offers: Vec<Offer>,
    pub unavailable: Vec<Unavailable>,
    pub notices: Vec<NoticeOut>,
}

fn person_choice(r: &Resident, me: &str, koseki: bool) -> PersonChoice {
    let relationship = if koseki {
        r.details.koseki_relationship.clone().unwrap_or_else(|| r.relationship.clone())
    } else {
        r.relationship.clone()
    };
    PersonChoice { id: r.id.clone(), name: r.name.clone(), relationship, is_self: r.id == me }
}

/// What `view`'s resident may get now from the municipality of residence and of 本籍.
pub fn compute_offers(view: &ResidentView, municipalities: &[&MunicipalityView], now: OffsetDateTime) -> Offers {
    let today = jst(now).date();
    let me = &view.resident;
    let mut out = Offers { offers: vec![], unavailable: vec![], notices: vec![] };
    let mut seen = std::collections::BTreeSet::new();
    for m in municipalities {
        if !seen.insert(m.municipality.code.clone()) {
            continue;
        }
        let residence =
            me.status == ResidentStatus::Active && me.municipality_code.as_deref() == Some(&m.municipality.code);
        let honseki = view.koseki.as_ref().is_some_and(|k| k.municipality_code == m.municipality.code);
        if !residence && !honseki {
            continue;
        }
        for n in m.config.active_notices(today) {
            out.notices.push(NoticeOut { municipality_code: m.municipality.code.clone(), text: n.text.clone() });
        }
        for kind in DocumentKind::ALL {
            let route_ok = if kind.is_koseki() { honseki } else { residence };
            if !route_ok {
                continue;
            }
            let Some(dc) = m.config.documents.get(kind.id()).filter(|d| d.enabled) else { continue };
            let unavailable = |reason: &str, message: String| Unavailable {
                municipality_code: m.municipality.code.clone(),
                document: kind,
                reason: reason.into(),
                message,
            };
            if let Err(u) = eligibility(view, m, kind, today) {
                out.unavailable.push(unavailable(u.0, u.1));
                continue;
            }
            if let Err((reason, message)) = m.config.available_now(kind, now) {
                out.unavailable.push(unavailable(reason, message));
                continue;
            }
            let persons: Vec<PersonChoice> = match kind {
                DocumentKind::Juminhyo | DocumentKind::Kisaijiko => {
                    if dc.options.iter().any(|o| o == "household") {
                        view.household_members
                            .iter()
                            .filter(|r| r.status == ResidentStatus::Active && !r.restricted)
                            .map(|r| person_choice(r, &me.id, false))
                            .collect()
                    } else {
                        vec![person_choice(me, &me.id, false)]
                    }
                }
                DocumentKind::KosekiKojin | DocumentKind::Fuhyo => view
                    .koseki_members
                    .iter()
                    .filter(|r| !r.restricted)
                    .map(|r| person_choice(r, &me.id, true))
                    .collect(),
                _ => vec![],
            };
            let years = if kind == DocumentKind::Kazei { tax_years(view, m, dc, today) } else { vec![] };
            out.offers.push(Offer {
                municipality_code: m.municipality.code.clone(),
                municipality_name: m.municipality.name.clone(),
                route: if kind.is_koseki() { "honseki".into() } else { "residence".into() },
                document: kind,
                title: kind.title().into(),
                fee_yen: dc.fee_yen,
                max_copies: dc.max_copies,
                options: dc.options.iter().filter(|o| *o != "household").cloned().collect(),
                persons,
                years,
            });
        }
    }
    out
}

fn tax_years(view: &ResidentView, m: &MunicipalityView, dc: &DocumentConfig, today: Date) -> Vec<i32> {
    let current = m.config.current_fiscal_year(today);
    let back = dc.years.unwrap_or(1) as i32;
    let mut years: Vec<i32> = view
        .tax_records
        .iter()
        .filter(|t| t.municipality_code == m.municipality.code)
        .map(|t| t.fiscal_year)
        .filter(|y| *y <= current && *y > current - back)
        .collect();
    years.sort_unstable_by(|a, b| b.cmp(a));
    years.dedup();
    years
}

/// Whether the resident may have this document from this municipality at all (not time-bound).
fn eligibility(
    view: &ResidentView,
    m: &MunicipalityView,
    kind: DocumentKind,
    today: Date,
) -> Result<(), (&'static str, String)> {
    let me = &view.resident;
    if me.restricted {
        return Err(("restricted", "support measures (支援措置) are in place: please apply at the counter".into()));
    }
    match me.age_on(today) {
        Some(age) if age >= m.config.min_age as i32 => {}
        _ => {
            return Err(("not_eligible", format!("residents under {} cannot use the kiosk service", m.config.min_age)))
        }
    }
    match kind {
        DocumentKind::Inkan if view.seal.as_ref().is_none_or(|s| s.municipality_code != m.municipality.code) => {
            return Err(("no_record", "no seal is registered".into()))
        }
        DocumentKind::Kazei => {
            let dc = &m.config.documents[kind.id()];
            if tax_years(view, m, dc, today).is_empty() {
                return Err(("no_record", "no tax record for the fiscal years on offer".into()));
            }
        }
        DocumentKind::KosekiZenbu if view.koseki_members.iter().any(|r| r.restricted) => {
            return Err(("restricted", "this 戸籍 cannot be issued at a kiosk".into()))
        }
        _ => {}
    }
    if kind.is_koseki() && me.municipality_code.as_deref() != Some(&m.municipality.code) && !me.koseki_registered {
        return Err(("not_eligible", "a 利用登録 with the municipality of 本籍 is needed first".into()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Issuance

/// A validated issuance request, ready to be recorded.
#[derive(Debug, Clone)]
pub struct Plan {
    pub offer: Offer,
    pub kind: DocumentKind,
    pub municipality_code: String,
    pub options: Vec<String>,
    pub persons: Vec<String>,
    pub year: Option<i32>,
    pub copies: i64,
    pub total_yen: i64,
}

/// Checks a request's shape (no registry needed).
pub fn check_request_shape(req: &IssuanceRequest) -> Result<(), ApiError> {
    let key = &req.idempotency_key;
    if key.is_empty() || key.len() > 100 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "idempotency_key",
            "must be 1–100 characters of A–Z a–z 0–9 - _ . :",
        ));
    }
    let pr = &req.payment_reference;
    if pr.is_empty() || pr.len() > 100 || !pr.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/#".contains(&b)) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "payment_reference",
            "must be 1–100 characters of A–Z a–z 0–9 - _ . : / #",
        ));
    }
    if req.municipality_code.len() != 6 || !req.municipality_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "municipality_code",
            "must be a 6-digit 地方公共団体コード",
        ));
    }
    if req.copies < 1 {
        return Err(ApiError::field(ErrorCode::InvalidField, "copies", "must be at least 1"));
    }
    if req.paid_yen < 0 {
        return Err(ApiError::field(ErrorCode::InvalidField, "paid_yen", "must not be negative"));
    }
    if req.options.len() > 10 || req.persons.len() > 50 {
        return Err(ApiError::field(ErrorCode::InvalidField, "persons", "too many entries"));
    }
    for (i, p) in req.persons.iter().enumerate() {
        if p.is_empty() || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
            return Err(ApiError::field(ErrorCode::InvalidField, format!("persons[{i}]"), "is not a person id"));
        }
    }
    Ok(())
}

/// Matches a request against what is offered now.
pub fn plan_issuance(
    req: &IssuanceRequest,
    view: &ResidentView,
    municipalities: &[&MunicipalityView],
    now: OffsetDateTime,
) -> Result<Plan, ApiError> {
    check_request_shape(req)?;
    let offers = compute_offers(view, municipalities, now);
    let Some(offer) =
        offers.offers.iter().find(|o| o.municipality_code == req.municipality_code && o.document == req.document)
    else {
        if let Some(u) = offers
            .unavailable
            .iter()
            .find(|u| u.municipality_code == req.municipality_code && u.document == req.document)
        {
            let code = match u.reason.as_str() {
                "closed_day" => ErrorCode::ClosedDay,
                "outside_service_hours" => ErrorCode::OutsideServiceHours,
                _ => ErrorCode::ResidentNotEligible,
            };
            return Err(ApiError::new(code, u.message.clone()));
        }
        return Err(ApiError::new(
            ErrorCode::DocumentNotOffered,
            format!("{} is not offered to this resident by municipality {}", req.document, req.municipality_code),
        ));
    };
    let mut options = req.options.clone();
    options.sort();
    options.dedup();
    for o in &options {
        if !offer.options.contains(o) {
            return Err(ApiError::field(
                ErrorCode::InvalidOption,
                "options",
                format!("{o:?} is not offered for {}", req.document),
            ));
        }
    }
    let mut persons = req.persons.clone();
    if req.document.person_choice() {
        if persons.is_empty() {
            persons.push(view.resident.id.clone());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in persons.iter().enumerate() {
            if !offer.persons.iter().any(|c| &c.id == p) {
                return Err(ApiError::field(
                    ErrorCode::PersonNotAllowed,
                    format!("persons[{i}]"),
                    "is not a person this resident may include",
                ));
            }
            if !seen.insert(p.clone()) {
                return Err(ApiError::field(ErrorCode::InvalidField, format!("persons[{i}]"), "is listed twice"));
            }
        }
        if matches!(req.document, DocumentKind::KosekiKojin | DocumentKind::Fuhyo) && persons.len() > 1 {
            return Err(ApiError::field(ErrorCode::InvalidField, "persons", "one person per certificate"));
        }
    } else if !persons.is_empty() {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "persons",
            format!("{} does not take persons", req.document),
        ));
    }
    let year = match (req.document, req.year) {
        (DocumentKind::Kazei, Some(y)) if offer.years.contains(&y) => Some(y),
        (DocumentKind::Kazei, Some(y)) => {
            return Err(ApiError::field(
                ErrorCode::InvalidOption,
                "year",
                format!("fiscal year {y} is not offered (offered: {:?})", offer.years),
            ))
        }
        (DocumentKind::Kazei, None) => Some(offer.years[0]),
        (_, Some(_)) => {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "year",
                format!("{} does not take a year", req.document),
            ))
        }
        (_, None) => None,
    };
    if req.copies > offer.max_copies {
        return Err(ApiError::field(
            ErrorCode::TooManyCopies,
            "copies",
            format!("at most {} copies", offer.max_copies),
        ));
    }
    let total_yen = offer.fee_yen * req.copies;
    if req.paid_yen != total_yen {
        return Err(ApiError::field(
            ErrorCode::PaymentMismatch,
            "paid_yen",
            format!("{} yen paid, {} yen due ({} × {})", req.paid_yen, total_yen, offer.fee_yen, req.copies),
        ));
    }
    Ok(Plan {
        offer: offer.clone(),
        kind: req.document,
        municipality_code: req.municipality_code.clone(),
        options,
        persons,
        year,
        copies: req.copies,
        total_yen,
    })
}

// ---------------------------------------------------------------------------------------------
// The document payload

/// What the signature binds the document to. The kiosk prints only if `session_id` and
/// `certificate_fingerprint` are its own session's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub session_id: String,
    pub certificate_fingerprint: String,
    pub kiosk_id: String,
    pub issuance_number: String,
    pub issued_at: String,
    pub document: DocumentKind,
    pub copies: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerInfo {
    pub code: String,
    pub name: String,
    pub prefecture: String,
    /// e.g. `横浜市長`.
    pub issuer_title: String,
    pub issuer_name: String,
    /// SHA-256 of the seal PNG in the catalog (hex), if the municipality has one.
    pub seal_sha256: Option<String>,
}

/// The signed document data (`IssuanceReply.document.payload`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentPayload {
    pub format: u32,
    pub binding: Binding,
    pub municipality: IssuerInfo,
    pub title: String,
    /// `YYYY-MM-DD` (JST).
    pub issued_on: String,
    /// e.g. `令和7年6月1日`.
    pub issued_on_era: String,
    /// The certification sentence printed above the issuer.
    pub certification: String,
    /// The URL for the QR code (`GET /v1/verify/{number}?code=...`).
    pub verify_url: String,
    /// The code in that URL, to print next to the number.
    pub verification_code: String,
    pub body: DocumentBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonRecord {
    pub id: String,
    pub name: String,
    pub name_kana: String,
    pub birth_date: String,
    pub sex: String,
    /// 続柄 (with the `setainushi` option, or on 戸籍 documents).
    pub relationship: Option<String>,
    pub became_resident_on: Option<String>,
    pub address_since: Option<String>,
    pub previous_address: Option<String>,
    /// With the `honseki` option.
    pub honseki: Option<String>,
    pub hittousha: Option<String>,
    /// With the `kojin_bango` option.
    pub my_number: Option<String>,
    pub nationality: Option<String>,
    pub residence_status: Option<String>,
    pub residence_period_end: Option<String>,
    pub father: Option<String>,
    pub mother: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum DocumentBody {
    /// 住民票の写し and 住民票記載事項証明書.
    #[serde(rename = "juminhyo")]
    Juminhyo {
        address: String,
        /// 世帯主 (with the `setainushi` option).
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
        /// The characters of the 印影, to be drawn as a round seal of `seal_diameter_mm`.
        seal_impression: String,
        seal_diameter_mm: i64,
        /// A scanned 印影 (base64 PNG) when the register has one.
        seal_png: Option<String>,
    },
    #[serde(rename = "kazei")]
    Kazei { person: PersonRecord, address: String, record: TaxRecord },
    /// 戸籍全部事項証明書 / 個人事項証明書.
    #[serde(rename = "koseki")]
    Koseki { honseki: String, hittousha: String, whole: bool, persons: Vec<PersonRecord> },
    #[serde(rename = "fuhyo")]
    Fuhyo { honseki: String, hittousha: String, person: PersonRecord, address: String, address_since: Option<String> },
}

/// `令和7年6月1日`.
pub fn era_date(d: Date) -> String {
    let era = madoguchi_certs::Era::of(d);
    match era.year_of(d) {
        Some(1) => format!("{}元年{}月{}日", era.name_ja(), d.month() as u8, d.day()),
        Some(y) => format!("{}{}年{}月{}日", era.name_ja(), y, d.month() as u8, d.day()),
        None => format!("{}年{}月{}日", d.year(), d.month() as u8, d.day()),
    }
}

fn record(r: &Resident, relationship: Option<String>) -> PersonRecord {
    PersonRecord {
        id: r.id.clone(),
        name: r.name.clone(),
        name_kana: r.name_kana.clone(),
        birth_date: r.birth_date.clone(),
        sex: r.sex.clone(),
        relationship,
        became_resident_on: r.details.became_resident_on.clone(),
        address_since: r.details.address_since.clone(),
        previous_address: r.details.previous_address.clone(),
        honseki: None,
        hittousha: None,
        my_number: None,
        nationality: r.details.nationality.clone(),
        residence_status: r.details.residence_status.clone(),
        residence_period_end: r.details.residence_period_end.clone(),
        father: None,
        mother: None,
    }
}

/// Builds the document data from the registry. `koseki_of` resolves a person's 本籍 and 筆頭者
/// (for the `honseki` option on 住民票).
pub fn build_payload(
    plan: &Plan,
    view: &ResidentView,
    issuer: IssuerInfo,
    binding: Binding,
    issued_at: OffsetDateTime,
    verify_url: String,
    koseki_of: &dyn Fn(&Resident) -> Option<Koseki>,
) -> Result<DocumentPayload, ApiError> {
    let today = jst(issued_at).date();
    let find = |id: &str, pool: &[Resident]| -> Result<Resident, ApiError> {
        pool.iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorCode::PersonNotAllowed, "a requested person is no longer in the record"))
    };
    let me = &view.resident;
    let has = |o: &str| plan.options.iter().any(|x| x == o);
    let (body, certification) = match plan.kind {
        DocumentKind::Juminhyo | DocumentKind::Kisaijiko => {
            let mut persons = Vec::new();
            // Household order: as registered (head first).
            for m in &view.household_members {
                if plan.persons.contains(&m.id) {
                    let mut p = record(m, has("setainushi").then(|| m.relationship.clone()));
                    if has("honseki") {
                        if let Some(k) = koseki_of(m) {
                            p.honseki = Some(k.honseki);
                            p.hittousha = Some(k.hittousha);
                        }
                    }
                    if has("kojin_bango") {
                        p.my_number = m.details.my_number.clone();
                    }
                    persons.push(p);
                }
            }
            if persons.len() != plan.persons.len() {
                return Err(ApiError::new(
                    ErrorCode::PersonNotAllowed,
                    "a requested person is no longer in the household",
                ));
            }
            let active: Vec<_> = view.household_members.iter().filter(|r| r.status == ResidentStatus::Active).collect();
            let whole = active.len() == persons.len();
            let address = view.household.as_ref().map(|h| h.address.clone()).unwrap_or_else(|| me.address.clone());
            if plan.kind == DocumentKind::Kisaijiko {
                (
                    DocumentBody::Kisaijiko { address, persons },
                    "上記の事項は、住民票に記載されている事項と相違ないことを証明する。",
                )
            } else {
                let head = view
                    .household
                    .as_ref()
                    .and_then(|h| h.head_id.as_deref())
                    .and_then(|id| view.household_members.iter().find(|r| r.id == id));
                (
                    DocumentBody::Juminhyo {
                        address,
                        household_head: if has("setainushi") { head.map(|h| h.name.clone()) } else { None },
                        whole_household: whole,
                        persons,
                        options: plan.options.clone(),
                    },
                    if whole {
                        "この写しは、世帯全員の住民票の原本と相違ないことを証明する。"
                    } else {
                        "この写しは、住民票の原本と相違ないことを証明する。"
                    },
                )
            }
        }
        DocumentKind::Inkan => {
            let seal = view
                .seal
                .as_ref()
                .ok_or_else(|| ApiError::new(ErrorCode::ResidentNotEligible, "no seal is registered"))?;
            (
                DocumentBody::Inkan {
                    person: record(me, None),
                    address: me.address.clone(),
                    registration_number: seal.registration_number.clone(),
                    registered_on: seal.registered_on.clone(),
                    seal_impression: seal.impression.clone(),
                    seal_diameter_mm: seal.diameter_mm,
                    seal_png: seal.seal_png.clone(),
                },
                "この写しは、登録されている印影と相違ないことを証明する。",
            )
        }
        DocumentKind::Kazei => {
            let year = plan.year.unwrap_or_default();
            let rec = view.tax_records.iter().find(|t| t.fiscal_year == year).cloned().ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidOption, format!("no tax record for fiscal year {year}"))
            })?;
            (
                DocumentBody::Kazei { person: record(me, None), address: me.address.clone(), record: rec },
                "上記のとおり証明する。",
            )
        }
        DocumentKind::KosekiZenbu | DocumentKind::KosekiKojin | DocumentKind::Fuhyo => {
            let k = view
                .koseki
                .as_ref()
                .ok_or_else(|| ApiError::new(ErrorCode::DocumentNotOffered, "no 戸籍 on record"))?;
            let with_koseki = |r: &Resident| {
                let mut p =
                    record(r, Some(r.details.koseki_relationship.clone().unwrap_or_else(|| r.relationship.clone())));
                p.father = r.details.father.clone();
                p.mother = r.details.mother.clone();
                p.became_resident_on = None;
                p.address_since = None;
                p.previous_address = None;
                p
            };
            match plan.kind {
                DocumentKind::KosekiZenbu => (
                    DocumentBody::Koseki {
                        honseki: k.honseki.clone(),
                        hittousha: k.hittousha.clone(),
                        whole: true,
                        persons: view.koseki_members.iter().map(with_koseki).collect(),
                    },
                    "これは、戸籍に記録されている事項の全部を証明した書面である。",
                ),
                DocumentKind::KosekiKojin => {
                    let p = find(&plan.persons[0], &view.koseki_members)?;
                    (
                        DocumentBody::Koseki {
                            honseki: k.honseki.clone(),
                            hittousha: k.hittousha.clone(),
                            whole: false,
                            persons: vec![with_koseki(&p)],
                        },
                        "これは、戸籍中の一部の者について記録されている事項を証明した書面である。",
                    )
                }
                _ => {
                    let p = find(&plan.persons[0], &view.koseki_members)?;
                    (
                        DocumentBody::Fuhyo {
                            honseki: k.honseki.clone(),
                            hittousha: k.hittousha.clone(),
                            address: p.address.clone(),
                            address_since: p.details.address_since.clone(),
                            person: with_koseki(&p),
                        },
                        "この写しは、戸籍の附票の原本と相違ないことを証明する。",
                    )
                }
            }
        }
    };
    Ok(DocumentPayload {
        format: 1,
        binding,
        municipality: issuer,
        title: plan.kind.title().into(),
        issued_on: format!("{:04}-{:02}-{:02}", today.year(), today.month() as u8, today.day()),
        issued_on_era: era_date(today),
        certification: certification.into(),
        verification_code: verify_url.rsplit("code=").next().unwrap_or_default().to_string(),
        verify_url,
        body,
    })
}

/// `HH:MM` of a JST time, for messages.
pub fn hhmm(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn config() -> MunicipalityConfig {
        MunicipalityConfig::standard("横浜市長", "山中　竹春")
    }

    fn resident(id: &str, rel: &str) -> Resident {
        Resident {
            id: id.into(),
            household_id: Some("H1".into()),
            municipality_code: Some("141003".into()),
            koseki_id: Some("K1".into()),
            name: format!("髙橋　{id}"),
            name_kana: "タカハシ".into(),
            birth_date: "1980-04-01".into(),
            sex: "男".into(),
            relationship: rel.into(),
            address: "神奈川県横浜市中区港町１丁目１番地".into(),
            status: ResidentStatus::Active,
            restricted: false,
            koseki_registered: true,
            details: ResidentDetails::default(),
        }
    }

    fn view() -> ResidentView {
        let me = resident("R1", "世帯主");
        let wife = resident("R2", "妻");
        ResidentView {
            resident: me.clone(),
            household: Some(Household {
                id: "H1".into(),
                municipality_code: "141003".into(),
                address: me.address.clone(),
                head_id: Some("R1".into()),
            }),
            household_members: vec![me.clone(), wife.clone()],
            koseki: Some(Koseki {
                id: "K1".into(),
                municipality_code: "141003".into(),
                honseki: "横浜市中区港町１丁目１番地".into(),
                hittousha: me.name.clone(),
            }),
            koseki_members: vec![me, wife],
            tax_records: vec![TaxRecord {
                municipality_code: "141003".into(),
                fiscal_year: 2025,
                income_year: 2024,
                salary_income: 5_000_000,
                pension_income: 0,
                total_income: 3_560_000,
                taxable_income: 2_360_000,
                municipal_tax: 141_600,
                prefectural_tax: 94_400,
            }],
            seal: None,
        }
    }

    fn muni(config: MunicipalityConfig) -> MunicipalityView {
        MunicipalityView {
            municipality: Municipality {
                code: "141003".into(), name: "横浜市".into(), prefecture: "神奈川県".into()
            },
            config,
            config_version: 1,
        }
    }

    // 2025-06-02 is a Monday.
    const MONDAY_NOON: OffsetDateTime = datetime!(2025-06-02 12:00 +9);

    #[test]
    fn standard_config_is_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn invalid_config_names_the_field() {
        let mut c = config();
        c.documents.get_mut("juminhyo").unwrap().fee_yen = -1;
        let e = c.validate().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("documents.juminhyo.fee_yen"));
        assert_eq!(e.code, ErrorCode::InvalidConfig);

        let mut c = config();
        c.service_hours.close = "25:00".into();
        assert_eq!(c.validate().unwrap_err().field.as_deref(), Some("service_hours.close"));
        c.service_hours = Hours { open: "24:00".into(), close: "24:00".into() };
        assert_eq!(c.validate().unwrap_err().field.as_deref(), Some("service_hours.open"));

        let mut c = config();
        c.documents.insert("passport".into(), c.documents["inkan"].clone());
        assert_eq!(c.validate().unwrap_err().field.as_deref(), Some("documents.passport"));

        let mut c = config();
        c.documents.get_mut("inkan").unwrap().options.push("household".into());
        assert_eq!(c.validate().unwrap_err().field.as_deref(), Some("documents.inkan.options[0]"));

        let mut c = config();
        c.closed_days.push(ClosedDays { from: "2025-02-30".into(), to: None, reason: String::new() });
        assert_eq!(c.validate().unwrap_err().field.as_deref(), Some("closed_days[1].from"));
    }

    #[test]
    fn hours_and_closed_days() {
        let c = config();
        assert!(c.available_now(DocumentKind::Juminhyo, MONDAY_NOON).is_ok());
        assert_eq!(
            c.available_now(DocumentKind::Juminhyo, datetime!(2025-06-02 06:29 +9)).unwrap_err().0,
            "outside_service_hours"
        );
        assert!(c.available_now(DocumentKind::Juminhyo, datetime!(2025-06-02 06:30 +9)).is_ok());
        assert_eq!(
            c.available_now(DocumentKind::Juminhyo, datetime!(2025-06-02 23:00 +9)).unwrap_err().0,
            "outside_service_hours"
        );
        // The same instant expressed in UTC.
        assert!(c.available_now(DocumentKind::Juminhyo, datetime!(2025-06-02 03:00 UTC)).is_ok());
        // New-year closure wraps.
        for d in [datetime!(2025-12-29 12:00 +9), datetime!(2025-12-31 12:00 +9), datetime!(2026-01-03 12:00 +9)] {
            assert_eq!(c.available_now(DocumentKind::Juminhyo, d).unwrap_err().0, "closed_day");
        }
        assert!(c.available_now(DocumentKind::Juminhyo, datetime!(2026-01-04 12:00 +9)).is_ok());
        // 戸籍: weekdays 09:00–17:00.
        assert!(c.available_now(DocumentKind::KosekiZenbu, MONDAY_NOON).is_ok());
        assert!(c.available_now(DocumentKind::KosekiZenbu, datetime!(2025-06-02 17:30 +9)).is_err());
        assert!(c.available_now(DocumentKind::KosekiZenbu, datetime!(2025-06-07 12:00 +9)).is_err());
    }

    #[test]
    fn offers_follow_config_and_registry() {
        let m = muni(config());
        let v = view();
        let o = compute_offers(&v, &[&m], MONDAY_NOON);
        let kinds: Vec<_> = o.offers.iter().map(|o| o.document).collect();
        assert!(kinds.contains(&DocumentKind::Juminhyo));
        assert!(kinds.contains(&DocumentKind::Kazei));
        assert!(kinds.contains(&DocumentKind::KosekiZenbu));
        assert!(!kinds.contains(&DocumentKind::Inkan), "no seal registered");
        assert!(o.unavailable.iter().any(|u| u.document == DocumentKind::Inkan && u.reason == "no_record"));
        let kazei = o.offers.iter().find(|o| o.document == DocumentKind::Kazei).unwrap();
        assert_eq!(kazei.years, vec![2025]);
        // Before the June switch, fiscal 2025 is not out yet.
        let may = compute_offers(&v, &[&m], datetime!(2025-05-30 12:00 +9));
        assert!(may.unavailable.iter().any(|u| u.document == DocumentKind::Kazei));
        // Disabled documents disappear entirely.
        let mut c = config();
        c.documents.get_mut("juminhyo").unwrap().enabled = false;
        let m2 = muni(c);
        let o = compute_offers(&v, &[&m2], MONDAY_NOON);
        assert!(!o.offers.iter().any(|o| o.document == DocumentKind::Juminhyo));
        assert!(!o.unavailable.iter().any(|o| o.document == DocumentKind::Juminhyo));
    }

    #[test]
    fn restricted_and_underage_get_nothing() {
        let m = muni(config());
        let mut v = view();
        v.resident.restricted = true;
        assert!(compute_offers(&v, &[&m], MONDAY_NOON).offers.is_empty());
        let mut v = view();
        v.resident.birth_date = "2012-01-01".into();
        assert!(compute_offers(&v, &[&m], MONDAY_NOON).offers.is_empty());
        // A restricted household member is never offered as a person.
        let mut v = view();
        v.household_members[1].restricted = true;
        let o = compute_offers(&v, &[&m], MONDAY_NOON);
        let j = o.offers.iter().find(|o| o.document == DocumentKind::Juminhyo).unwrap();
        assert_eq!(j.persons.len(), 1);
    }

    fn req(doc: DocumentKind, copies: i64, paid: i64) -> IssuanceRequest {
        IssuanceRequest {
            municipality_code: "141003".into(),
            document: doc,
            options: vec![],
            persons: vec![],
            year: None,
            copies,
            paid_yen: paid,
            payment_reference: "P1".into(),
            idempotency_key: "k1".into(),
        }
    }

    #[test]
    fn planning_checks_everything() {
        let m = muni(config());
        let v = view();
        let p = plan_issuance(&req(DocumentKind::Juminhyo, 2, 400), &v, &[&m], MONDAY_NOON).unwrap();
        assert_eq!(p.persons, vec!["R1".to_string()]);
        assert_eq!(p.total_yen, 400);
        assert_eq!(
            plan_issuance(&req(DocumentKind::Juminhyo, 2, 200), &v, &[&m], MONDAY_NOON).unwrap_err().code,
            ErrorCode::PaymentMismatch
        );
        assert_eq!(
            plan_issuance(&req(DocumentKind::Juminhyo, 11, 2200), &v, &[&m], MONDAY_NOON).unwrap_err().code,
            ErrorCode::TooManyCopies
        );
        assert_eq!(
            plan_issuance(&req(DocumentKind::Inkan, 1, 200), &v, &[&m], MONDAY_NOON).unwrap_err().code,
            ErrorCode::ResidentNotEligible
        );
        assert_eq!(
            plan_issuance(&req(DocumentKind::KosekiZenbu, 1, 350), &v, &[&m], datetime!(2025-06-07 12:00 +9))
                .unwrap_err()
                .code,
            ErrorCode::OutsideServiceHours
        );
        assert_eq!(
            plan_issuance(&req(DocumentKind::Juminhyo, 1, 200), &v, &[&m], datetime!(2025-12-30 12:00 +9))
                .unwrap_err()
                .code,
            ErrorCode::ClosedDay
        );
        let mut r = req(DocumentKind::Juminhyo, 1, 200);
        r.persons = vec!["R1".into(), "R9".into()];
        let e = plan_issuance(&r, &v, &[&m], MONDAY_NOON).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::PersonNotAllowed, Some("persons[1]")));
        r.persons = vec!["R1".into(), "R2".into()];
        r.options = vec!["kojin_bango".into()];
        assert_eq!(plan_issuance(&r, &v, &[&m], MONDAY_NOON).unwrap_err().code, ErrorCode::InvalidOption);
        r.options = vec!["setainushi".into()];
        let p = plan_issuance(&r, &v, &[&m], MONDAY_NOON).unwrap();
        let issuer = IssuerInfo {
            code: "141003".into(),
            name: "横浜市".into(),
            prefecture: "神奈川県".into(),
            issuer_title: "横浜市長".into(),
            issuer_name: "山中　竹春".into(),
            seal_sha256: None,
        };
        let binding = Binding {
            session_id: "s".into(),
            certificate_fingerprint: "f".into(),
            kiosk_id: "k".into(),
            issuance_number: "n".into(),
            issued_at: "t".into(),
            document: DocumentKind::Juminhyo,
            copies: 1,
        };
        let doc = build_payload(&p, &v, issuer, binding, MONDAY_NOON, "u".into(), &|_| None).unwrap();
        assert_eq!(doc.issued_on_era, "令和7年6月2日");
        match doc.body {
            DocumentBody::Juminhyo { whole_household, persons, household_head, .. } => {
                assert!(whole_household);
                assert_eq!(persons.len(), 2);
                assert_eq!(persons[1].relationship.as_deref(), Some("妻"));
                assert_eq!(household_head.as_deref(), Some("髙橋　R1"));
            }
            other => panic!("{other:?}"),
        }
        let mut r = req(DocumentKind::Kazei, 1, 200);
        r.year = Some(2023);
        assert_eq!(plan_issuance(&r, &v, &[&m], MONDAY_NOON).unwrap_err().code, ErrorCode::InvalidOption);
        let mut r = req(DocumentKind::Juminhyo, 1, 200);
        r.idempotency_key = "bad key'; DROP TABLE".into();
        assert_eq!(plan_issuance(&r, &v, &[&m], MONDAY_NOON).unwrap_err().field.as_deref(), Some("idempotency_key"));
    }

    #[test]
    fn era_dates() {
        assert_eq!(era_date(time::macros::date!(2019 - 05 - 01)), "令和元年5月1日");
        assert_eq!(era_date(time::macros::date!(1989 - 01 - 07)), "昭和64年1月7日");
    }
}
