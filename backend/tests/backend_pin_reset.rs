//! PIN reset at the kiosk (reference/jpki.md, "PIN reset at the kiosk: our protocol (v1)")
//! against a real `madoguchi-backend serve` process: reservations (administrator API and CLI),
//! the kiosk's reset session for both credentials with the world's RSA cards, the authorisation
//! checked with the card's own check, every refusal, single use, expiry, and the audit.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use madoguchi_api::pin_reset::authorisation_valid;
use madoguchi_api::ResetCredential;
use serde_json::{json, Value};
use sqlx::Row;
use std::path::Path;

/// A card-management key of the test's own, written where the service reads it.
fn install_key(d: &Deployment) -> [u8; 32] {
    let key = ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]);
    let pem = key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).unwrap();
    std::fs::write(d.path("keys/card-management-key.pem"), pem.as_bytes()).unwrap();
    key.verifying_key().to_bytes()
}

fn code(r: &madoguchi_api::client::Reply) -> String {
    r.code().unwrap_or_else(|| format!("status {} {:?}", r.status, String::from_utf8_lossy(&r.body)))
}

/// The reset calls as a kiosk (or administrator) makes them, each reply checked against the
/// OpenAPI document.
trait Reset {
    async fn reserve(&mut self, body: Value) -> madoguchi_api::client::Reply;
    async fn open(&mut self, credential: ResetCredential, auth_cert: &[u8]) -> madoguchi_api::client::Reply;
    async fn answer(&mut self, sid: &str, cert: &[u8], sig: &[u8]) -> madoguchi_api::client::Reply;
    async fn authorisation(&mut self, sid: &str, challenge: &[u8]) -> madoguchi_api::client::Reply;
    async fn report(&mut self, sid: &str, outcome: &str) -> madoguchi_api::client::Reply;
}

impl Reset for Kiosk {
    async fn reserve(&mut self, body: Value) -> madoguchi_api::client::Reply {
        self.call("POST", "/v1/pin-reset/reservations", "/v1/pin-reset/reservations", Some(body)).await
    }
    async fn open(&mut self, credential: ResetCredential, auth_cert: &[u8]) -> madoguchi_api::client::Reply {
        let body = json!({"credential": credential.id(), "auth_certificate": B64.encode(auth_cert)});
        self.call("POST", "/v1/pin-reset/sessions", "/v1/pin-reset/sessions", Some(body)).await
    }
    async fn answer(&mut self, sid: &str, cert: &[u8], sig: &[u8]) -> madoguchi_api::client::Reply {
        let body = json!({"certificate": B64.encode(cert), "signature": B64.encode(sig)});
        let path = format!("/v1/pin-reset/sessions/{}/authenticate", enc(sid));
        self.call("POST", &path, "/v1/pin-reset/sessions/{session_id}/authenticate", Some(body)).await
    }
    async fn authorisation(&mut self, sid: &str, challenge: &[u8]) -> madoguchi_api::client::Reply {
        let body = json!({"card_challenge": B64.encode(challenge)});
        let path = format!("/v1/pin-reset/sessions/{}/authorisation", enc(sid));
        self.call("POST", &path, "/v1/pin-reset/sessions/{session_id}/authorisation", Some(body)).await
    }
    async fn report(&mut self, sid: &str, outcome: &str) -> madoguchi_api::client::Reply {
        let body = json!({"outcome": outcome, "detail": "sw-9000"});
        let path = format!("/v1/pin-reset/sessions/{}/outcome", enc(sid));
        self.call("POST", &path, "/v1/pin-reset/sessions/{session_id}/outcome", Some(body)).await
    }
}

/// Opens a reset session and checks the reply as the kiosk will; returns (session, challenge).
async fn open_ok(k: &mut Kiosk, credential: ResetCredential, auth_cert: &[u8]) -> (String, Vec<u8>) {
    let r = k.open(credential, auth_cert).await;
    assert_eq!(r.status, 201, "open: {:?}", r.json());
    let reply: madoguchi_api::v1::ResetOpenReply = serde_json::from_value(r.json()).unwrap();
    let challenge = reply.validate().expect("the kiosk's checks");
    (reply.session_id, challenge)
}

/// The whole reset as the kiosk drives it; returns the session.
async fn reset_ok(k: &mut Kiosk, public: &[u8; 32], credential: ResetCredential, auth: &Card, prover: &Card) -> String {
    let (sid, ch) = open_ok(k, credential, &auth.cert).await;
    let r = k.answer(&sid, &prover.cert, &prover.sign(&ch)).await;
    assert_eq!(r.status, 200, "authenticate: {:?}", r.json());
    let reply: madoguchi_api::v1::ResetAuthenticateReply = serde_json::from_value(r.json()).unwrap();
    reply.validate(&sid).unwrap();
    let card_challenge = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    let r = k.authorisation(&sid, &card_challenge).await;
    assert_eq!(r.status, 200, "authorisation: {:?}", r.json());
    let reply: madoguchi_api::v1::ResetAuthorisationReply = serde_json::from_value(r.json()).unwrap();
    let authorisation = reply.validate().unwrap();
    assert!(
        authorisation_valid(public, credential, &card_challenge, &auth.cert, &authorisation),
        "the card accepts the authorisation"
    );
    let other = credential.proven_by();
    assert!(!authorisation_valid(public, other, &card_challenge, &auth.cert, &authorisation), "bound to the target");
    assert!(!authorisation_valid(public, credential, &[0; 8], &auth.cert, &authorisation), "bound to the challenge");
    let r = k.report(&sid, "reset").await;
    assert_eq!(r.status, 200, "outcome: {:?}", r.json());
    assert_eq!(r.json()["reservation_state"], json!("used"));
    let reply: madoguchi_api::v1::ResetOutcomeReply = serde_json::from_value(r.json()).unwrap();
    reply.validate(&sid).unwrap();
    sid
}

#[test]
fn reservations_resets_refusals_single_use_expiry_and_audit() {
    let d = Deployment::new(None, "");
    let _ = std::fs::remove_file(d.path("keys/card-management-key.pem"));
    let kdir = d.enroll_kiosk("K001", "セブン清瀬中里店");
    let k2dir = d.enroll_kiosk("K002", "ローソン所沢店");
    let kiyose = d.enroll_admin("kiyose", KIYOSE);
    let tokorozawa = d.enroll_admin("tokorozawa", TOKOROZAWA);
    let rt = rt();

    // Without a card-management key resets are off, and say so before any password is tried.
    {
        let server = d.start();
        rt.block_on(async {
            let mut k = Kiosk::new(&server, &kdir);
            let r = k.open(ResetCredential::SignPassword, &card("R0001").cert).await;
            assert_eq!((r.status, code(&r).as_str()), (503, "reset_unavailable"));
        });
    }
    let public = install_key(&d);
    let server = d.start();
    rt.block_on(async {
        let mut k = Kiosk::new(&server, &kdir);
        let mut k2 = Kiosk::new(&server, &k2dir);
        let mut admin = Kiosk::new(&server, &kiyose);
        let mut admin2 = Kiosk::new(&server, &tokorozawa);
        let r0001 = card("R0001");
        let r0001_sign = sign_card("R0001").unwrap();
        let r0013 = card("R0013");
        let r0013_sign = sign_card("R0013").unwrap();

        // ---- reservations through the administrator API
        // Not reserved yet.
        let r = k.open(ResetCredential::SignPassword, &r0001.cert).await;
        assert_eq!(code(&r), "reset_not_reserved");
        // A kiosk may not reserve; an administrator only in its own municipality.
        let r = k.reserve(json!({"resident": "R0001", "credential": "sign-password"})).await;
        assert_eq!(code(&r), "forbidden");
        let r = admin2.reserve(json!({"resident": "R0001", "credential": "sign-password"})).await;
        assert_eq!(code(&r), "wrong_municipality");
        let r = admin.reserve(json!({"resident": "R0001", "credential": "sign-password", "pin": "1234"})).await;
        assert_eq!((code(&r).as_str(), r.json()["field"].clone()), ("unknown_field", json!("pin")));
        let r = admin.reserve(json!({"credential": "sign-password"})).await;
        assert_eq!(code(&r), "invalid_field");
        let first = admin.reserve(json!({"resident": "R0001", "credential": "sign-password"})).await;
        assert_eq!(first.status, 201, "{:?}", first.json());
        let first = first.json();
        assert_eq!(first["state"], json!("live"));
        assert_eq!(first["card_fingerprint"], json!(r0001.fingerprint()));
        // By the signature certificate's fingerprint: the same card; it replaces the first.
        let second = admin
            .reserve(json!({"certificate_fingerprint": r0001_sign.fingerprint(), "credential": "sign-password"}))
            .await;
        assert_eq!(second.status, 201, "{:?}", second.json());
        let second = second.json();
        assert_eq!(second["card_fingerprint"], json!(r0001.fingerprint()));
        let list = admin
            .call("GET", "/v1/pin-reset/reservations?resident=R0001", "/v1/pin-reset/reservations", None)
            .await
            .json();
        let states: Vec<(Value, Value)> =
            list["reservations"].as_array().unwrap().iter().map(|r| (r["id"].clone(), r["state"].clone())).collect();
        assert_eq!(states, vec![(second["id"].clone(), json!("live")), (first["id"].clone(), json!("cancelled"))]);
        // The other municipality sees none of them.
        let other = admin2.call("GET", "/v1/pin-reset/reservations", "/v1/pin-reset/reservations", None).await.json();
        assert!(other["reservations"].as_array().unwrap().iter().all(|r| r["resident"] != json!("R0001")));

        // Refused reservations: no signature certificate (under 15), a revoked one (moved), a
        // phone's certificate, an unknown certificate.
        let r = admin.reserve(json!({"resident": "R0003", "credential": "auth-pin"})).await;
        assert_eq!(code(&r), "reset_no_signature_certificate");
        let r = admin2.reserve(json!({"resident": "R0010", "credential": "sign-password"})).await;
        assert_eq!(code(&r), "reset_signature_revoked");
        let phone = card("R0001-android");
        let r = admin.reserve(json!({"certificate_fingerprint": phone.fingerprint(), "credential": "auth-pin"})).await;
        assert_eq!(code(&r), "reset_phone_token");
        let r = admin.reserve(json!({"certificate_fingerprint": "ab".repeat(32), "credential": "auth-pin"})).await;
        assert_eq!(code(&r), "certificate_unlinked");
        let r = admin
            .reserve(json!({"resident": "R0001", "credential": "auth-pin", "reserved_at": "2999-01-01T00:00:00Z"}))
            .await;
        assert_eq!((code(&r).as_str(), r.json()["field"].clone()), ("invalid_field", json!("reserved_at")));

        // ---- signature-password reset of R0001, proven with the auth PIN's key
        let sid = reset_ok(&mut k, &public, ResetCredential::SignPassword, &r0001, &r0001).await;
        // Single use: the reservation is used up.
        let r = k.open(ResetCredential::SignPassword, &r0001.cert).await;
        assert_eq!(code(&r), "reset_not_reserved");
        let r = k.report(&sid, "not_reset").await;
        assert_eq!(code(&r), "outcome_already_recorded");
        let r = admin
            .call(
                "DELETE",
                &format!("/v1/pin-reset/reservations/{}", second["id"].as_str().unwrap()),
                "/v1/pin-reset/reservations/{reservation_id}",
                None,
            )
            .await;
        assert_eq!(code(&r), "reservation_closed");

        // ---- auth-PIN reset of R0013 (所沢市), proven with the signature key
        let r = admin2.reserve(json!({"resident": "R0013", "credential": "auth-pin"})).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        // The other credential is not reserved.
        let r = k.open(ResetCredential::SignPassword, &r0013.cert).await;
        assert_eq!(code(&r), "reset_not_reserved");
        // Refusals at authentication, each on a fresh session (the challenge is single-use).
        let (sid, ch) = open_ok(&mut k, ResetCredential::AuthPin, &r0013.cert).await;
        let r = k.answer(&sid, &r0013.cert, &r0013.sign(&ch)).await;
        assert_eq!(code(&r), "certificate_wrong_profile", "an auth-PIN reset is proven with the signature key");
        let (sid, ch) = open_ok(&mut k, ResetCredential::AuthPin, &r0013.cert).await;
        let r = k.answer(&sid, &r0001_sign.cert, &r0001_sign.sign(&ch)).await;
        assert_eq!(code(&r), "reset_certificate_mismatch", "another card's signature certificate");
        let (sid, ch) = open_ok(&mut k, ResetCredential::AuthPin, &r0013.cert).await;
        let r = k.answer(&sid, &r0013_sign.cert, &r0013_sign.sign(b"something else")).await;
        assert_eq!(code(&r), "signature_invalid");
        let r = k2.answer(&sid, &r0013_sign.cert, &r0013_sign.sign(&ch)).await;
        assert_eq!(code(&r), "session_kiosk_mismatch");
        // Authorisations only after authentication.
        let (sid, ch) = open_ok(&mut k, ResetCredential::AuthPin, &r0013.cert).await;
        let r = k.authorisation(&sid, &[1; 8]).await;
        assert_eq!(code(&r), "not_authenticated");
        let r = k.report(&sid, "reset").await;
        assert_eq!(code(&r), "not_authenticated");
        let r = k.answer(&sid, &r0013_sign.cert, &r0013_sign.sign(&ch)).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        // A replayed answer.
        let r = k.answer(&sid, &r0013_sign.cert, &r0013_sign.sign(&ch)).await;
        assert_eq!(code(&r), "challenge_used");
        let r = k.authorisation(&sid, &[1; 7]).await;
        assert_eq!((code(&r).as_str(), r.json()["field"].clone()), ("invalid_field", json!("card_challenge")));
        let r = k2.authorisation(&sid, &[1; 8]).await;
        assert_eq!(code(&r), "session_kiosk_mismatch");
        for i in 0..3u8 {
            let ch = [i; 8];
            let r = k.authorisation(&sid, &ch).await;
            assert_eq!(r.status, 200, "{:?}", r.json());
            let a = B64.decode(r.json()["authorisation"].as_str().unwrap()).unwrap();
            assert!(authorisation_valid(&public, ResetCredential::AuthPin, &ch, &r0013.cert, &a));
            assert!(!authorisation_valid(&public, ResetCredential::AuthPin, &ch, &r0001.cert, &a), "bound to the card");
        }
        let r = k.authorisation(&sid, &[9; 8]).await;
        assert_eq!(code(&r), "reset_too_many_authorisations");
        // The card refused (say, the resident pulled it): the reservation stays.
        let r = k.report(&sid, "not_reset").await;
        assert_eq!(r.json()["reservation_state"], json!("live"));
        let r = k.authorisation(&sid, &[1; 8]).await;
        assert_eq!(code(&r), "session_expired", "a closed session gives nothing more");
        // An expired challenge and an expired session (the clock moved on in the database).
        let db = d.db().await;
        let (sid, ch) = open_ok(&mut k, ResetCredential::AuthPin, &r0013.cert).await;
        sqlx::query("UPDATE reset_sessions SET challenge_expires_at = 0 WHERE id = $1")
            .bind(sid.clone())
            .execute(&db)
            .await
            .unwrap();
        let r = k.answer(&sid, &r0013_sign.cert, &r0013_sign.sign(&ch)).await;
        assert_eq!(code(&r), "challenge_expired");
        let (sid, ch) = open_ok(&mut k, ResetCredential::AuthPin, &r0013.cert).await;
        let r = k.answer(&sid, &r0013_sign.cert, &r0013_sign.sign(&ch)).await;
        assert_eq!(r.status, 200);
        sqlx::query("UPDATE reset_sessions SET expires_at = 0 WHERE id = $1")
            .bind(sid.clone())
            .execute(&db)
            .await
            .unwrap();
        let r = k.authorisation(&sid, &[1; 8]).await;
        assert_eq!(code(&r), "session_expired");
        // The signature certificate revoked after the session was opened (on the imported CRL).
        let (sid, ch) = open_ok(&mut k, ResetCredential::AuthPin, &r0013.cert).await;
        let row = sqlx::query("SELECT issuer, serial FROM card_certificates WHERE fingerprint = $1")
            .bind(r0013_sign.fingerprint())
            .fetch_one(&db)
            .await
            .unwrap();
        let (issuer, serial): (String, String) = (row.get(0), row.get(1));
        sqlx::query("INSERT INTO jpki_revocations (issuer, serial, since, hold) VALUES ($1, $2, 0, 0)")
            .bind(issuer.clone())
            .bind(serial.clone())
            .execute(&db)
            .await
            .unwrap();
        let r = k.answer(&sid, &r0013_sign.cert, &r0013_sign.sign(&ch)).await;
        assert_eq!(code(&r), "reset_signature_revoked");
        let r = k.open(ResetCredential::AuthPin, &r0013.cert).await;
        assert_eq!(code(&r), "reset_signature_revoked", "and so at the next open");
        sqlx::query("DELETE FROM jpki_revocations WHERE issuer = $1 AND serial = $2")
            .bind(issuer)
            .bind(serial)
            .execute(&db)
            .await
            .unwrap();
        // Now the whole reset.
        reset_ok(&mut k, &public, ResetCredential::AuthPin, &r0013, &r0013_sign).await;
        let r = k.open(ResetCredential::AuthPin, &r0013.cert).await;
        assert_eq!(code(&r), "reset_not_reserved", "single use");

        // ---- refusals at open that need no reservation
        let r = k.open(ResetCredential::AuthPin, &card("R0003").cert).await;
        assert_eq!(code(&r), "reset_no_signature_certificate");
        let r = k.open(ResetCredential::SignPassword, &card("R0010").cert).await;
        assert_eq!(code(&r), "reset_signature_revoked");
        let r = k.open(ResetCredential::AuthPin, &card("R0005").cert).await;
        assert_eq!(code(&r), "certificate_expired");
        let r = k.open(ResetCredential::AuthPin, &card("R0001-android").cert).await;
        assert_eq!(code(&r), "reset_phone_token");
        let r = k.open(ResetCredential::AuthPin, &r0001_sign.cert).await;
        assert_eq!(code(&r), "certificate_wrong_profile");
        let r = admin.open(ResetCredential::AuthPin, &r0001.cert).await;
        assert_eq!(code(&r), "forbidden", "an administrator is not a kiosk");

        // ---- expiry: reserved 25 hours ago (the reservation lasts 24)
        let reserved_at = time::OffsetDateTime::now_utc() - time::Duration::hours(25);
        let at = reserved_at.format(&time::format_description::well_known::Rfc3339).unwrap();
        let r = admin.reserve(json!({"resident": "R0001", "credential": "auth-pin", "reserved_at": at})).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        assert_eq!(r.json()["state"], json!("expired"));
        let r = k.open(ResetCredential::AuthPin, &r0001.cert).await;
        assert_eq!((r.status, code(&r).as_str()), (410, "reset_reservation_expired"));

        // ---- cancel
        let r = admin.reserve(json!({"resident": "R0001", "credential": "auth-pin"})).await;
        let id = r.json()["id"].as_str().unwrap().to_string();
        let path = format!("/v1/pin-reset/reservations/{id}");
        let r = admin2.call("DELETE", &path, "/v1/pin-reset/reservations/{reservation_id}", None).await;
        assert_eq!(code(&r), "reservation_not_found", "another municipality's");
        let r = admin.call("DELETE", &path, "/v1/pin-reset/reservations/{reservation_id}", None).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        assert_eq!(r.json()["state"], json!("cancelled"));
        let r = admin.call("DELETE", &path, "/v1/pin-reset/reservations/{reservation_id}", None).await;
        assert_eq!(code(&r), "reservation_closed");
        let r = k.open(ResetCredential::AuthPin, &r0001.cert).await;
        assert_eq!(code(&r), "reset_not_reserved");
        let r = admin
            .call("DELETE", "/v1/pin-reset/reservations/nope", "/v1/pin-reset/reservations/{reservation_id}", None)
            .await;
        assert_eq!(code(&r), "reservation_not_found");

        // ---- the audit: every step, and no secret
        let rows =
            sqlx::query("SELECT action, subject, detail FROM audit_log ORDER BY seq").fetch_all(&db).await.unwrap();
        let actions: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        for a in [
            "pin_reset.reserved",
            "pin_reset.session_opened",
            "pin_reset.authenticated",
            "pin_reset.authorised",
            "pin_reset.reset",
            "pin_reset.not_reset",
            "pin_reset.cancelled",
            "pin_reset.reservation_expired",
        ] {
            assert!(actions.iter().any(|x| x == a), "{a} audited");
        }
        let refused: Vec<String> = rows
            .iter()
            .filter(|r| r.get::<String, _>(0) == "request.rejected")
            .map(|r| r.get::<String, _>(2))
            .collect();
        for c in
            ["reset_phone_token", "reset_signature_revoked", "reset_no_signature_certificate", "reset_not_reserved"]
        {
            assert!(refused.iter().any(|x| x.contains(c)), "refusal {c} audited");
        }
        let all: String = rows
            .iter()
            .map(|r| format!("{} {} {}\n", r.get::<String, _>(0), r.get::<String, _>(1), r.get::<String, _>(2)))
            .collect();
        assert_no_secrets(&all, &["R0001", "R0013"]);
    });
    drop(server);
    let out = cli_ok(&d.config, &["audit", "verify"]);
    assert!(out.contains("\"ok\": true"), "{out}");
}

/// No PIN or password of these cards and nothing of the card-management key's private half.
fn assert_no_secrets(text: &str, cards: &[&str]) {
    for c in cards {
        for s in secrets_of(c) {
            // A 4-digit PIN can occur inside a hex fingerprint: look for it as a value.
            assert!(!text.contains(&format!("\"{s}\"")), "a PIN or password of {c} in the audit");
            if s.len() > 4 {
                assert!(!text.contains(&s), "the password of {c} in the audit");
            }
        }
    }
    assert!(!text.contains(&hex::encode([0x5a; 32])), "the card-management key in the audit");
    assert!(!text.contains("PRIVATE KEY"), "a private key in the audit");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn cli_reserves_lists_cancels_and_load_world_installs_the_key() {
    let d = Deployment::new(None, "");
    // load-world takes the world's card-management key into the key directory (mode 0600).
    let world = d.path("world");
    copy_dir(common::world(), &world);
    let key = ed25519_dalek::SigningKey::from_bytes(&[0x6b; 32]);
    std::fs::create_dir_all(world.join("pki")).unwrap();
    let pem = key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).unwrap();
    std::fs::write(world.join("pki/card-management-key.pem"), pem.as_bytes()).unwrap();
    let out = cli(&d.config, &["load-world", world.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&hex::encode(key.verifying_key().to_bytes())), "{stderr}");
    assert!(!stderr.contains("PRIVATE KEY") && !String::from_utf8_lossy(&out.stdout).contains("PRIVATE KEY"));
    let installed = d.path("keys/card-management-key.pem");
    assert_eq!(std::fs::read(&installed).unwrap(), pem.as_bytes());
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // reserve / list / cancel on the database directly.
    let line = cli_ok(&d.config, &["pin-reset", "reserve", "--resident", "R0001", "--credential", "auth-pin"]);
    assert!(line.starts_with("reservation "), "{line}");
    assert!(
        line.contains("resident R0001") && line.contains("credential auth-pin") && line.contains("state live"),
        "{line}"
    );
    let id = line.split_whitespace().nth(1).unwrap().to_string();
    assert!(line.contains("expires_at "), "{line}");
    let json_line = cli_ok(
        &d.config,
        &[
            "pin-reset",
            "reserve",
            "--certificate",
            &card("R0013").fingerprint(),
            "--credential",
            "sign-password",
            "--json",
        ],
    );
    let r: madoguchi_api::v1::Reservation = serde_json::from_str(json_line.trim()).unwrap();
    assert_eq!(r.resident, "R0013");
    assert_eq!(r.credential, ResetCredential::SignPassword);
    let expired = cli_ok(
        &d.config,
        &["pin-reset", "reserve", "--resident", "R0004", "--credential", "auth-pin", "--hours-ago", "25", "--json"],
    );
    let expired: madoguchi_api::v1::Reservation = serde_json::from_str(expired.trim()).unwrap();
    assert_eq!(expired.state, madoguchi_api::v1::ReservationState::Expired);

    let list = cli_ok(&d.config, &["pin-reset", "list", "--resident", "R0001"]);
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains(&id));
    let all: madoguchi_api::v1::ReservationList =
        serde_json::from_str(&cli_ok(&d.config, &["pin-reset", "list", "--json"])).unwrap();
    assert_eq!(all.reservations.len(), 3);

    let cancelled = cli_ok(&d.config, &["pin-reset", "cancel", &id]);
    assert!(cancelled.contains("state cancelled"), "{cancelled}");
    let again = cli(&d.config, &["pin-reset", "cancel", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("reservation_closed"));
    // Refusals name their code, and are audited.
    let refused = cli(&d.config, &["pin-reset", "reserve", "--resident", "R0003", "--credential", "auth-pin"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("reset_no_signature_certificate"));
    let phone = cli(
        &d.config,
        &["pin-reset", "reserve", "--certificate", &card("R0002-iphone").fingerprint(), "--credential", "auth-pin"],
    );
    assert!(String::from_utf8_lossy(&phone.stderr).contains("reset_phone_token"));
    let bad = cli(&d.config, &["pin-reset", "reserve", "--resident", "R0001", "--credential", "pin"]);
    assert_eq!(bad.status.code(), Some(2), "clap refuses an unknown credential");

    // The service uses the installed key: a reset session opens (R0013 is reserved).
    let server = d.start();
    let kdir = d.enroll_kiosk("K001", "store");
    let rt = rt();
    rt.block_on(async {
        let mut k = Kiosk::new(&server, &kdir);
        let r0013 = card("R0013");
        let (sid, ch) = open_ok(&mut k, ResetCredential::SignPassword, &r0013.cert).await;
        let r = k.answer(&sid, &r0013.cert, &r0013.sign(&ch)).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        let r = k.authorisation(&sid, &[3; 8]).await;
        let a = B64.decode(r.json()["authorisation"].as_str().unwrap()).unwrap();
        assert!(authorisation_valid(
            &key.verifying_key().to_bytes(),
            ResetCredential::SignPassword,
            &[3; 8],
            &r0013.cert,
            &a
        ));
        let r = k.open(ResetCredential::AuthPin, &card("R0004").cert).await;
        assert_eq!(code(&r), "reset_reservation_expired");
        let db = d.db().await;
        let rows = sqlx::query("SELECT action, detail FROM audit_log WHERE action LIKE 'pin_reset.%' ORDER BY seq")
            .fetch_all(&db)
            .await
            .unwrap();
        let actions: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        for a in ["pin_reset.key_installed", "pin_reset.reserved", "pin_reset.cancelled", "pin_reset.refused"] {
            assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
        }
    });
}
