use super::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::json;

const SID: &str = "0123456789abcdef0123456789abcdef";

fn reply<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("the reply's form")
}

fn challenge(purpose: crate::challenge::Purpose) -> Vec<u8> {
    crate::challenge::encode(purpose, "K1", &[7; 32]).unwrap()
}

#[test]
fn challenges() {
    use crate::challenge::Purpose;
    let ok = json!({"session_id": SID, "challenge": B64.encode(challenge(Purpose::Authenticate)),
                    "challenge_expires_at": "t", "signature_scheme": SIGNATURE_SCHEME});
    assert_eq!(reply::<ChallengeReply>(ok.clone()).validate(), Ok(challenge(Purpose::Authenticate)));
    for (field, value) in [
        ("session_id", json!("../../etc")),
        ("challenge", json!("BwcH")),
        ("challenge", json!("***")),
        // 32 bare random bytes (the form before the domain tag): any service's nonce.
        ("challenge", json!("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=")),
        ("challenge", json!(B64.encode(challenge(Purpose::PinReset)))),
        ("challenge", json!("A".repeat(4096))),
        ("signature_scheme", json!("RSASSA-PSS")),
    ] {
        let mut v = ok.clone();
        v[field] = value;
        assert_eq!(reply::<ChallengeReply>(v).validate(), Err(InvalidReply { field }));
    }
}

#[test]
fn issuances() {
    let document = json!({"payload": "{}", "signature": "A".repeat(86) + "==", "key_id": "0123456789abcdef",
                          "algorithm": "Ed25519"});
    let ok = json!({"issuance_number": "20261124-ABCDEFGHJK", "status": "issued", "fee_yen": 300, "copies": 2,
                    "total_yen": 600, "issued_at": "t", "document": document});
    assert_eq!(reply::<IssuanceReply>(ok.clone()).validate(2), Ok(600));
    assert_eq!(reply::<IssuanceReply>(ok.clone()).validate(1), Err(InvalidReply { field: "copies" }));
    for (field, value, wrong) in [
        ("total_yen", json!(900), "total_yen"),
        ("fee_yen", json!(-300), "fee_yen"),
        ("status", json!("maybe"), "status"),
        ("issuance_number", json!("20261124/../x"), "issuance_number"),
    ] {
        let mut v = ok.clone();
        v[field] = value;
        assert_eq!(reply::<IssuanceReply>(v).validate(2), Err(InvalidReply { field: wrong }));
    }
    let mut v = ok;
    v["document"]["key_id"] = json!("abc");
    assert_eq!(reply::<IssuanceReply>(v).validate(2), Err(InvalidReply { field: "document.key_id" }));
}

#[test]
fn reset_sessions_open() {
    use crate::challenge::Purpose;
    let ok = json!({"session_id": SID, "challenge": B64.encode(challenge(Purpose::PinReset)),
                    "challenge_expires_at": "2026-12-02T13:00:00Z", "signature_scheme": SIGNATURE_SCHEME,
                    "reservation_expires_at": "2026-12-03T09:30:00.5Z"});
    assert_eq!(reply::<ResetOpenReply>(ok.clone()).validate(), Ok(challenge(Purpose::PinReset)));
    for (field, value) in [
        ("session_id", json!("../../etc")),
        ("session_id", json!(SID.to_uppercase() + "0")),
        ("challenge", json!("BwcH")),
        ("challenge", json!("***")),
        ("challenge", json!("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=")),
        ("challenge", json!(B64.encode(challenge(Purpose::Authenticate)))),
        ("signature_scheme", json!("RSASSA-PSS")),
        ("challenge_expires_at", json!("tomorrow")),
        ("reservation_expires_at", json!("2026-12-03")),
    ] {
        let mut v = ok.clone();
        v[field] = value;
        assert_eq!(reply::<ResetOpenReply>(v).validate(), Err(InvalidReply { field }));
    }
}

#[test]
fn reset_sessions_authenticate_authorise_outcome() {
    let auth = json!({"session_id": SID, "session_expires_at": "2026-12-02T13:10:00Z"});
    assert_eq!(reply::<ResetAuthenticateReply>(auth.clone()).validate(SID), Ok(()));
    let other = "f".repeat(32);
    assert_eq!(
        reply::<ResetAuthenticateReply>(auth.clone()).validate(&other),
        Err(InvalidReply { field: "session_id" })
    );
    let mut v = auth;
    v["session_expires_at"] = json!("soon");
    assert_eq!(reply::<ResetAuthenticateReply>(v).validate(SID), Err(InvalidReply { field: "session_expires_at" }));

    let sig = [5u8; 64];
    let a = json!({"authorisation": B64.encode(sig)});
    assert_eq!(reply::<ResetAuthorisationReply>(a).validate(), Ok(sig));
    for bad in [B64.encode([5u8; 63]), B64.encode([5u8; 65]), "not base64!".to_string(), String::new()] {
        assert_eq!(
            reply::<ResetAuthorisationReply>(json!({"authorisation": bad})).validate(),
            Err(InvalidReply { field: "authorisation" })
        );
    }

    let o = json!({"session_id": SID, "reservation_state": "used"});
    assert_eq!(reply::<ResetOutcomeReply>(o.clone()).validate(SID), Ok(()));
    assert_eq!(reply::<ResetOutcomeReply>(o).validate(&other), Err(InvalidReply { field: "session_id" }));
}
