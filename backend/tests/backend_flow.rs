//! The resident flow end to end against a real `madoguchi-backend serve` process (SQLite): every
//! reply is checked against the OpenAPI document the server serves.

mod common;

use common::*;
use serde_json::{json, Value};
use sqlx::Row;

#[test]
fn full_flow_issuance_idempotency_outcome_verification_settlement_audit() {
    let d = Deployment::new(None, "");
    let server = d.start();
    d.open_all_hours(&server);
    let kdir = d.enroll_kiosk("K001", "セブン清瀬中里店");
    let rt = rt();
    rt.block_on(async {
        let mut k = Kiosk::new(&server, &kdir);
        // The API description is served and is the one compiled in.
        let r = k.client.get("/v1/openapi.json").await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.json(), *spec());

        let me = card("R0001");
        let sid = k.login(&me).await;
        let offers = k.offers(&sid).await;
        assert_eq!(offers.status, 200);
        let offers = offers.json();
        let docs: Vec<&str> = offers["offers"].as_array().unwrap().iter().map(|o| o["document"].as_str().unwrap()).collect();
        for d in ["juminhyo", "kisaijiko", "inkan", "kazei", "koseki-zenbu", "koseki-kojin", "fuhyo"] {
            assert!(docs.contains(&d), "{d} not offered to R0001: {docs:?}");
        }
        let j = offers["offers"].as_array().unwrap().iter().find(|o| o["document"] == "juminhyo").unwrap().clone();
        let persons: Vec<&str> = j["persons"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!(persons, vec!["R0001", "R0002", "R0003"], "household, head first");
        let fee = j["fee_yen"].as_i64().unwrap();

        // A household 住民票 with 世帯主・続柄 and 本籍.
        let mut req = juminhyo(KIYOSE, fee * 2, "k1-0001");
        req["copies"] = json!(2);
        req["persons"] = json!(["R0001", "R0002", "R0003"]);
        req["options"] = json!(["setainushi", "honseki"]);
        let first = k.issue(&sid, req.clone()).await;
        assert_eq!(first.status, 201, "{:?}", first.json());
        let issued = first.json();
        let number = issued["issuance_number"].as_str().unwrap().to_string();
        assert_eq!(issued["total_yen"], json!(fee * 2));
        let doc = k.document(&issued);
        assert_eq!(doc["binding"]["session_id"], json!(sid));
        assert_eq!(doc["binding"]["certificate_fingerprint"], json!(me.fingerprint()));
        assert_eq!(doc["binding"]["issuance_number"], json!(number));
        assert_eq!(doc["binding"]["kiosk_id"], json!("K001"));
        assert_eq!(doc["municipality"]["code"], json!(KIYOSE));
        assert_eq!(doc["municipality"]["issuer_title"], json!("清瀬市長"));
        assert_eq!(doc["municipality"]["issuer_name"], json!("𠮷田　正和"), "issuer from the world, non-BMP kanji intact");
        assert_eq!(doc["body"]["kind"], json!("juminhyo"));
        assert_eq!(doc["body"]["whole_household"], json!(true));
        assert_eq!(doc["certification"], json!("この写しは、世帯全員の住民票の原本と相違ないことを証明する。"));
        let ps = doc["body"]["persons"].as_array().unwrap();
        assert_eq!(ps[0]["name"], json!("佐藤　健一"));
        assert_eq!(ps[1]["relationship"], json!("妻"));
        assert!(ps[0]["honseki"].as_str().unwrap().contains("清瀬市"));
        assert_eq!(ps[0]["my_number"], Value::Null, "個人番号 only with its option");

        // The same key again: the same issuance, byte for byte, and no second ledger row.
        let again = k.issue(&sid, req.clone()).await;
        assert_eq!(again.status, 200);
        assert!(again.replayed);
        assert_eq!(again.json(), issued);
        // The same key for something else: refused.
        let mut other = req.clone();
        other["copies"] = json!(1);
        other["paid_yen"] = json!(fee);
        let r = k.issue(&sid, other).await;
        assert_eq!((r.status, r.code().as_deref()), (409, Some("idempotency_key_reused")));

        // Outcome: printed, once.
        let r = k.outcome(&sid, &number, json!({"outcome": "printed"})).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["status"], json!("printed"));
        let r = k.outcome(&sid, &number, json!({"outcome": "failed", "reason": "jam"})).await;
        assert_eq!(r.code().as_deref(), Some("outcome_already_recorded"));

        // A tax certificate that fails at the printer: voided, refund due.
        let kazei = offers["offers"].as_array().unwrap().iter().find(|o| o["document"] == "kazei").unwrap().clone();
        let year = kazei["years"][0].as_i64().unwrap();
        let r = k
            .issue(&sid, json!({"municipality_code": KIYOSE, "document": "kazei", "year": year, "copies": 1, "paid_yen": kazei["fee_yen"], "payment_reference": "pay-2", "idempotency_key": "k1-0002"}))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let tax = k.document(&r.json());
        assert_eq!(tax["body"]["record"]["fiscal_year"], json!(year));
        let n2 = r.json()["issuance_number"].as_str().unwrap().to_string();
        let r = k.outcome(&sid, &n2, json!({"outcome": "failed"})).await;
        assert_eq!(r.code().as_deref(), Some("invalid_field"), "a failure needs its reason");
        let r = k.outcome(&sid, &n2, json!({"outcome": "failed", "reason": "paper out"})).await;
        assert_eq!(r.json(), json!({"issuance_number": n2, "status": "voided", "refund_yen": kazei["fee_yen"]}));

        // 印鑑登録証明書 carries the registered seal.
        let inkan = offers["offers"].as_array().unwrap().iter().find(|o| o["document"] == "inkan").unwrap().clone();
        let r = k
            .issue(&sid, json!({"municipality_code": KIYOSE, "document": "inkan", "copies": 1, "paid_yen": inkan["fee_yen"], "payment_reference": "pay-3", "idempotency_key": "k1-0003"}))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let seal = k.document(&r.json());
        assert_eq!(seal["body"]["seal_impression"], json!("佐藤"));
        let n3 = r.json()["issuance_number"].as_str().unwrap().to_string();
        // Closing the session voids what has no outcome.
        let r = k.call("DELETE", &format!("/v1/sessions/{sid}"), "/v1/sessions/{session_id}", None).await;
        assert_eq!(r.json()["voided"], json!([n3]));
        let r = k.offers(&sid).await;
        assert_eq!(r.code().as_deref(), Some("session_expired"));

        // Verification (public listener, no client certificate): genuine, then voided.
        let url = doc["verify_url"].as_str().unwrap();
        let code = url.split("code=").nth(1).unwrap();
        let public = server.public_url.clone().unwrap();
        let mut anon = madoguchi_api::client::Client::new(&public, madoguchi_api::client::client_config(&kdir, false).unwrap()).unwrap();
        let r = anon.get(&format!("/v1/verify/{number}?code={code}")).await.unwrap();
        assert_eq!(r.status, 200);
        madoguchi_backend::openapi::check_reply(spec(), "GET", "/v1/verify/{issuance_number}", 200, &r.json()).unwrap();
        assert_eq!(r.json()["holder_name"], json!("佐藤　健一"));
        assert_eq!(r.json()["status"], json!("valid"));
        assert_eq!(r.json()["municipality_name"], json!("清瀬市"));
        let tax_code = tax["verify_url"].as_str().unwrap().split("code=").nth(1).unwrap().to_string();
        let r = anon.get(&format!("/v1/verify/{n2}?code={tax_code}")).await.unwrap();
        assert_eq!(r.json()["status"], json!("voided"));
        // Wrong code, unknown number, code of another document: the same answer, nothing revealed.
        let wrong = anon.get(&format!("/v1/verify/{number}?code=222222222222")).await.unwrap();
        let unknown = anon.get(&format!("/v1/verify/20990101-0000000000?code={code}")).await.unwrap();
        let swapped = anon.get(&format!("/v1/verify/{number}?code={tax_code}")).await.unwrap();
        let none = anon.get(&format!("/v1/verify/{number}")).await.unwrap();
        for r in [&wrong, &unknown, &swapped, &none] {
            assert_eq!(r.status, 404);
            assert_eq!(r.body, wrong.body);
        }
        // The public listener serves nothing else.
        let r = anon.get("/v1/catalog").await.unwrap();
        assert_eq!(r.code().as_deref(), Some("not_found"));

        // Settlement for the store: 3 issuances, one printed, two voided with refunds due.
        let today = {
            let d = madoguchi_api::municipality::jst(time::OffsetDateTime::now_utc()).date();
            format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
        };
        let r = k.call("GET", &format!("/v1/settlement?date={today}"), "/v1/settlement", None).await;
        let s = r.json();
        assert_eq!(s["store"], json!("セブン清瀬中里店"));
        let charged = fee * 2 + kazei["fee_yen"].as_i64().unwrap() + inkan["fee_yen"].as_i64().unwrap();
        let refunded = kazei["fee_yen"].as_i64().unwrap() + inkan["fee_yen"].as_i64().unwrap();
        assert_eq!(s["charged_yen"], json!(charged));
        assert_eq!(s["refunded_yen"], json!(refunded));
        assert_eq!(s["net_yen"], json!(charged - refunded));
        assert_eq!(s["refunds_due"].as_array().unwrap().len(), 2);
        let r = k.call("GET", "/v1/settlement?date=2026-13-01", "/v1/settlement", None).await;
        assert_eq!(r.code().as_deref(), Some("invalid_field"));

        // The ledger has exactly three issuances; the audit chain holds them all.
        let pool = d.db().await;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM issuances").fetch_one(&pool).await.unwrap().get(0);
        assert_eq!(n, 3);
        let actions: Vec<String> = sqlx::query("SELECT action FROM audit_log ORDER BY seq").fetch_all(&pool).await.unwrap().iter().map(|r| r.get(0)).collect();
        for a in ["kiosk.enrolled", "config.changed", "issuance.created", "issuance.printed", "issuance.voided", "refund.due", "request.rejected"] {
            assert!(actions.iter().any(|x| x == a), "{a} not audited: {actions:?}");
        }
        pool.close().await;
    });
    // audit verify: intact, then a changed row and a removed row are both found.
    let out = cli(&d.config, &["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    rt.block_on(async {
        let pool = d.db().await;
        sqlx::query("UPDATE audit_log SET actor = 'kiosk:EVIL' WHERE action = 'issuance.printed'")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let out = cli(&d.config, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("changed"), "{}", String::from_utf8_lossy(&out.stdout));
    rt.block_on(async {
        let pool = d.db().await;
        sqlx::query("UPDATE audit_log SET actor = 'kiosk:K001' WHERE action = 'issuance.printed'")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    assert!(cli(&d.config, &["audit", "verify"]).status.success(), "restored");
    rt.block_on(async {
        let pool = d.db().await;
        sqlx::query("DELETE FROM audit_log WHERE seq = (SELECT MIN(seq) + 2 FROM audit_log)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let out = cli(&d.config, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed"), "{}", String::from_utf8_lossy(&out.stdout));
    rt.block_on(async {
        let pool = d.db().await;
        sqlx::query("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)").execute(&pool).await.unwrap();
        pool.close().await;
    });
    assert_eq!(cli(&d.config, &["audit", "verify"]).status.code(), Some(3));
}

#[test]
fn phones_authenticate_and_link_to_their_resident() {
    let d = Deployment::new(None, "");
    let server = d.start();
    d.open_all_hours(&server);
    let kdir = d.enroll_kiosk("K010", "ローソン所沢店");
    rt().block_on(async {
        let mut k = Kiosk::new(&server, &kdir);
        // What the card signs says what it is and for which kiosk, and lives only as long as a
        // signature and a round trip need (at most 30 s, though `challenge_ttl_s` is 120 here).
        let asked = time::OffsetDateTime::now_utc();
        let r = k.call("POST", "/v1/sessions", "/v1/sessions", None).await;
        let reply: madoguchi_api::v1::ChallengeReply = serde_json::from_value(r.json()).unwrap();
        let ch = reply.validate().expect("the kiosk's checks");
        assert_eq!(madoguchi_api::challenge::check(&ch, madoguchi_api::challenge::Purpose::Authenticate, "K010"), Ok(()));
        assert!(ch.starts_with(b"madoguchi-challenge-v1\0authenticate\0K010\0"));
        let expires = time::OffsetDateTime::parse(
            &reply.challenge_expires_at,
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(expires - asked <= time::Duration::seconds(31), "the challenge lives {}", expires - asked);
        for (profile, holder) in [("R0001-android", "佐藤　健一"), ("R0002-iphone", "佐藤　美和")] {
            let c = card(profile);
            let (sid, ch) = k.challenge().await;
            let r = k.authenticate_raw(&sid, &c.cert, &c.sign(&ch)).await;
            assert_eq!(r.status, 200, "{profile}: {:?}", r.json());
            assert_eq!(r.json()["holder_name"], json!(holder));
        }
        // 本籍 elsewhere: R0004 lives in 清瀬 with 本籍 in 所沢; 戸籍 comes from 所沢.
        let c = card("R0004");
        let sid = k.login(&c).await;
        let o = k.offers(&sid).await.json();
        let koseki = o["offers"].as_array().unwrap().iter().find(|o| o["document"] == "koseki-zenbu").unwrap();
        assert_eq!(koseki["municipality_code"], json!(TOKOROZAWA));
        assert_eq!(koseki["route"], json!("honseki"));
        let j = o["offers"].as_array().unwrap().iter().find(|o| o["document"] == "juminhyo").unwrap();
        assert_eq!(j["municipality_code"], json!(KIYOSE));
        let r = k
            .issue(&sid, json!({"municipality_code": TOKOROZAWA, "document": "koseki-zenbu", "copies": 1, "paid_yen": koseki["fee_yen"], "payment_reference": "p", "idempotency_key": "kos-1"}))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let doc = k.document(&r.json());
        assert_eq!(doc["municipality"]["name"], json!("所沢市"));
        assert!(doc["body"]["persons"].as_array().unwrap().iter().any(|p| p["name"].as_str().unwrap().starts_with('髙')), "variant kanji kept: {doc}");
        // 住民票 of 清瀬 asked of 所沢: not offered.
        let r = k.issue(&sid, juminhyo(TOKOROZAWA, 200, "kos-2")).await;
        assert_eq!(r.code().as_deref(), Some("document_not_offered"));
        // Under 15 (R0003) gets nothing; moved abroad (R0009) gets no 住民票 but 戸籍.
        let sid = k.login(&card("R0003")).await;
        let o = k.offers(&sid).await.json();
        assert!(o["offers"].as_array().unwrap().is_empty(), "{o}");
        assert!(o["unavailable"].as_array().unwrap().iter().all(|u| u["reason"] == "not_eligible"));
        let sid = k.login(&card("R0009")).await;
        let o = k.offers(&sid).await.json();
        let docs: Vec<&str> = o["offers"].as_array().unwrap().iter().map(|o| o["document"].as_str().unwrap()).collect();
        assert!(!docs.contains(&"juminhyo") && docs.contains(&"koseki-zenbu"), "{docs:?}");
    });
}

#[test]
fn outcome_timeout_voids_and_marks_refund() {
    let d = Deployment::new(None, "outcome_timeout_s = 2\nsweep_interval_s = 1\n");
    let server = d.start();
    d.open_all_hours(&server);
    let kdir = d.enroll_kiosk("K020", "store");
    rt().block_on(async {
        let mut k = Kiosk::new(&server, &kdir);
        let sid = k.login(&card("R0013")).await;
        let r = k.issue(&sid, juminhyo(TOKOROZAWA, 200, "t-1")).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let number = r.json()["issuance_number"].as_str().unwrap().to_string();
        tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
        let pool = d.db().await;
        let state = |number: String| {
            let pool = pool.clone();
            async move {
                let row = sqlx::query("SELECT status, refund_yen, refund_state FROM issuances WHERE number = $1")
                    .bind(number)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                (row.get::<String, _>(0), row.get::<i64, _>(1), row.get::<String, _>(2))
            }
        };
        assert_eq!(state(number.clone()).await, ("voided".into(), 200, "due".into()));
        let count = |action: &'static str, number: String| {
            let pool = pool.clone();
            async move {
                sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = $1 AND subject = $2")
                    .bind(action)
                    .bind(number)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                    .get::<i64, _>(0)
            }
        };
        assert_eq!(count("refund.due", number.clone()).await, 1);
        // The kiosk printed but was offline: its late `printed` is recorded, the paper valid,
        // the refund cancelled, and an alert raised (it used to be refused and lost).
        let r = k.outcome(&sid, &number, json!({"outcome": "printed"})).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        assert_eq!(r.json()["status"], json!("printed_late"));
        assert_eq!(state(number.clone()).await, ("printed_late".into(), 0, "cancelled".into()));
        assert_eq!(count("alert.printed_late", number.clone()).await, 1);
        let again = k.outcome(&sid, &number, json!({"outcome": "printed"})).await;
        assert_eq!(again.code().as_deref(), Some("outcome_already_recorded"), "{:?}", again.json());

        // A job the kiosk still prints: `printing` renews the lease and the sweeper leaves it.
        let r = k.issue(&sid, juminhyo(TOKOROZAWA, 200, "t-2")).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let leased = r.json()["issuance_number"].as_str().unwrap().to_string();
        for _ in 0..6 {
            let r = k.outcome(&sid, &leased, json!({"outcome": "printing"})).await;
            assert_eq!((r.status, r.json()["status"].clone()), (200, json!("issued")), "{:?}", r.json());
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        assert_eq!(state(leased.clone()).await.0, "issued", "never voided while the kiosk renews its lease");
        // The lease lapses without a word from the kiosk: voided, refund due.
        tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
        assert_eq!(state(leased.clone()).await, ("voided".into(), 200, "due".into()));
        let r = k.outcome(&sid, &leased, json!({"outcome": "printing"})).await;
        assert_eq!(r.code().as_deref(), Some("outcome_already_recorded"), "{:?}", r.json());

        // The kiosk paid the refund back in cash: recorded, no longer due.
        let r = k.outcome(&sid, &leased, json!({"outcome": "refunded", "refunded_yen": 150})).await;
        assert_eq!(r.code().as_deref(), Some("invalid_field"), "only the refund that is due: {:?}", r.json());
        let r = k.outcome(&sid, &leased, json!({"outcome": "refunded", "refunded_yen": 200})).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        assert_eq!(state(leased.clone()).await, ("voided".into(), 200, "paid_at_kiosk".into()));
        let r = k.outcome(&sid, &leased, json!({"outcome": "refunded", "refunded_yen": 200})).await;
        assert_eq!(r.status, 200, "a repeat is answered the same: {:?}", r.json());
        assert_eq!(count("refund.paid_at_kiosk", leased.clone()).await, 1);
        pool.close().await;
    });
}
