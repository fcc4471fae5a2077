//! The document payload built from the registry for a planned issuance (the type and its checks
//! are `madoguchi_api::payload`, shared with the kiosk that prints it).

use super::issuance::Plan;
use super::residents::{Koseki, Resident, ResidentStatus, ResidentView};
use crate::error::ApiError;
use madoguchi_api::municipality::jst;
use madoguchi_api::payload::{Binding, DocumentBody, DocumentPayload, IssuerInfo, PersonRecord};
use madoguchi_api::{DocumentKind, ErrorCode};
use time::{Date, OffsetDateTime};

/// `令和7年6月1日`: the one era calendar (`madoguchi_certs::era`), as the kiosk checks it.
pub fn era_date(d: Date) -> String {
    madoguchi_certs::era::wareki(d)
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
        resident_code: None,
        notified_on: r.details.notified_on.clone(),
        residence_category: r.details.residence_category.clone(),
        residence_period: r.details.residence_period.clone(),
        residence_card_number: r.details.residence_card_number.clone(),
        alias: r.details.alias.clone(),
        koseki_events: Vec::new(),
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
    // `whole`: the whole household (住民票) or the whole 戸籍 is on the document.
    let (body, whole) = match plan.kind {
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
                    if has("juminhyo_code") {
                        p.resident_code = m.details.resident_code.clone();
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
                (DocumentBody::Kisaijiko { address, persons }, whole)
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
                    whole,
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
                true,
            )
        }
        DocumentKind::Kazei => {
            let year = plan.year.unwrap_or_default();
            let rec = view.tax_records.iter().find(|t| t.fiscal_year == year).cloned().ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidOption, format!("no tax record for fiscal year {year}"))
            })?;
            (DocumentBody::Kazei { person: record(me, None), address: me.address.clone(), record: rec }, true)
        }
        DocumentKind::KosekiZenbu | DocumentKind::KosekiKojin | DocumentKind::Fuhyo => {
            let k = view
                .koseki
                .as_ref()
                .ok_or_else(|| ApiError::new(ErrorCode::DocumentNotOffered, "no 戸籍 on record"))?;
            // 編製日: as every member of the 戸籍 carries it.
            let created = || view.koseki_members.iter().find_map(|r| r.details.koseki_created.clone());
            let with_koseki = |r: &Resident| {
                let mut p =
                    record(r, Some(r.details.koseki_relationship.clone().unwrap_or_else(|| r.relationship.clone())));
                p.father = r.details.father.clone();
                p.mother = r.details.mother.clone();
                p.koseki_events = r.details.koseki_events.clone();
                p.became_resident_on = None;
                p.address_since = None;
                p.notified_on = None;
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
                        created: created(),
                    },
                    true,
                ),
                DocumentKind::KosekiKojin => {
                    let p = find(&plan.persons[0], &view.koseki_members)?;
                    (
                        DocumentBody::Koseki {
                            honseki: k.honseki.clone(),
                            hittousha: k.hittousha.clone(),
                            whole: false,
                            persons: vec![with_koseki(&p)],
                            created: created(),
                        },
                        false,
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
                        true,
                    )
                }
            }
        }
    };
    // Every word the municipality owns comes from its configuration.
    let words = plan.wording.printed(plan.kind, whole, &plan.options);
    Ok(DocumentPayload {
        format: madoguchi_api::payload::FORMAT,
        binding,
        municipality: issuer,
        title: words.title,
        issued_on: format!("{:04}-{:02}-{:02}", today.year(), today.month() as u8, today.day()),
        issued_on_era: era_date(today),
        certification: words.certification,
        end_note: words.end_note,
        continued_note: words.continued_note,
        omitted_note: words.omitted_note,
        verification_code: verify_url.rsplit("code=").next().unwrap_or_default().to_string(),
        verify_url,
        body,
    })
}
