//! Everything a payload must be before anything is printed from it: dates, required items,
//! lengths, the binding against the body, the era date and the verification URL.

use super::fields::{
    copies, date, municipality_code, opt_date, opt_text, seal_diameter_mm, seal_png, sex_is_female, sha256_hex, text,
    token, yen, ADDRESS_MAX, KANA_MAX, NAME_MAX, SHORT_MAX,
};
use super::{DocumentBody, DocumentPayload, PayloadError, PersonRecord, TaxRecord, FORMAT, MAX_PERSONS};
use crate::DocumentKind;
use madoguchi_certs::era::wareki;
use time::Date;

impl DocumentPayload {
    /// Refuses a payload that cannot be printed as issued, naming the first offending field.
    pub fn validate(&self) -> Result<(), PayloadError> {
        if self.format != FORMAT {
            return Err(PayloadError::UnsupportedFormat(self.format));
        }
        // The binding: what this payload was issued as.
        let b = &self.binding;
        token("binding.session_id", &b.session_id, 100)?;
        sha256_hex(
            "binding.certificate_fingerprint",
            &b.certificate_fingerprint,
            "is not a SHA-256 fingerprint (64 hex digits)",
        )?;
        token("binding.kiosk_id", &b.kiosk_id, 100)?;
        text("binding.issued_at", &b.issued_at, 40, true)?;
        if DocumentBody::kind_of(b.document) != self.body.kind() {
            return Err(PayloadError::inconsistent("body.kind", "binding.document"));
        }
        match (&self.body, b.document) {
            (DocumentBody::Koseki { whole: true, .. }, DocumentKind::KosekiKojin)
            | (DocumentBody::Koseki { whole: false, .. }, DocumentKind::KosekiZenbu) => {
                return Err(PayloadError::inconsistent("body.whole", "binding.document"))
            }
            _ => {}
        }
        text("title", &self.title, crate::wording::TITLE_MAX, true)?;
        text("end_note", &self.end_note, crate::wording::NOTE_MAX, true)?;
        text("continued_note", &self.continued_note, crate::wording::NOTE_MAX, true)?;
        match (&self.omitted_note, &self.body) {
            (Some(n), DocumentBody::Juminhyo { .. }) => text("omitted_note", n, crate::wording::OMITTED_MAX, true)?,
            (Some(_), _) => return Err(PayloadError::inconsistent("omitted_note", "body.kind")),
            (None, _) => {}
        }
        copies(b.copies)?;

        // The issuance: number, date, verification reference.
        token("binding.issuance_number", &b.issuance_number, 40)?;
        let issued_on = date("issued_on", &self.issued_on)?;
        if self.issued_on_era != wareki(issued_on) {
            return Err(PayloadError::inconsistent("issued_on_era", "issued_on"));
        }
        text("certification", &self.certification, crate::wording::SENTENCE_MAX, true)?;
        token("verification_code", &self.verification_code, 40)?;
        self.check_verify_url()?;

        // The issuer.
        let m = &self.municipality;
        municipality_code("municipality.code", &m.code)?;
        text("municipality.name", &m.name, 20, true)?;
        text("municipality.prefecture", &m.prefecture, 10, true)?;
        text("municipality.issuer_title", &m.issuer_title, 40, true)?;
        text("municipality.issuer_name", &m.issuer_name, 40, true)?;
        if let Some(h) = &m.seal_sha256 {
            sha256_hex("municipality.seal_sha256", h, "is not a SHA-256 (64 hex digits)")?;
        }

        match &self.body {
            DocumentBody::Juminhyo { address, household_head, persons, options, .. } => {
                juminhyo(address, household_head, persons, options)
            }
            DocumentBody::Kisaijiko { address, persons } => residents(address, persons, Requested::default()),
            DocumentBody::Inkan {
                person,
                address,
                registration_number,
                registered_on,
                seal_impression,
                seal_diameter_mm,
                seal_png,
            } => {
                inkan(person, address, registration_number, registered_on, seal_impression, *seal_diameter_mm, seal_png)
            }
            DocumentBody::Kazei { person, address, record } => kazei(person, address, record),
            DocumentBody::Koseki { honseki, hittousha, whole, persons, created } => {
                opt_date("body.created", created)?;
                koseki(honseki, hittousha, *whole, persons)
            }
            DocumentBody::Fuhyo { honseki, hittousha, person, address, address_since } => {
                fuhyo(honseki, hittousha, person, address, address_since)
            }
        }
    }

    /// `https://HOST/v1/verify/NUMBER?code=CODE`, the one form printed in the QR code: any other
    /// URL would put on paper something other than what the backend signed. Number and code go
    /// into a URL, a PJL job name and a file name: short ASCII; the host a plain host name.
    fn check_verify_url(&self) -> Result<(), PayloadError> {
        let wrong = || PayloadError::invalid("verify_url", "is not https://HOST/v1/verify/NUMBER?code=CODE");
        let rest = self.verify_url.strip_prefix("https://").ok_or_else(wrong)?;
        let (host, _) = rest.split_once('/').ok_or_else(wrong)?;
        let url_token =
            |s: &str| !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let host_ok = !host.is_empty()
            && host.len() <= 100
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b));
        if !url_token(&self.binding.issuance_number) || !url_token(&self.verification_code) || !host_ok {
            return Err(wrong());
        }
        let expected =
            format!("https://{host}/v1/verify/{}?code={}", self.binding.issuance_number, self.verification_code);
        if self.verify_url != expected {
            return Err(PayloadError::inconsistent("verify_url", "binding.issuance_number and verification_code"));
        }
        Ok(())
    }
}

/// Checks what every person record must have: id, name, kana, birth date.
fn person_basics(at: &str, p: &PersonRecord) -> Result<Date, PayloadError> {
    token(&format!("{at}.id"), &p.id, 64)?;
    text(&format!("{at}.name"), &p.name, NAME_MAX, true)?;
    text(&format!("{at}.name_kana"), &p.name_kana, KANA_MAX, false)?;
    date(&format!("{at}.birth_date"), &p.birth_date)
}

fn persons_count(at: &str, persons: &[PersonRecord]) -> Result<(), PayloadError> {
    if persons.is_empty() {
        return Err(PayloadError::missing(at));
    }
    if persons.len() > MAX_PERSONS {
        return Err(PayloadError::invalid(at, "lists more persons than one certificate takes"));
    }
    Ok(())
}

/// The printed options a 住民票 was asked with.
#[derive(Default, Clone, Copy)]
struct Requested {
    setainushi: bool,
    honseki: bool,
    kojin_bango: bool,
}

fn juminhyo(
    address: &str,
    household_head: &Option<String>,
    persons: &[PersonRecord],
    options: &[String],
) -> Result<(), PayloadError> {
    let known = DocumentKind::Juminhyo.known_options();
    if options.len() > known.len() * 2 {
        return Err(PayloadError::invalid("body.options", "lists too many options"));
    }
    if let Some(i) = options.iter().position(|o| !known.contains(&o.as_str())) {
        return Err(PayloadError::invalid(format!("body.options[{i}]"), "is not an option of a 住民票の写し"));
    }
    let has = |o: &str| options.iter().any(|x| x == o);
    let requested =
        Requested { setainushi: has("setainushi"), honseki: has("honseki"), kojin_bango: has("kojin_bango") };
    if requested.setainushi {
        let h = household_head.as_deref().ok_or_else(|| PayloadError::missing("body.household_head"))?;
        text("body.household_head", h, NAME_MAX, true)?;
    }
    residents(address, persons, requested)
}

/// The members of a 住民票 / 記載事項証明書.
fn residents(address: &str, persons: &[PersonRecord], o: Requested) -> Result<(), PayloadError> {
    text("body.address", address, ADDRESS_MAX, true)?;
    persons_count("body.persons", persons)?;
    for (i, p) in persons.iter().enumerate() {
        let at = format!("body.persons[{i}]");
        person_basics(&at, p)?;
        if o.setainushi {
            let r = p.relationship.as_deref().ok_or_else(|| PayloadError::missing(format!("{at}.relationship")))?;
            text(&format!("{at}.relationship"), r, 12, true)?;
        }
        date(&format!("{at}.address_since"), p.address_since.as_deref().unwrap_or_default())?;
        opt_date(&format!("{at}.became_resident_on"), &p.became_resident_on)?;
        opt_date(&format!("{at}.notified_on"), &p.notified_on)?;
        if let Some(c) = &p.resident_code {
            if c.len() != 11 || !c.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PayloadError::invalid(format!("{at}.resident_code"), "is not 11 digits"));
            }
        }
        opt_text(&format!("{at}.previous_address"), &p.previous_address, ADDRESS_MAX)?;
        let foreign = foreign(&at, p)?;
        let honseki = match (opt_text(&format!("{at}.honseki"), &p.honseki, ADDRESS_MAX)?, &p.hittousha) {
            (Some(_), Some(head)) => {
                text(&format!("{at}.hittousha"), head, NAME_MAX, true)?;
                true
            }
            (None, None) => false,
            (Some(_), None) => return Err(PayloadError::missing(format!("{at}.hittousha"))),
            (None, Some(_)) => return Err(PayloadError::missing(format!("{at}.honseki"))),
        };
        if o.honseki && !honseki && !foreign {
            return Err(PayloadError::missing(format!("{at}.honseki")));
        }
        if o.kojin_bango {
            let n = p.my_number.as_deref().ok_or_else(|| PayloadError::missing(format!("{at}.my_number")))?;
            if n.len() != 12 || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PayloadError::invalid(format!("{at}.my_number"), "is not 12 digits"));
            }
        }
        sex_is_female(&format!("{at}.sex"), &p.sex)?;
    }
    Ok(())
}

/// The foreign-resident items: 国籍・地域 and 在留資格 together, or neither. Whether the person
/// has them.
fn foreign(at: &str, p: &PersonRecord) -> Result<bool, PayloadError> {
    let nationality = opt_text(&format!("{at}.nationality"), &p.nationality, SHORT_MAX)?;
    let status = opt_text(&format!("{at}.residence_status"), &p.residence_status, SHORT_MAX)?;
    let period_ends = opt_date(&format!("{at}.residence_period_end"), &p.residence_period_end)?;
    opt_text(&format!("{at}.residence_category"), &p.residence_category, SHORT_MAX)?;
    opt_text(&format!("{at}.residence_period"), &p.residence_period, SHORT_MAX)?;
    opt_text(&format!("{at}.alias"), &p.alias, NAME_MAX)?;
    if let Some(n) = &p.residence_card_number {
        // 在留カード / 特別永住者証明書: two letters, eight digits, two letters.
        let b = n.as_bytes();
        let ok = b.len() == 12
            && b[..2].iter().chain(&b[10..]).all(u8::is_ascii_uppercase)
            && b[2..10].iter().all(u8::is_ascii_digit);
        if !ok {
            return Err(PayloadError::invalid(format!("{at}.residence_card_number"), "is not a 在留カード number"));
        }
    }
    match (nationality, status) {
        (Some(_), Some(_)) => Ok(true),
        (None, None) if period_ends.is_none() => Ok(false),
        (None, _) => Err(PayloadError::missing(format!("{at}.nationality"))),
        (Some(_), None) => Err(PayloadError::missing(format!("{at}.residence_status"))),
    }
}

fn inkan(
    person: &PersonRecord,
    address: &str,
    registration_number: &str,
    registered_on: &str,
    seal_impression: &str,
    diameter_mm: i64,
    png: &Option<String>,
) -> Result<(), PayloadError> {
    person_basics("body.person", person)?;
    text("body.address", address, ADDRESS_MAX, true)?;
    text("body.registration_number", registration_number, SHORT_MAX, true)?;
    date("body.registered_on", registered_on)?;
    match png {
        Some(b64) => {
            seal_png(b64)?;
        }
        None => {
            text("body.seal_impression", seal_impression, 10, true)?;
            seal_diameter_mm(diameter_mm)?;
        }
    }
    sex_is_female("body.person.sex", &person.sex)?;
    Ok(())
}

fn kazei(person: &PersonRecord, address: &str, r: &TaxRecord) -> Result<(), PayloadError> {
    person_basics("body.person", person)?;
    text("body.address", address, ADDRESS_MAX, true)?;
    municipality_code("body.record.municipality_code", &r.municipality_code)?;
    if !(1989..=2200).contains(&r.fiscal_year) {
        return Err(PayloadError::invalid("body.record.fiscal_year", "is not a plausible fiscal year"));
    }
    if r.income_year != r.fiscal_year - 1 {
        return Err(PayloadError::inconsistent(
            "body.record.income_year",
            "body.record.fiscal_year (the income is of the year before)",
        ));
    }
    yen("body.record.salary_income", r.salary_income)?;
    yen("body.record.pension_income", r.pension_income)?;
    yen("body.record.total_income", r.total_income)?;
    yen("body.record.taxable_income", r.taxable_income)?;
    yen("body.record.municipal_tax", r.municipal_tax)?;
    yen("body.record.prefectural_tax", r.prefectural_tax)?;
    Ok(())
}

fn koseki(honseki: &str, hittousha: &str, whole: bool, persons: &[PersonRecord]) -> Result<(), PayloadError> {
    text("body.honseki", honseki, ADDRESS_MAX, true)?;
    text("body.hittousha", hittousha, NAME_MAX, true)?;
    persons_count("body.persons", persons)?;
    if !whole && persons.len() != 1 {
        return Err(PayloadError::invalid("body.persons", "of a 個人事項証明書 is not one person"));
    }
    for (i, p) in persons.iter().enumerate() {
        let at = format!("body.persons[{i}]");
        person_basics(&at, p)?;
        sex_is_female(&format!("{at}.sex"), &p.sex)?;
        opt_text(&format!("{at}.father"), &p.father, NAME_MAX)?;
        opt_text(&format!("{at}.mother"), &p.mother, NAME_MAX)?;
        opt_text(&format!("{at}.relationship"), &p.relationship, 12)?;
        if p.koseki_events.len() > 20 {
            return Err(PayloadError::invalid(format!("{at}.koseki_events"), "lists too many events"));
        }
        for (j, e) in p.koseki_events.iter().enumerate() {
            let ev = format!("{at}.koseki_events[{j}]");
            text(&format!("{ev}.kind"), &e.kind, 10, true)?;
            if e.items.is_empty() || e.items.len() > 10 {
                return Err(PayloadError::invalid(format!("{ev}.items"), "is not 1–10 items"));
            }
            for (k, [label, value]) in e.items.iter().enumerate() {
                text(&format!("{ev}.items[{k}][0]"), label, 12, true)?;
                text(&format!("{ev}.items[{k}][1]"), value, ADDRESS_MAX, true)?;
            }
        }
        if super::fields::given_name(&p.name, hittousha).is_empty() {
            return Err(PayloadError::missing(format!("{at}.name")));
        }
    }
    Ok(())
}

fn fuhyo(
    honseki: &str,
    hittousha: &str,
    person: &PersonRecord,
    address: &str,
    address_since: &Option<String>,
) -> Result<(), PayloadError> {
    text("body.honseki", honseki, ADDRESS_MAX, true)?;
    text("body.hittousha", hittousha, NAME_MAX, true)?;
    person_basics("body.person", person)?;
    text("body.address", address, ADDRESS_MAX, false)?;
    opt_date("body.address_since", address_since)?;
    Ok(())
}
