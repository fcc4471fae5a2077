//! What a municipality offers at kiosks: its configuration, as its administrator sets it and as
//! the signed catalog carries it to the kiosks, with the rules read from it (service hours,
//! closed days, the fiscal year, notices). Plain data and plain functions; the clock is a
//! parameter.

use crate::wording::Wording;
use crate::DocumentKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::macros::offset;
use time::{Date, Month, OffsetDateTime, Weekday};

/// Japan Standard Time: service hours, closed days and issue dates are all JST.
pub fn jst(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(offset!(+9))
}

/// A configuration refused, naming the field (dotted path) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), message: message.into() }
}

/// What a municipality offers at kiosks. Managed by its administrator; served in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The municipality's words on its paper (titles, certification sentences, 以下余白, the
    /// omitted-options line); what is not set is the standard wording.
    #[serde(default, skip_serializing_if = "is_standard")]
    pub wording: Wording,
}

fn is_standard(w: &Wording) -> bool {
    *w == Wording::default()
}

fn default_min_age() -> i64 {
    15
}
fn default_tax_switch() -> String {
    "06-01".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Hours {
    /// `HH:MM`, 00:00–23:59.
    pub open: String,
    /// `HH:MM`, after `open`, up to 24:00.
    pub close: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClosedDays {
    pub from: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

pub fn parse_date(s: &str) -> Option<Date> {
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

fn check_text(field: &str, s: &str, max: usize, required: bool) -> Result<(), ConfigError> {
    if required && s.trim().is_empty() {
        return Err(refuse(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(refuse(field, format!("longer than {max} characters")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(refuse(field, "contains control characters"));
    }
    Ok(())
}

fn check_hours(field: &str, h: &Hours) -> Result<(u32, u32), ConfigError> {
    let open = minutes(&h.open).filter(|m| *m < 24 * 60).ok_or_else(|| {
        refuse(format!("{field}.open"), format!("{:?} is not a time of day (HH:MM, 00:00–23:59)", h.open))
    })?;
    let close = minutes(&h.close).ok_or_else(|| {
        refuse(format!("{field}.close"), format!("{:?} is not a time of day (HH:MM, 00:00–24:00)", h.close))
    })?;
    if close <= open {
        return Err(refuse(format!("{field}.close"), format!("{} is not after open {}", h.close, h.open)));
    }
    Ok((open, close))
}

enum DaySpec {
    Once(Date),
    Yearly(u8, u8),
}

fn day_spec(field: &str, s: &str) -> Result<DaySpec, ConfigError> {
    if let Some(d) = parse_date(s) {
        Ok(DaySpec::Once(d))
    } else if let Some((m, d)) = parse_month_day(s) {
        Ok(DaySpec::Yearly(m, d))
    } else {
        Err(refuse(field, format!("{s:?} is neither YYYY-MM-DD nor MM-DD")))
    }
}

impl MunicipalityConfig {
    /// Refuses anything that cannot be served correctly, naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_text("issuer_title", &self.issuer_title, 40, true)?;
        check_text("issuer_name", &self.issuer_name, 40, true)?;
        if let Some(seal) = &self.seal_png {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(seal)
                .map_err(|_| refuse("seal_png", "is not base64"))?;
            if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                return Err(refuse("seal_png", "is not a PNG image"));
            }
            if bytes.len() > 256 * 1024 {
                return Err(refuse("seal_png", "is larger than 256 KiB"));
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
                        return Err(refuse(format!("{f}.to"), "is before from"))
                    }
                    (DaySpec::Once(_), DaySpec::Yearly(..)) | (DaySpec::Yearly(..), DaySpec::Once(_)) => {
                        return Err(refuse(format!("{f}.to"), "must have the same form as from"))
                    }
                    _ => {}
                }
            }
            check_text(&format!("{f}.reason"), &c.reason, 200, false)?;
        }
        if !(0..=120).contains(&self.min_age) {
            return Err(refuse("min_age", "must be 0–120"));
        }
        if parse_month_day(&self.tax_year_switch).is_none() {
            return Err(refuse("tax_year_switch", format!("{:?} is not MM-DD", self.tax_year_switch)));
        }
        if self.notices.len() > 20 {
            return Err(refuse("notices", "more than 20 notices"));
        }
        for (i, n) in self.notices.iter().enumerate() {
            check_text(&format!("notices[{i}].text"), &n.text, 500, true)?;
            for (k, v) in [("from", &n.from), ("until", &n.until)] {
                if let Some(v) = v {
                    if parse_date(v).is_none() {
                        return Err(refuse(format!("notices[{i}].{k}"), format!("{v:?} is not YYYY-MM-DD")));
                    }
                }
            }
        }
        for (name, d) in &self.documents {
            let f = format!("documents.{name}");
            let Some(kind) = DocumentKind::parse(name) else {
                let known: Vec<_> = DocumentKind::ALL.iter().map(|k| k.id()).collect();
                return Err(refuse(f, format!("unknown document (known: {})", known.join(", "))));
            };
            if !(0..=100_000).contains(&d.fee_yen) {
                return Err(refuse(format!("{f}.fee_yen"), format!("{} is not a fee (0–100000 yen)", d.fee_yen)));
            }
            if !(1..=20).contains(&d.max_copies) {
                return Err(refuse(format!("{f}.max_copies"), format!("{} is not 1–20", d.max_copies)));
            }
            for (j, o) in d.options.iter().enumerate() {
                if !kind.known_options().contains(&o.as_str()) {
                    return Err(refuse(
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
                    return Err(refuse(format!("{f}.years"), "must be 1–5"))
                }
                (DocumentKind::Kazei, _) => {}
                (_, Some(_)) => return Err(refuse(format!("{f}.years"), "only for kazei")),
                _ => {}
            }
        }
        self.wording.validate().map_err(|(field, message)| refuse(field, message))?;
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
            wording: Wording::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn config() -> MunicipalityConfig {
        MunicipalityConfig::standard("横浜市長", "山中　竹春")
    }

    // 2025-06-02 is a Monday.
    const MONDAY_NOON: OffsetDateTime = datetime!(2025-06-02 12:00 +9);

    #[test]
    fn standard_config_is_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn invalid_config_names_the_field() {
        let field = |c: &MunicipalityConfig| c.validate().unwrap_err().field;
        let mut c = config();
        c.documents.get_mut("juminhyo").unwrap().fee_yen = -1;
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "documents.juminhyo.fee_yen");
        assert_eq!(e.to_string(), "documents.juminhyo.fee_yen: -1 is not a fee (0–100000 yen)");

        let mut c = config();
        c.service_hours.close = "25:00".into();
        assert_eq!(field(&c), "service_hours.close");
        c.service_hours = Hours { open: "24:00".into(), close: "24:00".into() };
        assert_eq!(field(&c), "service_hours.open");

        let mut c = config();
        c.documents.insert("passport".into(), c.documents["inkan"].clone());
        assert_eq!(field(&c), "documents.passport");

        let mut c = config();
        c.documents.get_mut("inkan").unwrap().options.push("household".into());
        assert_eq!(field(&c), "documents.inkan.options[0]");

        let mut c = config();
        c.closed_days.push(ClosedDays { from: "2025-02-30".into(), to: None, reason: String::new() });
        assert_eq!(field(&c), "closed_days[1].from");
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
}
