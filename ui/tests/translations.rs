//! Every `@tr()` string of ui/*.slint has a translation in every catalogue, with the same
//! placeholders; no catalogue carries strings the UI no longer uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const LANGS: [&str; 6] = ["en", "zh-Hans", "ko", "pt-BR", "es", "vi"];

/// Unescapes a C-style quoted string body.
fn unquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The quoted string starting at `s` (which begins with `"`), and the rest.
fn quoted(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix('"')?;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some((unquote(&s[..i]), &s[i + 1..])),
            _ => escaped = false,
        }
    }
    None
}

fn slint_msgids() -> BTreeSet<String> {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("ui");
    let mut ids = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "slint") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("@tr(") {
                let rest = text[i + 4..].trim_start();
                let (id, _) = quoted(rest).unwrap_or_else(|| panic!("{}: unparsed @tr at {i}", path.display()));
                ids.insert(id);
            }
        }
    }
    ids
}

/// msgid -> translations (one, or the plural forms)
fn po(lang: &str) -> BTreeMap<String, Vec<String>> {
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join(format!("translations/{lang}/LC_MESSAGES/madoguchi-ui-slint.po"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = BTreeMap::new();
    let mut id: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("msgid ") {
            id = Some(quoted(rest).unwrap().0);
        } else if let Some(rest) = line.strip_prefix("msgstr") {
            let rest = rest.trim_start_matches(|c: char| c == '[' || c == ']' || c.is_ascii_digit()).trim_start();
            let s = quoted(rest).unwrap().0;
            if let Some(id) = &id {
                out.entry(id.clone()).or_insert_with(Vec::new).push(s);
            }
        }
    }
    out.remove("");
    out
}

fn placeholders(s: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else { break };
        set.insert(rest[i..i + j + 1].to_string());
        rest = &rest[i + j + 1..];
    }
    set
}

#[test]
fn every_string_is_translated_in_every_language() {
    let ids = slint_msgids();
    assert!(ids.len() > 150, "found only {} @tr strings", ids.len());
    for lang in LANGS {
        let cat = po(lang);
        for id in &ids {
            let tr = cat.get(id).unwrap_or_else(|| panic!("{lang}: no translation for {id:?}"));
            for t in tr {
                assert!(!t.trim().is_empty() || id.trim().is_empty(), "{lang}: empty translation for {id:?}");
                assert_eq!(placeholders(t), placeholders(id), "{lang}: placeholders of {id:?} in {t:?}");
            }
        }
        let unused: Vec<&String> = cat.keys().filter(|k| !ids.contains(*k)).collect();
        assert!(unused.is_empty(), "{lang}: strings no longer used: {unused:?}");
    }
}
