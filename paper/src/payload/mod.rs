//! The backend's signed document data turned into what the renderer prints: a [`Document`],
//! its [`Issuer`] and the [`Issuance`].
//!
//! The payload, its kinds and its checks are the contract's ([`madoguchi_api::DocumentPayload`]:
//! unknown fields refused, dates, required items, lengths, the binding against the body and the
//! verification URL), so that the session's check before payment and the printer's check
//! before the line are one and the same. What is here is only the mapping to the paper's
//! model; a bad payload is a [`PayloadError`] that names the field, never its value.
//!
//! The payload says what is printed: an item it does not carry is not printed; the title,
//! certification sentence, 以下余白 / 以下次頁 and the omitted-options line are printed as
//! signed (the municipality's words); the 印鑑 registration date is checked but not printed.

use super::model::*;
use madoguchi_api::payload::fields::{date, given_name, opt_date, opt_text, seal_diameter_mm, seal_png, yen};
use madoguchi_api::payload::{DocumentBody, PersonRecord, TaxRecord as TaxRecordWire};
use madoguchi_api::{DocumentKind, DocumentPayload};
use time::Date;

pub use madoguchi_api::payload::{
    PayloadError, PayloadErrorKind, FORMAT, MAX_PAYLOAD_BYTES, MAX_PERSONS, MAX_SEAL_PNG,
};

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
    map(DocumentPayload::parse(payload_json)?)
}

// ---------------------------------------------------------------------------------------------
// The mapping (every value below was checked by `DocumentPayload::parse`; the conversions that
// can fail still report the field rather than panic)

fn sex(field: &str, s: &str) -> Result<Sex, PayloadError> {
    madoguchi_api::payload::fields::sex_is_female(field, s).map(|female| if female { Sex::Female } else { Sex::Male })
}

fn map(p: DocumentPayload) -> Result<Printable, PayloadError> {
    let kind: DocumentKind = p.binding.document;
    let copies = madoguchi_api::payload::fields::copies(p.binding.copies)?;
    let issued_on = date("issued_on", &p.issued_on)?;
    let mut issuance = issuance(&p.verify_url, &p.binding.issuance_number, &p.verification_code, issued_on)?;
    // Every word the municipality owns is printed as signed.
    issuance.wording = Some(Wording {
        title: p.title,
        certification: p.certification,
        end_note: p.end_note,
        continued_note: p.continued_note,
        omitted_note: p.omitted_note,
    });
    let m = p.municipality;
    let document = match p.body {
        DocumentBody::Juminhyo { address, household_head, whole_household, persons, options } => {
            Document::Juminhyo(juminhyo(address, household_head, whole_household, persons, &options)?)
        }
        DocumentBody::Kisaijiko { address, persons } => Document::Kisaijiko(kisaijiko(address, persons)?),
        DocumentBody::Inkan {
            person,
            address,
            registration_number,
            registered_on: _,
            seal_impression,
            seal_diameter_mm,
            seal_png,
        } => Document::Inkan(inkan(person, address, registration_number, seal_impression, seal_diameter_mm, seal_png)?),
        DocumentBody::Kazei { person, address, record } => Document::Kazei(kazei(person, address, record)?),
        DocumentBody::Koseki { honseki, hittousha, whole, persons, created } => {
            let mut k = koseki(honseki, hittousha, whole, persons)?;
            k.created = opt_date("body.created", &created)?;
            Document::Koseki(k)
        }
        DocumentBody::Fuhyo { honseki, hittousha, person, address, address_since } => {
            Document::Fuhyo(fuhyo(honseki, hittousha, person, address, &address_since)?)
        }
    };
    let requested = match &document {
        Document::Juminhyo(j) | Document::Kisaijiko(j) => j.requested,
        _ => ResidentOptions::default(),
    };
    let issuer = Issuer {
        prefecture: m.prefecture,
        municipality: m.name,
        title: m.issuer_title,
        name: m.issuer_name,
        // The payload names the seal by its hash only; the image is in the signed catalog.
        seal: MunicipalSeal::Drawn,
        // The backend issued only what the municipality enables: what was asked is enabled.
        enabled: requested,
    };
    Ok(Printable { document, issuer, issuance, copies, kind: kind.id() })
}

/// `https://HOST/v1/verify/NUMBER?code=CODE`, the one form the renderer prints in the QR code
/// (checked by the contract; checked again against the paper's own form of it).
fn issuance(url: &str, number: &str, code: &str, issued_on: Date) -> Result<Issuance, PayloadError> {
    let wrong = || PayloadError::invalid("verify_url", "is not https://HOST/v1/verify/NUMBER?code=CODE");
    let rest = url.strip_prefix("https://").ok_or_else(wrong)?;
    let (host, _) = rest.split_once('/').ok_or_else(wrong)?;
    let issuance = Issuance {
        number: number.to_string(),
        issued_on,
        verify_host: host.to_string(),
        verify_code: code.to_string(),
        wording: None,
    };
    if issuance.validate().is_err() {
        return Err(wrong());
    }
    if issuance.verify_url() != url {
        return Err(PayloadError::inconsistent("verify_url", "binding.issuance_number and verification_code"));
    }
    Ok(issuance)
}

fn juminhyo(
    address: String,
    household_head: Option<String>,
    whole: bool,
    persons: Vec<PersonRecord>,
    options: &[String],
) -> Result<Juminhyo, PayloadError> {
    let has = |o: &str| options.iter().any(|x| x == o);
    let requested = ResidentOptions {
        head_and_relationship: has("setainushi"),
        honseki: has("honseki"),
        previous_address: persons.iter().any(|p| p.previous_address.as_deref().is_some_and(|a| !a.trim().is_empty())),
        my_number: has("kojin_bango"),
        resident_code: has("juminhyo_code"),
    };
    let head = if requested.head_and_relationship {
        household_head.ok_or_else(|| PayloadError::missing("body.household_head"))?
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
    let mut members = Vec::with_capacity(persons.len());
    for (i, p) in persons.into_iter().enumerate() {
        let at = format!("body.persons[{i}]");
        let born = date(&format!("{at}.birth_date"), &p.birth_date)?;
        let relationship = if o.head_and_relationship {
            p.relationship.clone().ok_or_else(|| PayloadError::missing(format!("{at}.relationship")))?
        } else {
            String::new()
        };
        let address_since = date(&format!("{at}.address_since"), p.address_since.as_deref().unwrap_or_default())?;
        let became_resident = opt_date(&format!("{at}.became_resident_on"), &p.became_resident_on)?;
        let previous_address = opt_text(&format!("{at}.previous_address"), &p.previous_address, usize::MAX)?;
        let foreign = foreign(&at, &p)?;
        let honseki = match (opt_text(&format!("{at}.honseki"), &p.honseki, usize::MAX)?, &p.hittousha) {
            (Some(address), Some(head)) => Some(Honseki { address, head: head.clone() }),
            _ => None,
        };
        let my_number = if o.my_number { p.my_number.clone() } else { None };
        let resident_code = if o.resident_code { p.resident_code.clone() } else { None };
        let notified_on = opt_date(&format!("{at}.notified_on"), &p.notified_on)?;
        members.push(Resident {
            name: p.name,
            kana: Some(p.name_kana).filter(|k| !k.trim().is_empty()),
            born,
            sex: sex(&format!("{at}.sex"), &p.sex)?,
            relationship,
            became_resident,
            address_since,
            notified_on,
            previous_address,
            honseki,
            my_number,
            resident_code,
            foreign,
        });
    }
    Ok(Juminhyo { address, head: String::new(), household_size: members.len(), members, requested: o })
}

/// The foreign-resident items: 国籍・地域 and 在留資格 together, or neither.
fn foreign(at: &str, p: &PersonRecord) -> Result<Option<ForeignResident>, PayloadError> {
    let nationality = opt_text(&format!("{at}.nationality"), &p.nationality, usize::MAX)?;
    let status = opt_text(&format!("{at}.residence_status"), &p.residence_status, usize::MAX)?;
    let period_ends = opt_date(&format!("{at}.residence_period_end"), &p.residence_period_end)?;
    Ok(match (nationality, status) {
        (Some(nationality), Some(status)) => Some(ForeignResident {
            nationality,
            category: opt_text(&format!("{at}.residence_category"), &p.residence_category, usize::MAX)?,
            status,
            period: opt_text(&format!("{at}.residence_period"), &p.residence_period, usize::MAX)?,
            period_ends,
            card_number: p.residence_card_number.clone(),
            alias: opt_text(&format!("{at}.alias"), &p.alias, usize::MAX)?,
        }),
        _ => None,
    })
}

fn inkan(
    person: PersonRecord,
    address: String,
    registration_number: String,
    seal_impression: String,
    diameter_mm: i64,
    png: Option<String>,
) -> Result<Inkan, PayloadError> {
    let born = date("body.person.birth_date", &person.birth_date)?;
    let impression = match png {
        Some(b64) => SealImpression::Image(seal_png(&b64)?),
        None => SealImpression::Engraved { text: seal_impression, diameter_mm: seal_diameter_mm(diameter_mm)? },
    };
    // The sex is in every person record; this kiosk's 印鑑登録証明書 does not print it.
    Ok(Inkan { name: person.name, born, sex: None, address, registration_number, impression: Some(impression) })
}

fn kazei(person: PersonRecord, address: String, r: TaxRecordWire) -> Result<Kazei, PayloadError> {
    let born = date("body.person.birth_date", &person.birth_date)?;
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
    let mut people = Vec::with_capacity(persons.len());
    for (i, p) in persons.into_iter().enumerate() {
        let at = format!("body.persons[{i}]");
        let born = date(&format!("{at}.birth_date"), &p.birth_date)?;
        let father = opt_text(&format!("{at}.father"), &p.father, usize::MAX)?;
        let mother = opt_text(&format!("{at}.mother"), &p.mother, usize::MAX)?;
        let rel = opt_text(&format!("{at}.relationship"), &p.relationship, usize::MAX)?;
        // 夫/妻 is the 配偶者区分; household relationships (世帯主, 子 ...) are not printed.
        let (relationship, spouse_role) = match rel.as_deref() {
            Some("夫" | "妻") => (None, rel),
            Some(r) if koseki_relationship(r) => (rel, None),
            _ => (None, None),
        };
        let is_head = p.name == hittousha;
        let given_name = given_name(&p.name, &hittousha).to_string();
        if given_name.is_empty() {
            return Err(PayloadError::missing(format!("{at}.name")));
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
                events: KosekiEvent::all_from(
                    &p.koseki_events.iter().map(|e| (e.kind.clone(), e.items.clone())).collect::<Vec<_>>(),
                    born,
                ),
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
    let born = date("body.person.birth_date", &person.birth_date)?;
    let since = opt_date("body.address_since", address_since)?;
    // An address is printed with the day it was set; one without (moved abroad) is not.
    let addresses = match since {
        Some(since) if !address.trim().is_empty() => vec![FuhyoAddress { address, since }],
        _ => Vec::new(),
    };
    Ok(Fuhyo { honseki, head: hittousha, persons: vec![FuhyoPerson { name: person.name, born, addresses }] })
}

#[cfg(test)]
mod tests;
