//! Bad input and faults: each gets its error code, changes nothing, and is audited. Mutual TLS
//! and credential revocation. Concurrency: 100 kiosks for one household never get each other's
//! documents.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use madoguchi_api::client::{client_config, Client};
use serde_json::{json, Value};
use sqlx::Row;
use std::sync::Arc;

/// Rows that a rejected request must not change, and the number of `request.rejected` records.
async fn ledger_state(pool: &sqlx::AnyPool) -> (Vec<i64>, i64) {
    let mut counts = Vec::new();
    for t in [
        "issuances",
        "sessions WHERE state = 'authenticated'",
        "credentials",
        "municipalities",
        "residents",
        "cert_links",
        "jpki_revocations",
    ] {
        counts.push(sqlx::query(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(pool).await.unwrap().get::<i64, _>(0));
    }
    let rejected = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'request.rejected'")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    (counts, rejected)
}

#[test]
fn bad_input_gets_its_code_changes_nothing_and_is_audited() {
    let d = Deployment::new(None, "challenge_ttl_s = 2\n");
    let server = d.start();
    d.open_all_hours(&server);
    let k1 = d.enroll_kiosk("K101", "store A");
    let k2 = d.enroll_kiosk("K102", "store B");
    rt().block_on(async {
        let pool = d.db().await;
        let mut k = Kiosk::new(&server, &k1);
        let mut other = Kiosk::new(&server, &k2);
        let me = card("R0001");
        let wife = card("R0002");

        let (before, rejected_before) = ledger_state(&pool).await;
        let mut expected_rejections = 0;
        macro_rules! expect {
            ($r:expr, $code:expr, $what:expr) => {{
                let r = $r;
                assert_eq!(r.code().as_deref(), Some($code), "{}: {:?}", $what, r.json());
                expected_rejections += 1;
            }};
        }

        // Tampered signature.
        let (sid, ch) = k.challenge().await;
        let mut sig = me.sign(&ch);
        sig[100] ^= 0x40;
        expect!(k.authenticate_raw(&sid, &me.cert, &sig).await, "signature_invalid", "tampered signature");
        // Another resident's certificate with this card's signature.
        expect!(k.authenticate_raw(&sid, &wife.cert, &me.sign(&ch)).await, "signature_invalid", "another resident's certificate");
        // A signature over something else.
        expect!(k.authenticate_raw(&sid, &me.cert, &me.sign(b"not the challenge")).await, "signature_invalid", "wrong message");
        // The signature certificate is not the user-authentication one.
        expect!(k.authenticate_raw(&sid, &sign_cert("R0001"), &me.sign(&ch)).await, "certificate_wrong_profile", "signature certificate");
        // Garbage certificate; not base64.
        expect!(k.authenticate_raw(&sid, b"\x30\x03\x02\x01\x01", &me.sign(&ch)).await, "certificate_malformed", "garbage DER");
        let r = k.call("POST", &format!("/v1/sessions/{sid}/authenticate"), "/v1/sessions/{session_id}/authenticate", Some(json!({"certificate": "%%%", "signature": "AA=="}))).await;
        expect!(r, "invalid_field", "not base64");
        // Expired card; suspended phone.
        let expired = card("R0005");
        expect!(k.authenticate_raw(&sid, &expired.cert, &expired.sign(&ch)).await, "certificate_expired", "expired certificate");
        let suspended = card("R0008-android");
        expect!(k.authenticate_raw(&sid, &suspended.cert, &suspended.sign(&ch)).await, "certificate_suspended", "suspended phone");
        // A challenge from another kiosk.
        expect!(other.authenticate_raw(&sid, &me.cert, &me.sign(&ch)).await, "session_kiosk_mismatch", "challenge of another kiosk");
        // After all that, the genuine answer still works (nothing was consumed) ...
        let r = k.authenticate_raw(&sid, &me.cert, &me.sign(&ch)).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        // ... and only once.
        expect!(k.authenticate_raw(&sid, &me.cert, &me.sign(&ch)).await, "challenge_used", "replayed challenge");
        // Another kiosk cannot use this session.
        expect!(other.offers(&sid).await, "session_kiosk_mismatch", "offers from another kiosk");
        expect!(other.issue(&sid, juminhyo(KIYOSE, 200, "x-1")).await, "session_kiosk_mismatch", "issuance from another kiosk");
        // Unknown and malformed session ids.
        expect!(k.offers("00000000000000000000000000000000").await, "session_not_found", "unknown session");
        expect!(k.offers("'; DROP TABLE sessions; --").await, "session_not_found", "injection in the path");
        // Offers before authentication.
        let (sid2, ch2) = k.challenge().await;
        expect!(k.offers(&sid2).await, "not_authenticated", "offers before authenticate");
        // An expired challenge.
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        expect!(k.authenticate_raw(&sid2, &me.cert, &me.sign(&ch2)).await, "challenge_expired", "expired challenge");

        // Issuance requests that break the rules.
        let wrong: Vec<(Value, &str)> = vec![
            (json!({"municipality_code": KIYOSE, "document": "juminhyo", "copies": 1, "paid_yen": 100, "payment_reference": "p", "idempotency_key": "b-1"}), "payment_mismatch"),
            (json!({"municipality_code": KIYOSE, "document": "juminhyo", "copies": 50, "paid_yen": 10000, "payment_reference": "p", "idempotency_key": "b-2"}), "too_many_copies"),
            (json!({"municipality_code": KIYOSE, "document": "juminhyo", "copies": 0, "paid_yen": 0, "payment_reference": "p", "idempotency_key": "b-3"}), "invalid_field"),
            (json!({"municipality_code": KIYOSE, "document": "juminhyo", "persons": ["R0004"], "copies": 1, "paid_yen": 200, "payment_reference": "p", "idempotency_key": "b-4"}), "person_not_allowed"),
            (json!({"municipality_code": KIYOSE, "document": "juminhyo", "options": ["kojin_bango"], "copies": 1, "paid_yen": 200, "payment_reference": "p", "idempotency_key": "b-5"}), "invalid_option"),
            (json!({"municipality_code": TOKOROZAWA, "document": "juminhyo", "copies": 1, "paid_yen": 200, "payment_reference": "p", "idempotency_key": "b-6"}), "document_not_offered"),
            (json!({"municipality_code": KIYOSE, "document": "passport", "copies": 1, "paid_yen": 200, "payment_reference": "p", "idempotency_key": "b-7"}), "invalid_field"),
            (json!({"municipality_code": KIYOSE, "document": "juminhyo", "copies": 1, "paid_yen": 200, "payment_reference": "p", "idempotency_key": "b-8", "discount": true}), "unknown_field"),
            (json!({"municipality_code": KIYOSE, "document": "juminhyo", "copies": "1", "paid_yen": 200, "payment_reference": "p", "idempotency_key": "b-9"}), "invalid_field"),
            (json!({"document": "juminhyo", "copies": 1, "paid_yen": 200, "payment_reference": "p", "idempotency_key": "b-10"}), "invalid_field"),
            (json!({"municipality_code": KIYOSE, "document": "kazei", "year": 1999, "copies": 1, "paid_yen": 200, "payment_reference": "p", "idempotency_key": "b-11"}), "invalid_option"),
            (json!({"municipality_code": KIYOSE, "document": "inkan", "persons": ["R0002"], "copies": 1, "paid_yen": 200, "payment_reference": "p", "idempotency_key": "b-12"}), "invalid_field"),
        ];
        for (body, code) in wrong {
            let r = k.issue(&sid, body.clone()).await;
            expect!(r, code, &body.to_string());
        }
        // The unknown field is named.
        let r = k.issue(&sid, json!({"municipality_code": KIYOSE, "document": "juminhyo", "copies": 1, "paid_yen": 200, "payment_reference": "p", "idempotency_key": "b-13", "discount": true})).await;
        assert_eq!(r.json()["field"], json!("discount"));
        expected_rejections += 1;
        // Injection attempts in every string field.
        let evil = ["'; DROP TABLE issuances; --", "\" OR 1=1 --", "${jndi:ldap://x}", "<script>alert(1)</script>", "\u{0}\u{7}", "ロバート'); DROP TABLE residents;--"];
        for (i, e) in evil.iter().enumerate() {
            for field in ["municipality_code", "payment_reference", "idempotency_key"] {
                let mut body = juminhyo(KIYOSE, 200, &format!("inj-{i}"));
                body[field] = json!(e);
                let r = k.issue(&sid, body).await;
                assert!(r.status >= 400, "{field}={e:?} accepted: {:?}", r.json());
                expected_rejections += 1;
            }
            let mut body = juminhyo(KIYOSE, 200, &format!("injp-{i}"));
            body["persons"] = json!([e]);
            let r = k.issue(&sid, body).await;
            assert!(r.status >= 400);
            expected_rejections += 1;
            let r = k.outcome(&sid, e, json!({"outcome": "printed"})).await;
            assert!(r.status >= 400);
            expected_rejections += 1;
        }
        // Free text is stored as given, never interpreted.
        let r = k.issue(&sid, juminhyo(KIYOSE, 200, "free-text")).await;
        assert_eq!(r.status, 201);
        let number = r.json()["issuance_number"].as_str().unwrap().to_string();
        let reason = "紙詰まり'); DELETE FROM issuances; --";
        assert_eq!(k.outcome(&sid, &number, json!({"outcome": "failed", "reason": reason})).await.status, 200);
        let stored: String = sqlx::query("SELECT outcome_reason FROM issuances WHERE number = $1").bind(number).fetch_one(&pool).await.unwrap().get(0);
        assert_eq!(stored, format!("failed: {reason}"));
        // Malformed and oversized JSON, wrong media type.
        for (raw, code) in [
            (b"{\"certificate\": ".to_vec(), "malformed_json"),
            (b"[1,2,3]".to_vec(), "malformed_json"),
            (b"null".to_vec(), "malformed_json"),
            (format!("{{\"certificate\": \"{}\", \"signature\": \"\"}}", "A".repeat(100_000)).into_bytes(), "payload_too_large"),
        ] {
            let r = k.client.request("POST", &format!("/v1/sessions/{sid2}/authenticate"), Some(raw)).await.unwrap();
            madoguchi_backend::openapi::check_reply(spec(), "POST", "/v1/sessions/{session_id}/authenticate", r.status, &r.json()).unwrap();
            expect!(r, code, "raw body");
        }
        let r = k.client.request("PUT", "/v1/sessions", None).await.unwrap();
        expect!(r, "method_not_allowed", "PUT /v1/sessions");
        let r = k.client.request("GET", "/v1/nothing", None).await.unwrap();
        expect!(r, "not_found", "unknown path");

        // Outcome rules.
        expect!(k.outcome(&sid, "20260101-AAAAAAAAAA", json!({"outcome": "printed"})).await, "issuance_not_found", "unknown issuance");
        expect!(k.outcome(&sid, "x", json!({"outcome": "lost"})).await, "invalid_field", "unknown outcome");

        let (after, rejected_after) = ledger_state(&pool).await;
        // The successful authentication and the one issuance are the only changes.
        let mut b = before.clone();
        b[0] += 1;
        b[1] += 1;
        assert_eq!(after, b, "a rejected request changed something");
        assert_eq!(rejected_after - rejected_before, expected_rejections, "every rejection is audited");
        // Tables survived the injection attempts and the chain is intact.
        let v = madoguchi_backend::audit::verify(&pool).await.unwrap();
        assert!(v.ok, "{v:?}");
        pool.close().await;
    });
}

#[test]
fn mutual_tls_credentials_and_scopes() {
    let d = Deployment::new(None, "credential_cache_ms = 300\n");
    let server = d.start();
    let kdir = d.enroll_kiosk("K201", "store");
    let admin_kiyose = d.enroll_admin("A-kiyose", KIYOSE);
    let other_deployment = tempfile::tempdir().unwrap();
    rt().block_on(async {
        // No client certificate: the handshake fails, no handler runs.
        let mut anon = Client::new(&server.url, client_config(&kdir, false).unwrap()).unwrap();
        assert!(anon.get("/v1/catalog").await.is_err(), "request without a client certificate was answered");
        // A certificate from another CA: refused in the handshake.
        let keys = madoguchi_backend::pki::Keys::new(&other_deployment.path().join("keys"));
        keys.init(&["localhost".into()]).unwrap();
        let foreign = other_deployment.path().join("kiosk");
        keys.issue_client(
            &madoguchi_backend::pki::CredentialInfo {
                kind: "kiosk".into(),
                id: "K201".into(),
                store: None,
                municipality_code: None,
                fingerprint: String::new(),
            },
            &foreign,
        )
        .unwrap();
        std::fs::copy(kdir.join("server-ca.cert.pem"), foreign.join("server-ca.cert.pem")).unwrap();
        let mut f = Client::from_dir(&server.url, &foreign).unwrap();
        assert!(f.get("/v1/catalog").await.is_err(), "foreign CA accepted");

        let mut k = Kiosk::new(&server, &kdir);
        assert_eq!(k.call("GET", "/v1/catalog", "/v1/catalog", None).await.status, 200);
        // Kiosks cannot administer; administrators cannot run resident flows or other municipalities.
        let r = k
            .call(
                "GET",
                &format!("/v1/admin/municipalities/{KIYOSE}/config"),
                "/v1/admin/municipalities/{code}/config",
                None,
            )
            .await;
        assert_eq!(r.code().as_deref(), Some("forbidden"));
        let mut a = Kiosk::new(&server, &admin_kiyose);
        let r = a.call("POST", "/v1/sessions", "/v1/sessions", None).await;
        assert_eq!(r.code().as_deref(), Some("forbidden"));
        let r = a
            .call(
                "GET",
                &format!("/v1/admin/municipalities/{TOKOROZAWA}/config"),
                "/v1/admin/municipalities/{code}/config",
                None,
            )
            .await;
        assert_eq!(r.code().as_deref(), Some("wrong_municipality"));
        let r = a
            .call(
                "PUT",
                &format!("/v1/admin/municipalities/{TOKOROZAWA}/config"),
                "/v1/admin/municipalities/{code}/config",
                Some(json!({})),
            )
            .await;
        assert!(r.status >= 400);

        // Revocation: the open connection is refused within credential_cache_ms, a new one at once.
        cli_ok(&d.config, &["kiosk", "revoke", "K201"]);
        let mut fresh = Kiosk::new(&server, &kdir);
        let r = fresh.call("POST", "/v1/sessions", "/v1/sessions", None).await;
        assert_eq!(r.code().as_deref(), Some("credential_revoked"));
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let r = k.call("POST", "/v1/sessions", "/v1/sessions", None).await;
        assert_eq!(r.code().as_deref(), Some("credential_revoked"));
        // Re-enrolment gives a new, working credential; the old certificate stays refused.
        let again = d.path("kiosks/K201-new");
        cli_ok(&d.config, &["kiosk", "enroll", "--id", "K201", "--store", "store", "--out", again.to_str().unwrap()]);
        let mut renewed = Kiosk::new(&server, &again);
        assert_eq!(renewed.call("POST", "/v1/sessions", "/v1/sessions", None).await.status, 201);
        let mut old = Kiosk::new(&server, &kdir);
        assert_eq!(
            old.call("POST", "/v1/sessions", "/v1/sessions", None).await.code().as_deref(),
            Some("credential_revoked")
        );
    });
}

#[test]
fn municipality_configuration_and_signed_catalog() {
    let d = Deployment::new(None, "");
    let server = d.start();
    let kdir = d.enroll_kiosk("K301", "store");
    let admin = d.enroll_admin("A-kiyose", KIYOSE);
    rt().block_on(async {
        let mut a = Kiosk::new(&server, &admin);
        let mut k = Kiosk::new(&server, &kdir);
        let path = format!("/v1/admin/municipalities/{KIYOSE}/config");
        let tmpl = "/v1/admin/municipalities/{code}/config";
        let cur = a.call("GET", &path, tmpl, None).await.json();
        let cfg = cur["config"].clone();

        // Invalid configurations are refused with the field named, and change nothing.
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|c: &mut Value| c["documents"]["juminhyo"]["fee_yen"] = json!(-100)),
                "documents.juminhyo.fee_yen",
            ),
            (Box::new(|c: &mut Value| c["service_hours"]["close"] = json!("25:00")), "service_hours.close"),
            (Box::new(|c: &mut Value| c["service_hours"]["open"] = json!("7am")), "service_hours.open"),
            (
                Box::new(|c: &mut Value| c["documents"]["passport"] = c["documents"]["inkan"].clone()),
                "documents.passport",
            ),
            (Box::new(|c: &mut Value| c["documents"]["inkan"]["max_copies"] = json!(0)), "documents.inkan.max_copies"),
            (Box::new(|c: &mut Value| c["closed_days"] = json!([{"from": "2026-02-30"}])), "closed_days[0].from"),
            (
                Box::new(|c: &mut Value| c["documents"]["juminhyo"]["options"] = json!(["print_everything"])),
                "documents.juminhyo.options[0]",
            ),
            (Box::new(|c: &mut Value| c["seal_png"] = json!("bm90IGEgcG5n")), "seal_png"),
            (Box::new(|c: &mut Value| c["issuer_name"] = json!("")), "issuer_name"),
            (
                Box::new(|c: &mut Value| c["documents"]["juminhyo"]["colour"] = json!("red")),
                "documents.juminhyo.colour",
            ),
        ];
        for (change, field) in cases {
            let mut c = cfg.clone();
            change(&mut c);
            let r = a.call("PUT", &path, tmpl, Some(c)).await;
            assert!(
                r.code().as_deref() == Some("invalid_config") || r.code().as_deref() == Some("unknown_field"),
                "{field}: {:?}",
                r.json()
            );
            assert_eq!(r.json()["field"], json!(field), "{:?}", r.json());
            assert!(r.json()["message"].as_str().unwrap().starts_with(field));
        }
        let unchanged = a.call("GET", &path, tmpl, None).await.json();
        assert_eq!(unchanged["config_version"], cur["config_version"]);

        // A valid change: fee, a notice, closed today.
        let before = k.call("GET", "/v1/catalog", "/v1/catalog", None).await.json();
        let blob: madoguchi_api::SignedBlob = serde_json::from_value(before.clone()).unwrap();
        let cat_before: Value = serde_json::from_str(k.public.verify(&blob).unwrap()).unwrap();
        let today = {
            let d = madoguchi_api::municipality::jst(time::OffsetDateTime::now_utc()).date();
            format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
        };
        let mut c = cfg.clone();
        c["documents"]["juminhyo"]["fee_yen"] = json!(150);
        c["notices"] = json!([{"text": "令和8年1月10日はシステム保守のため終日停止します。"}]);
        c["closed_days"] = json!([{"from": today, "reason": "システム保守"}]);
        let r = a.call("PUT", &path, tmpl, Some(c)).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        let reply = r.json();
        assert!(reply["catalog_version"].as_i64().unwrap() > cat_before["version"].as_i64().unwrap());

        // The catalog carries it, signed; a tampered catalog fails verification.
        let signed = k.call("GET", "/v1/catalog", "/v1/catalog", None).await.json();
        let blob: madoguchi_api::SignedBlob = serde_json::from_value(signed).unwrap();
        let cat: Value = serde_json::from_str(k.public.verify(&blob).unwrap()).unwrap();
        madoguchi_backend::openapi::check_component(spec(), "Catalog", &cat).unwrap();
        assert_eq!(cat["version"], reply["catalog_version"]);
        let kiyose = cat["municipalities"].as_array().unwrap().iter().find(|m| m["code"] == KIYOSE).unwrap();
        assert_eq!(kiyose["config"]["documents"]["juminhyo"]["fee_yen"], json!(150));
        let mut tampered = blob.clone();
        tampered.payload = tampered.payload.replace("\"fee_yen\":150", "\"fee_yen\":1");
        assert_ne!(tampered.payload, blob.payload);
        assert!(k.public.verify(&tampered).is_err(), "a tampered catalog must be refused");
        let mut resigned = blob.clone();
        resigned.signature = B64.encode([0u8; 64]);
        assert!(k.public.verify(&resigned).is_err());

        // Offers follow: closed today.
        let sid = k.login(&card("R0001")).await;
        let o = k.offers(&sid).await.json();
        assert!(o["offers"].as_array().unwrap().iter().all(|o| o["municipality_code"] != KIYOSE), "{o}");
        assert!(o["unavailable"].as_array().unwrap().iter().any(|u| u["reason"] == "closed_day"));
        assert_eq!(o["notices"][0]["text"], json!("令和8年1月10日はシステム保守のため終日停止します。"));
        let r = k.issue(&sid, juminhyo(KIYOSE, 150, "c-1")).await;
        assert_eq!(r.code().as_deref(), Some("closed_day"));

        // Hours that exclude now.
        let now = madoguchi_api::municipality::jst(time::OffsetDateTime::now_utc());
        let (open, close) = if now.hour() >= 12 { ("00:00", "01:00") } else { ("22:00", "23:00") };
        let mut c = cfg.clone();
        c["service_hours"] = json!({"open": open, "close": close});
        assert_eq!(a.call("PUT", &path, tmpl, Some(c)).await.status, 200);
        let r = k.issue(&sid, juminhyo(KIYOSE, 200, "c-2")).await;
        assert_eq!(r.code().as_deref(), Some("outside_service_hours"), "{:?}", r.json());

        // The CLI, as the administrator: round the clock, disable 住民票, fee.
        let cred = admin.to_str().unwrap();
        for args in [
            vec!["hours", "00:00", "24:00"],
            vec!["fee", "juminhyo", "250"],
            vec!["disable", "inkan"],
            vec!["option", "juminhyo", "kojin_bango", "on"],
            vec!["issuer", "清瀬市長", "渋谷　金太郎"],
        ] {
            let mut full = vec!["municipality", "--server", &server.url, "--credential", cred, KIYOSE];
            full.extend(args.iter());
            cli_ok(&d.config, &full);
        }
        let mut bad =
            vec!["municipality", "--server", &server.url, "--credential", cred, KIYOSE, "fee", "juminhyo", "-5"];
        bad.insert(bad.len() - 1, "--");
        let out = cli(&d.config, &bad);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("documents.juminhyo.fee_yen"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut c2 = a.call("GET", &path, tmpl, None).await.json()["config"].clone();
        c2["closed_days"] = json!([]);
        assert_eq!(a.call("PUT", &path, tmpl, Some(c2)).await.status, 200);
        let o = k.offers(&sid).await.json();
        let j = o["offers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["document"] == "juminhyo" && o["municipality_code"] == KIYOSE)
            .unwrap();
        assert_eq!(j["fee_yen"], json!(250));
        assert!(j["options"].as_array().unwrap().contains(&json!("kojin_bango")));
        assert!(!o["offers"].as_array().unwrap().iter().any(|o| o["document"] == "inkan"));
        let mut req = juminhyo(KIYOSE, 250, "c-3");
        req["options"] = json!(["kojin_bango"]);
        let r = k.issue(&sid, req).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let doc = k.document(&r.json());
        assert_eq!(doc["municipality"]["issuer_name"], json!("渋谷　金太郎"));
        assert_eq!(doc["body"]["persons"][0]["my_number"].as_str().unwrap().len(), 12);

        // Every change is audited.
        let pool = d.db().await;
        let n: i64 =
            sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'config.changed' AND actor = 'admin:A-kiyose'")
                .fetch_one(&pool)
                .await
                .unwrap()
                .get(0);
        assert_eq!(n, 8);
        pool.close().await;
    });
}

#[test]
fn crl_import_revokes_and_refuses_older_lists() {
    let d = Deployment::new(None, "");
    let server = d.start();
    let kdir = d.enroll_kiosk("K401", "store");
    // The world's test PKI regenerated from its seed: a new auth CRL listing R0001's card.
    let m = manifest();
    let today =
        time::Date::parse(m["today"].as_str().unwrap(), time::macros::format_description!("[year]-[month]-[day]"))
            .unwrap();
    let pki = madoguchi_certs::testpki::TestPki::generate(m["seed"].as_u64().unwrap(), today).unwrap();
    let me = card("R0001");
    let cert = madoguchi_certs::JpkiCertificate::from_der(&me.cert).unwrap();
    let ca = pki.cas().iter().find(|ca| ca.cert().subject_key_id() == cert.authority_key_id()).expect("issuing CA");
    let serial = u64::from_str_radix(&cert.serial_hex(), 16).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let crl = ca
        .issue_crl(
            &[madoguchi_certs::testpki::TestRevocation {
                serial,
                since: now - time::Duration::minutes(1),
                reason: madoguchi_certs::RevocationReason::Revoked,
            }],
            now,
            now + time::Duration::days(1),
        )
        .unwrap();
    let f = d.path("new.crl");
    std::fs::write(&f, crl.der()).unwrap();
    rt().block_on(async {
        let mut k = Kiosk::new(&server, &kdir);
        let _ = k.login(&me).await;
        cli_ok(&d.config, &["crl", "import", f.to_str().unwrap()]);
        let (sid, ch) = k.challenge().await;
        let r = k.authenticate_raw(&sid, &me.cert, &me.sign(&ch)).await;
        assert_eq!(r.code().as_deref(), Some("certificate_revoked"), "{:?}", r.json());
    });
    // The world's own (older) list is refused now.
    let gen = ca.file_stem();
    let old = world().join("crl").join(if gen.ends_with("-1") { "auth-1.crl" } else { "auth.crl" });
    let out = cli(&d.config, &["crl", "import", old.to_str().unwrap()]);
    assert!(!out.status.success(), "older CRL accepted");
    // A CRL signed by nobody we pin is refused.
    let mut bad = crl.der().to_vec();
    let n = bad.len();
    bad[n - 10] ^= 1;
    std::fs::write(d.path("bad.crl"), bad).unwrap();
    assert!(!cli(&d.config, &["crl", "import", d.path("bad.crl").to_str().unwrap()]).status.success());
}

#[test]
fn database_busy_is_refused_without_change() {
    let d = Deployment::new(None, "db_busy_timeout_ms = 300\n");
    let server = d.start();
    d.open_all_hours(&server);
    let kdir = d.enroll_kiosk("K501", "store");
    rt().block_on(async {
        let mut k = Kiosk::new(&server, &kdir);
        let sid = k.login(&card("R0013")).await;
        // Another process holds the write lock.
        let mut lock = sqlx::sqlite::SqliteConnectOptions::new().filename(d.path("madoguchi.db"));
        lock = lock.busy_timeout(std::time::Duration::from_millis(100));
        use sqlx::ConnectOptions;
        let mut conn = lock.connect().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
        let r = k.issue(&sid, juminhyo(TOKOROZAWA, 200, "busy-1")).await;
        assert_eq!(r.code().as_deref(), Some("database_busy"), "{:?}", r.json());
        assert_eq!(r.status, 503);
        sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
        // Nothing was recorded; the retry with the same key succeeds once.
        let pool = d.db().await;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM issuances").fetch_one(&pool).await.unwrap().get(0);
        assert_eq!(n, 0);
        let r = k.issue(&sid, juminhyo(TOKOROZAWA, 200, "busy-1")).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM issuances").fetch_one(&pool).await.unwrap().get(0);
        assert_eq!(n, 1);
        pool.close().await;
    });
}

/// The 2023 incidents: near-simultaneous requests handing one resident's document to another.
/// 100 kiosks, residents of one household in one municipality, all issuing at once.
#[test]
fn hundred_kiosks_one_household_never_cross() {
    let d = Deployment::new(None, "db_max_connections = 8\n");
    let server = d.start();
    d.open_all_hours(&server);
    // Enrol through the library (100 CLI processes would only be slower).
    let dirs: Vec<_> = rt().block_on(async {
        let config = madoguchi_backend::config::Config::load(&d.config).unwrap();
        let db = madoguchi_backend::app::open_db(&config).await.unwrap();
        let keys = madoguchi_backend::pki::Keys::new(&config.keys_dir);
        let mut dirs = Vec::new();
        for i in 0..100 {
            let out = d.path(&format!("kiosks/C{i:03}"));
            let info = madoguchi_backend::pki::CredentialInfo {
                kind: "kiosk".into(),
                id: format!("C{i:03}"),
                store: Some(format!("store {}", i % 10)),
                municipality_code: None,
                fingerprint: String::new(),
            };
            madoguchi_backend::ops::enroll(&db, &keys, info, &out).await.unwrap();
            dirs.push(out);
        }
        db.pool.close().await;
        dirs
    });
    // Household H01 (R0001 head, R0002 wife; R0001 also by Android phone, R0002 by iPhone).
    let people = Arc::new(vec![card("R0001"), card("R0002"), card("R0001-android"), card("R0002-iphone")]);
    let rt = rt();
    rt.block_on(async {
        let barrier = Arc::new(tokio::sync::Barrier::new(100));
        let mut tasks = Vec::new();
        for (i, dir) in dirs.into_iter().enumerate() {
            let mut k = Kiosk::new(&server, &dir);
            let people = people.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let me = &people[i % people.len()];
                let (sid, ch) = k.challenge().await;
                let sig = me.sign(&ch);
                barrier.wait().await;
                let r = k.authenticate_raw(&sid, &me.cert, &sig).await;
                assert_eq!(r.status, 200, "{:?}", r.json());
                let mut req = juminhyo(KIYOSE, 200, &format!("c-{i}"));
                req["persons"] = json!([if me.id == "R0001" { "R0001" } else { "R0002" }]);
                let r = k.issue(&sid, req).await;
                assert_eq!(r.status, 201, "{:?}", r.json());
                let issued = r.json();
                let doc = k.document(&issued);
                let number = issued["issuance_number"].as_str().unwrap().to_string();
                let ok = doc["binding"]["session_id"] == json!(sid)
                    && doc["binding"]["certificate_fingerprint"] == json!(me.fingerprint())
                    && doc["binding"]["kiosk_id"] == json!(format!("C{i:03}"))
                    && doc["binding"]["issuance_number"] == json!(number)
                    && doc["body"]["persons"].as_array().unwrap().len() == 1
                    && doc["body"]["persons"][0]["id"] == json!(me.id);
                let r = k.outcome(&sid, &number, json!({"outcome": "printed"})).await;
                assert_eq!(r.status, 200);
                (ok, number)
            }));
        }
        let mut numbers = std::collections::HashSet::new();
        let mut mismatched = 0;
        for t in tasks {
            let (ok, n) = t.await.unwrap();
            if !ok {
                mismatched += 1;
            }
            assert!(numbers.insert(n), "issuance number handed out twice");
        }
        assert_eq!(mismatched, 0, "documents bound to another session or resident");
        let pool = d.db().await;
        let rows = sqlx::query("SELECT i.kiosk_id, i.resident_id, s.kiosk_id, s.resident_id, i.cert_fingerprint, s.cert_fingerprint FROM issuances i JOIN sessions s ON s.id = i.session_id").fetch_all(&pool).await.unwrap();
        assert_eq!(rows.len(), 100);
        for r in rows {
            assert_eq!(r.get::<String, _>(0), r.get::<String, _>(2));
            assert_eq!(r.get::<String, _>(1), r.get::<String, _>(3));
            assert_eq!(r.get::<String, _>(4), r.get::<String, _>(5));
        }
        assert!(madoguchi_backend::audit::verify(&pool).await.unwrap().ok);
        pool.close().await;
    });
}
