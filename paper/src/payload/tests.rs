//! The mapping of every body kind, and the contract's checks as the printer meets them.

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
        "end_note": "以下余白", "continued_note": "以下次頁",
        "omitted_note": if document == "juminhyo" { json!("（住民票コード　省略）") } else { Value::Null },
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
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &png);
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
    assert_eq!(err(&v), PayloadError::invalid("body.seal_png", "is not a PNG image"));
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
    // The title is the municipality's (signed), but one printable line of a sane length.
    assert_eq!(with(&|v| v["title"] = "住民票\n写し".into()).field(), "title");
    assert_eq!(with(&|v| v["title"] = "住".repeat(madoguchi_api::wording::TITLE_MAX + 1).into()).field(), "title");
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

/// The text `pdftotext -layout` (poppler) reads from a rendered payload, without white space:
/// names and notes are spaced across their cells (a U+3000 becomes a gap), so words are
/// compared with [`has`].
fn printed_text(p: &Printable) -> String {
    let pdf = crate::testing::renderer().render(&p.document, &p.issuer, &p.issuance).expect("renders");
    // Tests run in parallel threads of one process: each rendering gets its own file.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("madoguchi-paper-{}-{n}.pdf", std::process::id()));
    std::fs::write(&file, &pdf.bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let _ = std::fs::remove_file(&file);
    String::from_utf8(out.stdout).unwrap().chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether the printed text (see [`printed_text`]) holds `words`, white space aside.
fn has(text: &str, words: &str) -> bool {
    text.contains(&words.chars().filter(|c| !c.is_whitespace()).collect::<String>())
}

#[test]
fn the_municipalitys_words_are_printed_as_signed() {
    let standard = printed_text(&parse(&juminhyo_payload().to_string()).unwrap());
    assert!(has(&standard, "住民票の写し") && has(&standard, "以下余白"), "{standard}");
    assert!(has(&standard, "上記のとおり証明する。") && has(&standard, "（住民票コード　省略）"), "{standard}");
    let mut v = juminhyo_payload();
    v["title"] = "住民票（写）".into();
    v["certification"] = "この写しは、住民票の原本と相違ありません。".into();
    v["end_note"] = "以下空白".into();
    v["omitted_note"] = "〔住民票コードの記載を省略〕".into();
    v["municipality"]["issuer_title"] = "清瀬市長職務代理者".into();
    let text = printed_text(&parse(&v.to_string()).unwrap());
    for words in
        ["住民票（写）", "この写しは、住民票の原本と相違ありません。", "以下空白", "〔住民票コードの記載を省略〕"]
    {
        assert!(has(&text, words), "{words}: {text}");
    }
    assert!(has(&text, "清瀬市長職務代理者"), "{text}");
    for standard in ["以下余白", "上記のとおり証明する。", "（住民票コード　省略）"] {
        assert!(!has(&text, standard), "{standard} is the renderer's, not the payload's: {text}");
    }
    // Words that do not fit their line are refused before payment, naming the field. A
    // certification of the longest signed length fits its line; an issuer's title of the
    // longest signed length does not fit beside the prefecture and the name.
    v["certification"] = "こ".repeat(madoguchi_api::wording::SENTENCE_MAX).into();
    let p = parse(&v.to_string()).unwrap();
    assert!(crate::testing::renderer().check(&p.document, &p.issuer, &p.issuance).is_ok());
    v["municipality"]["issuer_title"] = "清瀬市長職務代理者".repeat(4).into();
    let p = parse(&v.to_string()).unwrap();
    match crate::testing::renderer().check(&p.document, &p.issuer, &p.issuance) {
        Err(crate::DocumentError::FieldTooLong { field, .. }) => assert_eq!(field, "issuer"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn records_carry_foreign_resident_items_notification_dates_and_koseki_events() {
    let mut v = juminhyo_payload();
    let mut an = person("R0006", "NGUYEN VAN AN", "1996-07-21");
    an["nationality"] = "ベトナム".into();
    an["residence_status"] = "技術・人文知識・国際業務".into();
    an["residence_period_end"] = "2027-06-21".into();
    an["residence_category"] = "中長期在留者".into();
    an["residence_period"] = "1年".into();
    an["residence_card_number"] = "AB12345678CD".into();
    an["alias"] = "阮　文安".into();
    an["notified_on"] = "2016-12-01".into();
    an["relationship"] = "同居人".into();
    an["my_number"] = "123456789018".into();
    v["body"]["persons"] = json!([an.clone()]);
    let p = parse(&v.to_string()).unwrap();
    let Document::Juminhyo(j) = &p.document else { panic!() };
    let f = j.members[0].foreign.as_ref().unwrap();
    assert_eq!(f.category.as_deref(), Some("中長期在留者"));
    assert_eq!((f.period.as_deref(), f.card_number.as_deref()), (Some("1年"), Some("AB12345678CD")));
    assert_eq!(j.members[0].notified_on, Some(time::macros::date!(2016 - 12 - 01)));
    let text = printed_text(&p);
    for item in ["中長期在留者", "AB12345678CD", "阮　文安", "1年（令和9年6月21日まで）", "平成28年12月1日"]
    {
        assert!(has(&text, item), "{item}: {text}");
    }
    // A card number that is not one is refused, naming the field.
    an["residence_card_number"] = "AB1234".into();
    v["body"]["persons"] = json!([an]);
    assert_eq!(err(&v).field(), "body.persons[0].residence_card_number");

    // 戸籍: the register's 身分事項 and 編製日, as sent.
    let mut head = person("R0001", "山田　太郎", "1978-05-14");
    head["koseki_events"] = json!([
        {"kind": "出生", "items": [["出生日", "昭和53年5月14日"], ["出生地", "東京都清瀬市"]]},
        {"kind": "婚姻", "items": [["婚姻日", "平成18年4月29日"], ["配偶者氏名", "山田　花子"]]},
    ]);
    let body = json!({"kind": "koseki", "honseki": "東京都清瀬市中里", "hittousha": "山田　太郎", "whole": true,
        "persons": [head], "created": "2006-04-29"});
    let p = parse(&payload("koseki-zenbu", "戸籍全部事項証明書", body).to_string()).unwrap();
    let Document::Koseki(k) = &p.document else { panic!() };
    assert_eq!(k.created, Some(time::macros::date!(2006 - 04 - 29)));
    assert_eq!(k.persons[0].events.len(), 2);
    let text = printed_text(&p);
    for item in
        ["【編製日】平成18年4月29日", "【婚姻日】平成18年4月29日", "【配偶者氏名】山田　花子", "【出生地】東京都清瀬市"]
    {
        assert!(has(&text, item), "{item}: {text}");
    }
}
