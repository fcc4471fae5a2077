//! Offers, planning and payloads over a small household (the configuration's own rules are
//! tested in `madoguchi_api::municipality`).

use super::*;
use madoguchi_api::municipality::MunicipalityConfig;
use madoguchi_api::payload::{Binding, DocumentBody, IssuerInfo, TaxRecord};
use madoguchi_api::v1::IssuanceRequest;
use madoguchi_api::{DocumentKind, ErrorCode};
use time::macros::datetime;
use time::OffsetDateTime;

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

/// A record the kiosk's fonts cannot print is not offered: the resident learns it before
/// paying. The kiosk's own fonts decide (the renderer's `unprintable`).
#[test]
fn what_the_kiosk_cannot_print_is_not_offered() {
    let m = muni(config());
    let fonts = madoguchi_paper::FontSet::load(&madoguchi_paper::FontPaths::default()).expect("fonts");
    let unprintable = |t: &str| fonts.unprintable(t);
    // A variation sequence IPAmj明朝 has (邉 + U+E0110) is printable: everything stays offered.
    let mut v = view();
    v.resident.name = "渡邉\u{E0110}　花子".into();
    let mut o = compute_offers(&v, &[&m], MONDAY_NOON);
    let before = o.offers.len();
    refuse_unprintable(&mut o, &v, &unprintable);
    assert_eq!(o.offers.len(), before);
    // One no font holds (葛 + U+E0100, an Adobe-Japan1 sequence): nothing with the name is offered.
    v.resident.name = "葛\u{E0100}西　花子".into();
    let mut o = compute_offers(&v, &[&m], MONDAY_NOON);
    refuse_unprintable(&mut o, &v, &unprintable);
    assert!(o.offers.is_empty(), "{:?}", o.offers.iter().map(|o| o.document).collect::<Vec<_>>());
    let refused: Vec<_> = o.unavailable.iter().filter(|u| u.reason == "unprintable").collect();
    assert!(refused.len() >= before && refused.iter().all(|u| u.message.contains("counter")), "{refused:?}");
    // Only the 戸籍's 筆頭者 unprintable: the 戸籍 documents go, the 住民票 stays.
    let mut v = view();
    if let Some(k) = v.koseki.as_mut() {
        k.hittousha = "葛\u{E0100}西　一郎".into();
    }
    let mut o = compute_offers(&v, &[&m], MONDAY_NOON);
    refuse_unprintable(&mut o, &v, &unprintable);
    assert!(o.offers.iter().any(|o| o.document == DocumentKind::Juminhyo));
    assert!(o.offers.iter().all(|o| !o.document.is_koseki()));
    assert!(o.unavailable.iter().any(|u| u.document == DocumentKind::KosekiZenbu && u.reason == "unprintable"));
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
