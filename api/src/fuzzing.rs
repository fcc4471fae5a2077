//! Entry points for the fuzz targets (`fuzz/`) over what crosses the wire between kiosk and
//! backend, also run over the committed seed corpora and regressions by unit tests, so stable
//! CI exercises them. Any outcome but a panic is fine; what is accepted must hold together.

use crate::payload::binding_of;
use crate::signed::{key_id, PublicKey, SignedBlob, ALGORITHM};
use crate::v1::*;
use crate::{verify_catalog, DocumentPayload};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde::de::DeserializeOwned;

/// A signed document's payload as the kiosk reads it before printing: the whole parse with its
/// checks, and the binding alone as the session reads it. A payload that is accepted is
/// accepted again after a round trip through its own serialisation.
pub fn document_payload(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = binding_of(text);
    if let Ok(p) = DocumentPayload::parse(text) {
        let _ = p.verify_host();
        let again = serde_json::to_string(&p).expect("an accepted payload serialises");
        let back = DocumentPayload::parse(&again).expect("an accepted payload is accepted again");
        assert_eq!(back, p);
    }
}

/// The municipal catalog as the kiosk verifies it. The input is signed here with a fixed key, so
/// the fuzzer reaches the parser behind the signature; a second, foreign key must never verify it.
pub fn signed_catalog(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let key = SigningKey::from_bytes(&[7; 32]);
    let blob = SignedBlob {
        payload: text.to_string(),
        signature: B64.encode(key.sign(text.as_bytes()).to_bytes()),
        key_id: key_id(&key.verifying_key()),
        algorithm: ALGORITHM.into(),
    };
    let ours = PublicKey(key.verifying_key());
    if let Ok(c) = verify_catalog(&ours, &blob, None) {
        // Never back to an older version than the one held.
        assert!(verify_catalog(&ours, &blob, Some(c.version.saturating_add(1))).is_err());
        for m in &c.municipalities {
            let _ = m.config.validate();
        }
    }
    let foreign = PublicKey(SigningKey::from_bytes(&[8; 32]).verifying_key());
    assert!(verify_catalog(&foreign, &blob, None).is_err(), "a foreign key verified the catalog");
}

/// A backend reply as the kiosk checks it: the first byte picks the reply, the rest is its
/// JSON. Each reply is parsed as the kiosk's client parses it, then validated.
pub fn kiosk_replies(data: &[u8]) {
    let [which, json @ ..] = data else { return };
    const SESSION: &str = "0123456789abcdef0123456789abcdef";
    fn parse<T: DeserializeOwned>(json: &[u8]) -> Option<T> {
        serde_json::from_slice(json).ok()
    }
    match which % 7 {
        0 => {
            if let Some(r) = parse::<OffersReply>(json) {
                let _ = r.validate(SESSION);
            }
        }
        1 => {
            if let Some(r) = parse::<IssuanceReply>(json) {
                if let Ok(total) = r.validate(r.copies) {
                    assert_eq!(i64::from(total), r.total_yen);
                }
            }
        }
        2 => {
            if let Some(r) = parse::<AuthenticateReply>(json) {
                let _ = r.validate(SESSION);
            }
        }
        3 => {
            if let Some(r) = parse::<ResetOpenReply>(json) {
                let _ = r.validate();
            }
        }
        4 => {
            if let Some(r) = parse::<ResetAuthenticateReply>(json) {
                let _ = r.validate(SESSION);
            }
        }
        5 => {
            if let Some(r) = parse::<ResetAuthorisationReply>(json) {
                let _ = r.validate();
            }
        }
        _ => {
            if let Some(r) = parse::<ResetOutcomeReply>(json) {
                let _ = r.validate(SESSION);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every file of a target's seed corpus and of its regressions (inputs that once crashed
    /// it, kept by `scripts/fuzz.sh`) runs through the target on stable.
    fn replay(target: &str, run: fn(&[u8])) {
        let fuzz =
            Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
                .join("../fuzz");
        let mut n = 0;
        for dir in [fuzz.join("corpus").join(target), fuzz.join("regressions").join(target)] {
            for entry in std::fs::read_dir(&dir).into_iter().flatten() {
                let path = entry.expect("entry").path();
                if path.file_name().is_some_and(|f| f.to_string_lossy().starts_with('.')) {
                    continue;
                }
                run(&std::fs::read(&path).expect("seed file"));
                n += 1;
            }
        }
        assert!(n >= 3, "{target}: only {n} seed files");
    }

    #[test]
    fn document_payload_seeds_run_clean() {
        replay("document_payload", document_payload);
    }

    #[test]
    fn signed_catalog_seeds_run_clean() {
        replay("signed_catalog", signed_catalog);
    }

    #[test]
    fn kiosk_replies_seeds_run_clean() {
        replay("kiosk_replies", kiosk_replies);
    }
}
