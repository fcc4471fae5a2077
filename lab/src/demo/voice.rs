//! The kiosk's voice in the headless runner: the prompts it speaks go into `audio.wav` in the
//! scenario's output directory (one clip after another, [`madoguchi_voice::GAP`]
//! apart), and result.json's `voice` lists each with where it is in that file.

use madoguchi_firmware::config::KioskConfig;
use madoguchi_firmware::kiosk::Kiosk;
use madoguchi_voice::{FileSpeaker, VoiceGuide};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// The recording's file name in the output directory.
pub(super) const AUDIO: &str = "audio.wav";

/// A voice guide that records into `out/audio.wav`, with the kiosk's own `[voice]` settings.
pub(super) fn recording(out: &Path, cfg: &KioskConfig) -> VoiceGuide {
    let path = out.join(AUDIO);
    VoiceGuide::spawn(cfg.voice.clone(), move || FileSpeaker::create(&path))
}

/// result.json's `voice`: the prompts played (id, language, when the view asked for it, where
/// it is in audio.wav, how long, and the latency from the view to the speaker taking it).
pub(super) fn report(kiosk: &Kiosk) -> Value {
    let Some(v) = kiosk.voice() else { return Value::Null };
    let drained = v.drain(Duration::from_secs(10));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    json!({
        "audio": AUDIO,
        "complete": drained,
        "prompts": v.played().iter().map(|p| json!({
            "id": p.prompt.id(),
            "language": p.language.code(),
            "at_ms": ms(p.asked).round(),
            "audio_offset_ms": p.recorded_at.map(ms),
            "duration_ms": ms(p.length),
            "latency_us": p.started.saturating_sub(p.asked).as_micros(),
        })).collect::<Vec<_>>(),
        "superseded": v.superseded().iter().map(|(p, l)| format!("{}/{}", l.code(), p.id())).collect::<Vec<_>>(),
        "muted": v.muted(),
        "unheard": v.unheard(),
    })
}
