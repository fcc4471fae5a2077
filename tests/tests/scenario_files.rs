//! The shipped scenarios (tests/scenarios/*.toml) against a generated demo world: every file
//! loads, its people exist with the tags it asks for, `other` is of another household, every
//! placeholder expands, and the world has what the steps name (phones, municipalities).

use madoguchi_lab::scenario::{self, StepAction, Who};
use madoguchi_tests::shared_world;
use std::path::{Path, PathBuf};

fn shipped_dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("scenarios")
}

#[test]
fn every_shipped_scenario_casts_against_the_demo_world() {
    let world = shared_world();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world.join("manifest.json")).expect("manifest")).expect("manifest json");
    let municipalities: Vec<&str> = manifest["municipalities"]
        .as_array()
        .expect("municipalities")
        .iter()
        .filter_map(|m| m["code"].as_str())
        .collect();

    let files = scenario::shipped(&shipped_dir()).expect("tests/scenarios");
    assert!(
        files.len() >= 28,
        "the kiosk issue's twelve, the PIN reset's, the phones', the household's and the hardening's: {files:?}"
    );
    for file in &files {
        let s = scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
        let cast = scenario::cast(&s, &world).unwrap_or_else(|e| panic!("{e}"));
        let name = &s.name;

        // The people are who the file says.
        if let Who::Tags(tags) = &s.resident {
            // Every tag the file asks for, and none of those it excludes (`!tag`).
            let fits = |t: &String| match t.strip_prefix('!') {
                Some(excluded) => !cast.resident.tags.iter().any(|r| r == excluded),
                None => cast.resident.tags.contains(t),
            };
            assert!(tags.iter().all(fits), "{name}: resident tags {tags:?}, cast {:?}", cast.resident.tags);
        }
        if let Some(other) = &cast.other {
            assert_ne!(other.id, cast.resident.id, "{name}");
            assert!(other.household.is_none() || other.household != cast.resident.household, "{name}: household");
        }
        if let Some(member) = &cast.member {
            assert_ne!(member.id, cast.resident.id, "{name}");
            assert!(member.household.is_some() && member.household == cast.resident.household, "{name}: household");
        }
        assert!(cast.resident.card_profile.is_absolute() && cast.resident.card_profile.is_file(), "{name}");

        // Everything the steps use exists and expands.
        let mut last_screen = String::new();
        for step in &s.steps {
            match &step.action {
                StepAction::ExpectScreen(id) => last_screen = id.clone(),
                StepAction::PlaceCard { who, token, .. } => {
                    let p = cast.person(*who).expect("person");
                    assert!(p.profile(*token).is_some_and(Path::is_file), "{name}:{}: {:?}", step.line, token);
                    assert!(cast.person(*who).is_some(), "{name}");
                }
                StepAction::Type(t) => {
                    let typed = t.expand(&cast).unwrap_or_else(|e| panic!("{name}:{}: {e}", step.line));
                    assert!(!typed.is_empty() && typed.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
                    let new_value = last_screen == "new-pin-entry" || last_screen == "new-pin-confirm";
                    if last_screen.starts_with("operator-") {
                        // the store operator's PIN or a counted amount: not the resident's PIN
                        assert_ne!(typed.as_str(), cast.resident.auth_pin.as_str(), "{name}:{}", step.line);
                    } else if t.raw() == "{pin}" {
                        assert_eq!(typed.len(), 4, "{name}: a 4-digit PIN");
                    } else if new_value {
                        // A new PIN or password the scenario chose: never one the world has.
                        let p = &cast.resident;
                        assert_ne!(typed.as_str(), p.auth_pin.as_str(), "{name}:{}", step.line);
                        assert!(p.sign_password.as_deref().is_none_or(|w| w.as_str() != typed.as_str()), "{name}");
                    } else if t.raw().chars().all(|c| c.is_ascii_digit()) && typed.len() == 4 {
                        // A "surely wrong" PIN (generated PINs never begin with 0 or 9), or the
                        // new PIN the scenario set and expects on the card.
                        let new_pin = s.expect.pin.as_ref().is_some_and(|p| p.value.raw() == t.raw());
                        let surely_wrong = typed.starts_with('0') || typed.starts_with('9');
                        assert!(surely_wrong || new_pin, "{name}:{}", step.line);
                        assert_ne!(typed.as_str(), cast.resident.auth_pin.as_str(), "{name}:{}", step.line);
                    }
                }
                StepAction::ExpectText(t) => {
                    t.expand(&cast).unwrap_or_else(|e| panic!("{name}:{}: {e}", step.line));
                }
                StepAction::Touch(action) => {
                    let action = action.expand(&cast).unwrap_or_else(|e| panic!("{name}:{}: {e}", step.line));
                    if let Some(code) = action.strip_prefix("municipality:") {
                        assert!(municipalities.contains(&code), "{name}:{}: no municipality {code}", step.line);
                    }
                }
                _ => {}
            }
        }
        // A PIN reset is reserved only for someone the backend would reserve it for.
        let reserves = s.steps.iter().any(|st| matches!(st.action, StepAction::ReservePinReset { .. }));
        if reserves {
            let p = &cast.resident;
            assert!(p.sign_password.is_some(), "{name}: a reset needs both credentials on the card");
            assert!(!p.tags.iter().any(|t| t == "sign-revoked" || t == "under-15"), "{name}");
        }
        // The card checked at the end: placeholders expand, a new value is not the old one.
        for (secret, old) in [
            (&s.expect.pin, Some(cast.resident.auth_pin.as_str())),
            (&s.expect.password, cast.resident.sign_password.as_deref().map(|p| p.as_str())),
        ] {
            let Some(secret) = secret else { continue };
            let value = secret.value.expand(&cast).unwrap_or_else(|e| panic!("{name}:{}: {e}", secret.line));
            if !secret.value.raw().starts_with('{') {
                assert_ne!(Some(value.as_str()), old, "{name}:{}: a new value, not the old one", secret.line);
            }
        }
        for p in s.expect.printed.iter().flatten() {
            for t in p.contains.iter().chain(&p.not_contains) {
                let text = t.expand(&cast).unwrap_or_else(|e| panic!("{name}:{}: {e}", p.line));
                assert!(!text.trim().is_empty(), "{name}");
            }
        }
        // No Debug output of the cast shows a PIN or a name.
        let shown = format!("{cast:?}");
        assert!(!shown.contains("auth_pin") && !shown.contains("password"), "{name}: {shown}");
        assert!(!shown.contains(&cast.resident.name), "{name}");
    }
}

/// The 本籍地 scenario picks a resident whose 本籍 is where its touch says and who lives elsewhere.
#[test]
fn the_koseki_scenario_asks_the_municipality_of_the_resident_s_honseki() {
    let world = shared_world();
    let s = scenario::load(&shipped_dir().join("koseki-other-municipality.toml")).expect("load");
    let cast = scenario::cast(&s, &world).expect("cast");
    let registry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world.join("registry.json")).expect("registry")).expect("registry json");
    let me = registry["residents"]
        .as_array()
        .expect("residents")
        .iter()
        .find(|r| r["id"] == cast.resident.id.as_str())
        .expect("the resident in the registry");
    let honseki = me["honseki"]["municipality"].as_str().expect("本籍");
    let residence = me["residence"]["municipality"].as_str().expect("residence");
    assert_ne!(honseki, residence);
    let touched = s.steps.iter().find_map(|st| match &st.action {
        StepAction::Touch(a) => a.raw().strip_prefix("municipality:").map(str::to_string),
        _ => None,
    });
    assert_eq!(touched.as_deref(), Some(honseki));
}
