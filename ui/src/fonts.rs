//! Fonts embedded at build time (build.rs) and registered with slint's font collection, so that
//! no language ever depends on what fonts the kiosk's system has.
//!
//! With no CJK font installed, slint's software renderer draws Japanese as nothing, silently
//! (reference/stack.md). So the UI carries its own: IPAexGothic (Japanese; Debian
//! `fonts-ipaexfont`, required at build time), WenQuanYi Micro Hei (simplified Chinese and
//! Hangul; `fonts-wqy-microhei`) and DejaVu Sans (Latin incl. Vietnamese;
//! `fonts-dejavu-core`). The last two are embedded when present at build time (a cargo warning
//! says when one is not). Each language's text names its own face first (`Theme.font-for` in
//! ui/theme.slint); every other character falls back along the chains set here, whatever the
//! system has.

use slint::fontique_011::fontique;
use std::cell::Cell;
use std::sync::Arc;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/fonts.rs"));
}

/// Which of the fonts are embedded in this build (for diagnostics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedFonts {
    /// IPAexGothic (always).
    pub japanese: bool,
    /// WenQuanYi Micro Hei (Chinese, Korean).
    pub cjk_fallback: bool,
    /// DejaVu Sans (Latin, Vietnamese).
    pub latin: bool,
}

/// Which fonts this build carries.
pub fn embedded_fonts() -> EmbeddedFonts {
    EmbeddedFonts {
        japanese: embedded::JAPANESE.is_some(),
        cjk_fallback: embedded::CJK_FALLBACK.is_some(),
        latin: embedded::LATIN.is_some(),
    }
}

thread_local! {
    // slint's font collection belongs to the thread's slint context
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

fn register(collection: &mut fontique::Collection, data: Option<&'static [u8]>) -> Vec<fontique::FamilyId> {
    let Some(data) = data else { return Vec::new() };
    let mut ids: Vec<fontique::FamilyId> = Vec::new();
    for (id, _) in collection.register_fonts(fontique::Blob::new(Arc::new(data)), None) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// Registers the embedded fonts with this thread's slint context (once per thread) and makes
/// them the fallback for Latin, kana, kanji/hanzi and Hangul, ahead of any system font.
pub(crate) fn register_embedded_fonts() {
    if REGISTERED.with(Cell::get) {
        return;
    }
    REGISTERED.with(|r| r.set(true));
    let mut collection = slint::fontique_011::shared_collection();
    let ja = register(&mut collection, embedded::JAPANESE);
    let cjk = register(&mut collection, embedded::CJK_FALLBACK);
    let mut latin = register(&mut collection, embedded::LATIN);
    for id in register(&mut collection, embedded::LATIN_BOLD) {
        if !latin.contains(&id) {
            latin.push(id);
        }
    }

    let chain = |first: &[fontique::FamilyId], rest: &[&[fontique::FamilyId]]| -> Vec<fontique::FamilyId> {
        let mut v: Vec<fontique::FamilyId> = first.to_vec();
        for r in rest {
            v.extend(r.iter().copied().filter(|id| !first.contains(id)));
        }
        v
    };
    let script = |s: &str| {
        let b = s.as_bytes();
        fontique::Script::from_bytes([b[0], b[1], b[2], b[3]])
    };
    // Japanese text: IPAex; Chinese-only and Korean characters: WenQuanYi
    for s in ["Hira", "Kana", "Hrkt", "Jpan"] {
        collection.set_fallbacks(fontique::FallbackKey::new(script(s), None), chain(&ja, &[&cjk]).into_iter());
    }
    collection.set_fallbacks(fontique::FallbackKey::new(script("Hani"), None), chain(&ja, &[&cjk]).into_iter());
    for s in ["Hang", "Kore", "Hans", "Hant"] {
        collection.set_fallbacks(fontique::FallbackKey::new(script(s), None), chain(&cjk, &[&ja]).into_iter());
    }
    for s in ["Latn", "Zyyy", "Zinh"] {
        collection.set_fallbacks(fontique::FallbackKey::new(script(s), None), chain(&latin, &[&ja, &cjk]).into_iter());
    }
    let sans = chain(&ja, &[&latin, &cjk]);
    if !sans.is_empty() {
        for g in [fontique::GenericFamily::SansSerif, fontique::GenericFamily::SystemUi] {
            collection.set_generic_families(g, sans.iter().copied());
        }
    }
}
