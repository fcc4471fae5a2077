//! The scenario file parser under arbitrary input (`fuzz/fuzz_targets/scenario_text.rs`): it
//! must never panic, and a refusal must point at a line the file has. Scenario files come from
//! municipalities and store chains, so the parser is an outside input's first reader.

use std::path::Path;

/// Parses `data` as a scenario file; panics only on a broken invariant.
pub fn scenario_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match crate::parse(text, Path::new("fuzz.toml")) {
        Ok(s) => {
            // What a checked scenario offers its runner is total on any accepted file.
            let _ = format!("{s:?}");
            for step in &s.steps {
                let _ = format!("{:?}", step.action);
            }
        }
        Err(e) => {
            let lines = text.lines().count().max(1);
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= lines + 1, "error at line {line} of a {lines}-line file: {e}");
            }
            assert!(!e.message.trim().is_empty(), "a refusal without a message: {e:?}");
            let _ = e.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    /// The seed corpus (the shipped scenarios) and every input that once crashed the target.
    #[test]
    fn seed_corpus_and_regressions_run_clean() {
        let fuzz = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../fuzz");
        let mut n = 0;
        for dir in [fuzz.join("corpus/scenario_text"), fuzz.join("regressions/scenario_text")] {
            for entry in std::fs::read_dir(&dir).into_iter().flatten() {
                super::scenario_text(&std::fs::read(entry.expect("entry").path()).expect("seed file"));
                n += 1;
            }
        }
        assert!(n >= 10, "seed corpus has only {n} files");
    }
}
