use super::*;
use serde_json::json;

const SID: &str = "0123456789abcdef0123456789abcdef";

fn reply<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("the reply's form")
}

#[test]
fn challenges() {
    let ok = json!({"session_id": SID, "challenge": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
                    "challenge_expires_at": "t", "signature_scheme": SIGNATURE_SCHEME});
    assert_eq!(reply::<ChallengeReply>(ok.clone()).validate(), Ok(vec![7u8; 32]));
    for (field, value) in [
        ("session_id", json!("../../etc")),
        ("challenge", json!("BwcH")),
        ("challenge", json!("***")),
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
