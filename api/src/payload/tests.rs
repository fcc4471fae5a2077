use super::*;
use crate::DocumentKind;

fn person() -> PersonRecord {
    PersonRecord {
        id: "R0001".into(),
        name: "山田　太郎".into(),
        name_kana: "ヤマダ　タロウ".into(),
        birth_date: "1978-05-14".into(),
        sex: "男".into(),
        relationship: Some("世帯主".into()),
        became_resident_on: None,
        address_since: Some("2016-11-26".into()),
        previous_address: None,
        honseki: None,
        hittousha: None,
        my_number: None,
        nationality: None,
        residence_status: None,
        residence_period_end: None,
        father: None,
        mother: None,
        resident_code: None,
        notified_on: Some("2016-11-28".into()),
        residence_category: None,
        residence_period: None,
        residence_card_number: None,
        alias: None,
        koseki_events: vec![],
    }
}

fn kisaijiko() -> DocumentPayload {
    DocumentPayload {
        format: FORMAT,
        binding: Binding {
            session_id: "0123456789abcdef0123456789abcdef".into(),
            certificate_fingerprint: "5e".repeat(32),
            kiosk_id: "K001".into(),
            issuance_number: "20261124-ABCDEFGHJK".into(),
            issued_at: "2026-11-24T10:00:00+09:00".into(),
            document: DocumentKind::Kisaijiko,
            copies: 1,
        },
        municipality: IssuerInfo {
            code: "132217".into(),
            name: "清瀬市".into(),
            prefecture: "東京都".into(),
            issuer_title: "清瀬市長".into(),
            issuer_name: "𠮷田　正和".into(),
            seal_sha256: None,
        },
        title: DocumentKind::Kisaijiko.title().into(),
        issued_on: "2026-11-24".into(),
        issued_on_era: "令和8年11月24日".into(),
        certification: "上記の事項は、住民票に記載されている事項と相違ないことを証明する。".into(),
        end_note: "以下余白".into(),
        continued_note: "以下次頁".into(),
        omitted_note: None,
        verify_url: "https://verify.example.jp/v1/verify/20261124-ABCDEFGHJK?code=23456789ABCD".into(),
        verification_code: "23456789ABCD".into(),
        body: DocumentBody::Kisaijiko {
            address: "東京都清瀬市中里五丁目８４２番地".into(), persons: vec![person()]
        },
    }
}

fn refused(change: impl FnOnce(&mut DocumentPayload)) -> PayloadError {
    let mut p = kisaijiko();
    change(&mut p);
    let e = p.validate().expect_err("accepted");
    // What `parse` says about the same text.
    assert_eq!(DocumentPayload::parse(&serde_json::to_string(&p).unwrap()).unwrap_err(), e);
    e
}

#[test]
fn a_valid_payload_round_trips_through_its_text() {
    let p = kisaijiko();
    let text = serde_json::to_string(&p).unwrap();
    assert_eq!(DocumentPayload::parse(&text).unwrap(), p);
    assert_eq!(binding_of(&text).unwrap(), p.binding);
    assert_eq!(p.verify_host(), "verify.example.jp");
}

#[test]
fn checks_name_the_field_and_never_the_value() {
    use PayloadErrorKind as K;
    let e = refused(|p| p.format = 2);
    assert_eq!(e, PayloadError::UnsupportedFormat(2));
    let e = refused(|p| p.binding.document = DocumentKind::Juminhyo);
    assert_eq!((e.kind(), e.field()), (K::Inconsistent, "body.kind"));
    // The municipality words the title; it must be there and fit.
    let e = refused(|p| p.title = " ".into());
    assert_eq!((e.kind(), e.field()), (K::Missing, "title"));
    assert_eq!(refused(|p| p.title = "証".repeat(21)).field(), "title");
    assert_eq!(refused(|p| p.end_note = String::new()).field(), "end_note");
    let e = refused(|p| p.omitted_note = Some("（個人番号　省略）".into()));
    assert_eq!((e.kind(), e.field()), (K::Inconsistent, "omitted_note"));
    let e = refused(|p| p.issued_on_era = "令和8年11月25日".into());
    assert_eq!((e.kind(), e.field()), (K::Inconsistent, "issued_on_era"));
    let e = refused(|p| p.verify_url = p.verify_url.replace("ABCDEFGHJK", "OTHER"));
    assert_eq!((e.kind(), e.field()), (K::Inconsistent, "verify_url"));
    assert_eq!(refused(|p| p.verify_url = "http://x/v1/verify".into()).field(), "verify_url");
    assert_eq!(refused(|p| p.binding.copies = 21).field(), "binding.copies");
    assert_eq!(refused(|p| p.binding.certificate_fingerprint = "ab".into()).kind(), K::Invalid);
    assert_eq!(refused(|p| p.municipality.code = "13221".into()).field(), "municipality.code");
    let e = refused(|p| {
        let DocumentBody::Kisaijiko { persons, .. } = &mut p.body else { unreachable!() };
        persons[0].birth_date = "1978-02-30".into();
    });
    assert_eq!((e.kind(), e.field()), (K::Invalid, "body.persons[0].birth_date"));
    assert!(!e.to_string().contains("1978"), "{e}");
    let e = refused(|p| {
        let DocumentBody::Kisaijiko { persons, .. } = &mut p.body else { unreachable!() };
        persons[0].address_since = None;
    });
    assert_eq!((e.kind(), e.field()), (K::Missing, "body.persons[0].address_since"));
    let e = refused(|p| {
        let DocumentBody::Kisaijiko { persons, .. } = &mut p.body else { unreachable!() };
        persons[0].nationality = Some("アメリカ合衆国".into());
    });
    assert_eq!((e.kind(), e.field()), (K::Missing, "body.persons[0].residence_status"));
}

#[test]
fn the_text_is_refused_before_it_is_read_when_too_large_or_not_the_form() {
    use PayloadErrorKind as K;
    assert_eq!(DocumentPayload::parse(&" ".repeat(MAX_PAYLOAD_BYTES + 1)).unwrap_err().kind(), K::TooLarge);
    assert_eq!(DocumentPayload::parse("{").unwrap_err().kind(), K::Malformed);
    let mut v = serde_json::to_value(kisaijiko()).unwrap();
    v["binding"]["copies"] = "山田　太郎".into();
    let e = DocumentPayload::parse(&v.to_string()).unwrap_err();
    assert_eq!((e.kind(), e.field()), (K::Malformed, "binding.copies"));
    assert!(!e.to_string().contains("山田"), "{e}");
    let mut v = serde_json::to_value(kisaijiko()).unwrap();
    v["binding"]["document"] = "passport".into();
    assert_eq!(DocumentPayload::parse(&v.to_string()).unwrap_err().field(), "binding.document");
}

#[test]
fn koseki_given_names_and_bodies() {
    assert_eq!(fields::given_name("山田　一郎", "山田　太郎"), "一郎");
    assert_eq!(fields::given_name("一郎", "山田　太郎"), "一郎");
    assert_eq!(fields::given_name("山田", "山田　太郎"), "");
    assert_eq!(DocumentBody::kind_of(DocumentKind::KosekiKojin), "koseki");
    assert_eq!(DocumentBody::kind_of(DocumentKind::Fuhyo), "fuhyo");
}

#[test]
fn debug_output_shows_no_resident_data() {
    let d = format!("{:?}", kisaijiko());
    assert!(!d.contains("山田") && d.contains("20261124-ABCDEFGHJK"), "{d}");
}
