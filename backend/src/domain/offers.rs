//! What is offered to whom and when: the municipality's configuration (from the catalog) over
//! the resident's records, at a given moment. Pure; the clock is a parameter.

use super::residents::{MunicipalityView, Resident, ResidentStatus, ResidentView};
use madoguchi_api::municipality::{jst, DocumentConfig};
use madoguchi_api::v1::{NoticeOut, Offer, PersonChoice, Unavailable};
use madoguchi_api::DocumentKind;
use time::{Date, OffsetDateTime};

/// The three lists of an offers reply, before the flow adds the session and catalog version.
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

/// Moves to `unavailable` every offer whose paper would carry a character the kiosk's fonts do
/// not hold (`unprintable` gives the first such character of a text): the resident learns it
/// before paying and is sent to the counter, where the clerk writes the name by hand.
/// Checked: the resident's name and address, the people the document may show, and a 戸籍's
/// 本籍 and 筆頭者.
pub fn refuse_unprintable(offers: &mut Offers, view: &ResidentView, unprintable: &dyn Fn(&str) -> Option<char>) {
    let me = &view.resident;
    let mut kept = Vec::with_capacity(offers.offers.len());
    for o in offers.offers.drain(..) {
        let mut texts: Vec<&str> = vec![&me.name, &me.address];
        texts.extend(o.persons.iter().map(|p| p.name.as_str()));
        if o.document.is_koseki() {
            if let Some(k) = &view.koseki {
                texts.extend([k.honseki.as_str(), k.hittousha.as_str()]);
            }
        }
        match texts.iter().find_map(|t| unprintable(t)) {
            None => kept.push(o),
            Some(c) => offers.unavailable.push(Unavailable {
                municipality_code: o.municipality_code.clone(),
                document: o.document,
                reason: "unprintable".into(),
                message: format!(
                    "the record holds a character (U+{:04X}) the kiosk cannot print: please apply at the counter",
                    c as u32
                ),
            }),
        }
    }
    offers.offers = kept;
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
