//! The fuzz target's entry point for the request bodies the backend reads (`fuzz/`), also run
//! over the committed seed corpus and regressions by a unit test, so stable CI exercises it.

use crate::server::parse_json;
use madoguchi_api::v1::*;
use madoguchi_api::ErrorCode;
use serde::de::DeserializeOwned;

/// One request body as the server reads it: the first byte picks the request, the rest is its
/// body. Refusals carry one of the request-shape codes, and what they quote of the request is
/// bounded and free of control characters.
pub fn request_bodies(data: &[u8]) {
    let [which, body @ ..] = data else { return };
    fn read<T: DeserializeOwned>(body: &[u8]) {
        if let Err(e) = parse_json::<T>(body) {
            assert!(
                matches!(e.code, ErrorCode::MalformedJson | ErrorCode::UnknownField | ErrorCode::InvalidField),
                "{:?}",
                e.code
            );
            // What the reply and the audit quote of the request is bounded and printable.
            for quoted in e.field.iter().chain(std::iter::once(&e.message)) {
                assert!(!quoted.chars().any(char::is_control), "a control character in {quoted:?}");
                assert!(quoted.chars().count() <= 400, "{} characters quoted", quoted.chars().count());
            }
        }
    }
    match which % 8 {
        0 => read::<AuthenticateRequest>(body),
        1 => read::<IssuanceRequest>(body),
        2 => read::<OutcomeRequest>(body),
        3 => read::<ReservationRequest>(body),
        4 => read::<ResetOpenRequest>(body),
        5 => read::<ResetAuthenticateRequest>(body),
        6 => read::<ResetAuthorisationRequest>(body),
        _ => read::<ResetOutcomeRequest>(body),
    }
}

#[cfg(test)]
mod tests {
    /// The seed corpus, and every input that once crashed the target (`fuzz/regressions`).
    #[test]
    fn request_body_seeds_run_clean() {
        let fuzz = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../fuzz");
        let mut n = 0;
        for dir in [fuzz.join("corpus/request_bodies"), fuzz.join("regressions/request_bodies")] {
            for entry in std::fs::read_dir(&dir).into_iter().flatten() {
                super::request_bodies(&std::fs::read(entry.expect("entry").path()).expect("seed file"));
                n += 1;
            }
        }
        assert!(n >= 3, "seed corpus has only {n} files");
    }
}
