//! Paper from the register: documents issued by a real `madoguchi-backend serve` from the demo
//! world, printed by the kiosk's renderer from the signed payload and read back with poppler.
//! The records print fully (a foreign resident's items, 届出日, the 戸籍's 身分事項 and 編製日),
//! and the municipality's wording, changed in its configuration, is what the paper says.
//!
//! `MADOGUCHI_PAPER_OUT=DIR` keeps the PDFs there to look at.

mod common;

use common::*;
use madoguchi_paper::{FontPaths, FontSet, Renderer};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::OnceLock;

fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| {
        Renderer::new(FontSet::load(&FontPaths::default()).expect("fonts-ipaexfont and fonts-ipamj-mincho"))
    })
}

/// Prints the signed payload as the kiosk does and returns what `pdftotext` reads from it.
fn print(doc: &Value, name: &str) -> String {
    let p = madoguchi_paper::payload::parse(&doc.to_string()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let pdf = renderer().render(&p.document, &p.issuer, &p.issuance).unwrap_or_else(|e| panic!("{name}: {e}"));
    let dir = std::env::var("MADOGUCHI_PAPER_OUT").map(PathBuf::from).unwrap_or_else(|_| std::env::temp_dir());
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}-{}.pdf", std::process::id()));
    std::fs::write(&file, &pdf.bytes).unwrap();
    let out = std::process::Command::new("pdftotext").arg("-layout").arg(&file).arg("-").output().expect("pdftotext");
    if std::env::var("MADOGUCHI_PAPER_OUT").is_err() {
        let _ = std::fs::remove_file(&file);
    }
    String::from_utf8(out.stdout).unwrap()
}

/// Whether the printed text holds `words`, spacing aside: the renderer spaces the characters of
/// a name across its cell, and pdftotext turns that spacing into runs of blanks.
fn has(text: &str, words: &str) -> bool {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    squeeze(text).contains(&squeeze(words))
}

fn offer<'a>(offers: &'a Value, document: &str) -> &'a Value {
    offers["offers"].as_array().unwrap().iter().find(|o| o["document"] == document).unwrap()
}

#[test]
fn records_print_fully_and_the_municipalitys_wording_follows_its_configuration() {
    let d = Deployment::new(None, "");
    let server = d.start();
    d.open_all_hours(&server);
    let kdir = d.enroll_kiosk("K001", "セブン清瀬中里店");
    let admin = d.enroll_admin("A001", KIYOSE);
    let rt = rt();
    rt.block_on(async {
        let mut k = Kiosk::new(&server, &kdir);

        // The foreign resident: 国籍・地域, 区分, 在留資格, 在留期間 and its end, card number, 通称.
        let sid = k.login(&card("R0006")).await;
        let fee = offer(&k.offers(&sid).await.json(), "juminhyo")["fee_yen"].as_i64().unwrap();
        let r = k.issue(&sid, juminhyo(KIYOSE, fee, "p-1")).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let doc = k.document(&r.json());
        let an = &doc["body"]["persons"][0];
        assert_eq!(an["residence_category"], json!("中長期在留者"));
        assert_eq!(an["alias"], json!("阮　文安"));
        let card_number = an["residence_card_number"].as_str().unwrap().to_string();
        let notified = madoguchi_certs::era::wareki(
            madoguchi_api::municipality::parse_date(an["notified_on"].as_str().unwrap()).unwrap(),
        );
        let text = print(&doc, "juminhyo-R0006");
        for item in ["NGUYEN VAN AN", "ベトナム", "中長期在留者", "技術・人文知識・国際業務", "1年（", "阮　文安"] {
            assert!(has(&text, item), "{item}: {text}");
        }
        assert!(has(&text, &card_number) && has(&text, &notified), "{text}");
        assert!(has(&text, "以下余白") && has(&text, "この写しは、世帯全員の住民票の原本と相違ないことを証明する。"));
        // What the QR code carries is what the backend verifies.
        let url = doc["verify_url"].as_str().unwrap();
        assert!(has(&text, url.split("code=").nth(1).unwrap()), "{text}");

        // 戸籍: 編製日 and each person's 身分事項 from the register.
        let sid = k.login(&card("R0001")).await;
        let offers = k.offers(&sid).await.json();
        let fee = offer(&offers, "koseki-zenbu")["fee_yen"].as_i64().unwrap();
        let r = k
            .issue(&sid, json!({"municipality_code": KIYOSE, "document": "koseki-zenbu", "copies": 1, "paid_yen": fee, "payment_reference": "p-2", "idempotency_key": "p-2"}))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let doc = k.document(&r.json());
        assert_eq!(doc["body"]["created"], json!("2006-04-29"));
        let text = print(&doc, "koseki-R0001");
        for item in ["【編製日】平成18年4月29日", "【婚姻日】平成18年4月29日", "【配偶者氏名】佐藤　美和", "【出生地】", "【続柄】長男", "【父】健一"] {
            assert!(has(&text, item), "{item}: {text}");
        }

        // The tax certificate: its title as the municipality words it (standard: 課税・所得).
        let kazei = offer(&offers, "kazei");
        let r = k
            .issue(&sid, json!({"municipality_code": KIYOSE, "document": "kazei", "year": kazei["years"][0], "copies": 1, "paid_yen": kazei["fee_yen"], "payment_reference": "p-5", "idempotency_key": "p-5"}))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let text = print(&k.document(&r.json()), "kazei-R0001");
        assert!(has(&text, "課税・所得証明書") && has(&text, "上記のとおり証明する。"), "{text}");

        // The household's 住民票 in the standard wording, then in the municipality's own.
        let fee = offer(&offers, "juminhyo")["fee_yen"].as_i64().unwrap();
        let mut req = juminhyo(KIYOSE, fee, "p-3");
        req["persons"] = json!(["R0001", "R0002", "R0003"]);
        req["options"] = json!(["setainushi"]);
        let r = k.issue(&sid, req.clone()).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let text = print(&k.document(&r.json()), "juminhyo-H01");
        assert!(has(&text, "（本籍・筆頭者、個人番号、住民票コード　省略）"), "{text}");
        for who in ["佐藤　健一", "佐藤　美和", "佐藤　陽翔", "世帯主"] {
            assert!(has(&text, who), "{who}: {text}");
        }

        let path = format!("/v1/admin/municipalities/{KIYOSE}/config");
        let mut a = Kiosk::new(&server, &admin);
        let tmpl = "/v1/admin/municipalities/{code}/config";
        let mut c = a.call("GET", &path, tmpl, None).await.json()["config"].clone();
        c["wording"] = json!({
            "end_note": "以下空白",
            "omitted": "〔{options}の記載省略〕",
            "option_labels": {"juminhyo_code": "住民票ｺｰﾄﾞ"},
            "documents": {"juminhyo": {
                "title": "住民票（写）",
                "certification": "この写しは、世帯全員の住民票の原本と相違ありません。"
            }},
        });
        let put = a.call("PUT", &path, tmpl, Some(c.clone())).await;
        assert_eq!(put.status, 200, "{:?}", put.json());
        req["idempotency_key"] = json!("p-4");
        let r = k.issue(&sid, req).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let text = print(&k.document(&r.json()), "juminhyo-H01-wording");
        for words in ["住民票（写）", "この写しは、世帯全員の住民票の原本と相違ありません。", "以下空白", "〔本籍・筆頭者、個人番号、住民票ｺｰﾄﾞの記載省略〕"] {
            assert!(has(&text, words), "{words}: {text}");
        }
        for standard in ["住民票の写し", "以下余白", "相違ないことを証明する", "　省略）"] {
            assert!(!has(&text, standard), "{standard}: {text}");
        }
        // Wording that cannot be printed is refused with the field named; nothing is saved.
        c["wording"]["documents"]["juminhyo"]["title"] = json!("住民票".repeat(8));
        let put = a.call("PUT", &path, tmpl, Some(c)).await;
        assert_eq!(put.status, 422, "{:?}", put.json());
        assert_eq!(put.json()["field"], json!("wording.documents.juminhyo.title"), "{:?}", put.json());
    });
}
