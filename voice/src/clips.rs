//! The shipped prompts, compiled in from `voice/prompts/<language>/<prompt>.wav` (made by
//! `scripts/voice-prompts.sh`; see `voice/prompts/README.md` for their licence). A missing file
//! fails the build; the tests check that every one is a non-silent 16 kHz mono clip.

use crate::wav::{self, Clip, WavError};
use crate::Prompt;
use madoguchi_session::view_model::Language;

/// (language code, prompt id, WAV bytes) for every language of the UI and every prompt.
pub static FILES: [(&str, &str, &[u8]); 56] = [
    ("ja", "place-card", include_bytes!("../prompts/ja/place-card.wav")),
    ("ja", "enter-pin", include_bytes!("../prompts/ja/enter-pin.wav")),
    ("ja", "remove-card", include_bytes!("../prompts/ja/remove-card.wav")),
    ("ja", "insert-money", include_bytes!("../prompts/ja/insert-money.wav")),
    ("ja", "take-documents", include_bytes!("../prompts/ja/take-documents.wav")),
    ("ja", "take-documents-change", include_bytes!("../prompts/ja/take-documents-change.wav")),
    ("ja", "take-card", include_bytes!("../prompts/ja/take-card.wav")),
    ("ja", "take-refund", include_bytes!("../prompts/ja/take-refund.wav")),
    ("en", "place-card", include_bytes!("../prompts/en/place-card.wav")),
    ("en", "enter-pin", include_bytes!("../prompts/en/enter-pin.wav")),
    ("en", "remove-card", include_bytes!("../prompts/en/remove-card.wav")),
    ("en", "insert-money", include_bytes!("../prompts/en/insert-money.wav")),
    ("en", "take-documents", include_bytes!("../prompts/en/take-documents.wav")),
    ("en", "take-documents-change", include_bytes!("../prompts/en/take-documents-change.wav")),
    ("en", "take-card", include_bytes!("../prompts/en/take-card.wav")),
    ("en", "take-refund", include_bytes!("../prompts/en/take-refund.wav")),
    ("zh-Hans", "place-card", include_bytes!("../prompts/zh-Hans/place-card.wav")),
    ("zh-Hans", "enter-pin", include_bytes!("../prompts/zh-Hans/enter-pin.wav")),
    ("zh-Hans", "remove-card", include_bytes!("../prompts/zh-Hans/remove-card.wav")),
    ("zh-Hans", "insert-money", include_bytes!("../prompts/zh-Hans/insert-money.wav")),
    ("zh-Hans", "take-documents", include_bytes!("../prompts/zh-Hans/take-documents.wav")),
    ("zh-Hans", "take-documents-change", include_bytes!("../prompts/zh-Hans/take-documents-change.wav")),
    ("zh-Hans", "take-card", include_bytes!("../prompts/zh-Hans/take-card.wav")),
    ("zh-Hans", "take-refund", include_bytes!("../prompts/zh-Hans/take-refund.wav")),
    ("ko", "place-card", include_bytes!("../prompts/ko/place-card.wav")),
    ("ko", "enter-pin", include_bytes!("../prompts/ko/enter-pin.wav")),
    ("ko", "remove-card", include_bytes!("../prompts/ko/remove-card.wav")),
    ("ko", "insert-money", include_bytes!("../prompts/ko/insert-money.wav")),
    ("ko", "take-documents", include_bytes!("../prompts/ko/take-documents.wav")),
    ("ko", "take-documents-change", include_bytes!("../prompts/ko/take-documents-change.wav")),
    ("ko", "take-card", include_bytes!("../prompts/ko/take-card.wav")),
    ("ko", "take-refund", include_bytes!("../prompts/ko/take-refund.wav")),
    ("pt-BR", "place-card", include_bytes!("../prompts/pt-BR/place-card.wav")),
    ("pt-BR", "enter-pin", include_bytes!("../prompts/pt-BR/enter-pin.wav")),
    ("pt-BR", "remove-card", include_bytes!("../prompts/pt-BR/remove-card.wav")),
    ("pt-BR", "insert-money", include_bytes!("../prompts/pt-BR/insert-money.wav")),
    ("pt-BR", "take-documents", include_bytes!("../prompts/pt-BR/take-documents.wav")),
    ("pt-BR", "take-documents-change", include_bytes!("../prompts/pt-BR/take-documents-change.wav")),
    ("pt-BR", "take-card", include_bytes!("../prompts/pt-BR/take-card.wav")),
    ("pt-BR", "take-refund", include_bytes!("../prompts/pt-BR/take-refund.wav")),
    ("es", "place-card", include_bytes!("../prompts/es/place-card.wav")),
    ("es", "enter-pin", include_bytes!("../prompts/es/enter-pin.wav")),
    ("es", "remove-card", include_bytes!("../prompts/es/remove-card.wav")),
    ("es", "insert-money", include_bytes!("../prompts/es/insert-money.wav")),
    ("es", "take-documents", include_bytes!("../prompts/es/take-documents.wav")),
    ("es", "take-documents-change", include_bytes!("../prompts/es/take-documents-change.wav")),
    ("es", "take-card", include_bytes!("../prompts/es/take-card.wav")),
    ("es", "take-refund", include_bytes!("../prompts/es/take-refund.wav")),
    ("vi", "place-card", include_bytes!("../prompts/vi/place-card.wav")),
    ("vi", "enter-pin", include_bytes!("../prompts/vi/enter-pin.wav")),
    ("vi", "remove-card", include_bytes!("../prompts/vi/remove-card.wav")),
    ("vi", "insert-money", include_bytes!("../prompts/vi/insert-money.wav")),
    ("vi", "take-documents", include_bytes!("../prompts/vi/take-documents.wav")),
    ("vi", "take-documents-change", include_bytes!("../prompts/vi/take-documents-change.wav")),
    ("vi", "take-card", include_bytes!("../prompts/vi/take-card.wav")),
    ("vi", "take-refund", include_bytes!("../prompts/vi/take-refund.wav")),
];

/// The WAV file of `prompt` in `language`.
pub fn bytes(language: Language, prompt: Prompt) -> Option<&'static [u8]> {
    FILES.iter().find(|(l, p, _)| *l == language.code() && *p == prompt.id()).map(|f| f.2)
}

/// `prompt` in `language`, decoded.
pub fn clip(language: Language, prompt: Prompt) -> Result<Clip, WavError> {
    wav::read(bytes(language, prompt).ok_or(WavError("no such prompt"))?)
}

/// Bytes of all shipped prompt files (what they add to the kiosk binary).
pub fn shipped_bytes() -> usize {
    FILES.iter().map(|f| f.2.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_prompt_exists_in_every_language_as_a_16khz_mono_clip_with_speech() {
        for language in Language::ALL {
            for prompt in Prompt::ALL {
                let c = clip(language, prompt).unwrap_or_else(|e| panic!("{}/{prompt}: {e}", language.code()));
                assert_eq!(c.rate, wav::RATE, "{}/{prompt}", language.code());
                let secs = c.duration().as_secs_f64();
                assert!((0.5..8.0).contains(&secs), "{}/{prompt}: {secs:.2} s", language.code());
                assert!(c.rms() > 0.02, "{}/{prompt}: silent (rms {:.4})", language.code(), c.rms());
            }
        }
        assert_eq!(FILES.len(), Language::ALL.len() * Prompt::ALL.len());
    }

    /// The texts the files were made from name exactly the shipped files, so a prompt added to
    /// one and not the other, or a file left over, is caught.
    #[test]
    fn texts_and_files_agree() {
        let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
            .join("prompts");
        let texts = std::fs::read_to_string(dir.join("texts.tsv")).expect("texts.tsv");
        let mut from_texts: Vec<(String, String)> = texts
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                assert_eq!(f.len(), 4, "texts.tsv: {l:?} is not language, prompt, voice, text");
                assert!(!f[3].trim().is_empty(), "texts.tsv: {l:?} has no text");
                (f[0].to_string(), f[1].to_string())
            })
            .collect();
        let mut on_disk = Vec::new();
        for lang in std::fs::read_dir(&dir).expect("prompts dir").flatten().filter(|e| e.path().is_dir()) {
            for f in std::fs::read_dir(lang.path()).expect("language dir").flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let prompt = name.strip_suffix(".wav").unwrap_or_else(|| panic!("stray file {name}"));
                on_disk.push((lang.file_name().to_string_lossy().into_owned(), prompt.to_string()));
            }
        }
        let mut compiled: Vec<(String, String)> = FILES.iter().map(|f| (f.0.to_string(), f.1.to_string())).collect();
        for v in [&mut from_texts, &mut on_disk, &mut compiled] {
            v.sort();
        }
        assert_eq!(from_texts, on_disk, "texts.tsv and voice/prompts/*/ differ: run scripts/voice-prompts.sh");
        assert_eq!(compiled, on_disk);
    }
}
