//! The voice worker: the kiosk loop hands it the view it shows ([`VoiceGuide::follow`]) and
//! goes on; a thread of its own plays the prompt. The queue holds one prompt: a newer one
//! replaces one not yet started (the resident has moved on), so speech never lags the screen.

use crate::clips;
use crate::config::VoiceConfig;
use crate::prompt::{prompt_for, Prompt};
use crate::speaker::{Speaker, SpeakerError};
use crate::wav::Clip;
use madoguchi_session::view_model::{Language, Screen, ViewModel};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// A prompt that was played, for result.json and the latency figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Played {
    pub prompt: Prompt,
    pub language: Language,
    /// When the view called for it, since the guide started.
    pub asked: Duration,
    /// When the speaker took it (`started - asked` is the latency).
    pub started: Duration,
    /// Where it starts in the recording (a [`crate::FileSpeaker`]).
    pub recorded_at: Option<Duration>,
    pub length: Duration,
}

struct Request {
    prompt: Prompt,
    language: Language,
    asked: Instant,
}

#[derive(Default)]
struct State {
    queued: Option<Request>,
    busy: bool,
    stop: bool,
    played: Vec<Played>,
    /// Prompts replaced in the queue before they started.
    superseded: Vec<(Prompt, Language)>,
    /// Prompts not heard: no sound device, or it failed.
    unheard: u32,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding it leaves plain data: still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The kiosk's voice: follows the views the kiosk shows and speaks their prompts.
pub struct VoiceGuide {
    config: VoiceConfig,
    shared: Arc<Shared>,
    /// The last view's screen, prompt and language: a prompt is said when these change.
    last: Option<(Screen, Option<Prompt>, Language)>,
    epoch: Instant,
    /// Prompts the night mute kept quiet.
    muted: u32,
}

impl VoiceGuide {
    /// Starts the worker; `open` makes its speaker on the worker's thread (opening a sound
    /// card may take a while). If it fails (no sound card), the worker logs it once for the
    /// operator and the kiosk goes on without speaking.
    pub fn spawn<S, F>(config: VoiceConfig, open: F) -> VoiceGuide
    where
        S: Speaker + 'static,
        F: FnOnce() -> Result<S, SpeakerError> + Send + 'static,
    {
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), changed: Condvar::new() });
        let epoch = Instant::now();
        let (worker, volume) = (shared.clone(), config.volume);
        let spawned = std::thread::Builder::new().name("voice".into()).spawn(move || {
            let speaker = match open() {
                Ok(s) => Some(Box::new(s) as Box<dyn Speaker>),
                Err(e) => {
                    log::warn!("voice guidance: {e}; the kiosk goes on without speaking (operator: check the sound card and voice.device in kiosk.toml)");
                    None
                }
            };
            work(&worker, speaker, volume, epoch);
        });
        if let Err(e) = spawned {
            log::error!("voice guidance: cannot start its thread: {e}; the kiosk goes on without speaking");
        }
        VoiceGuide { config, shared, last: None, epoch, muted: 0 }
    }

    /// The kiosk shows `view` at wall time `wall`: says its prompt if the view calls for a new
    /// one, in the resident's language, unless voice is off or within the night mute.
    pub fn follow(&mut self, view: &ViewModel, wall: OffsetDateTime) {
        let prompt = prompt_for(view);
        let key = (view.screen, prompt, view.language);
        if self.last == Some(key) {
            return;
        }
        self.last = Some(key);
        let Some(prompt) = prompt else { return };
        if !self.config.speaks_at(wall.to_offset(madoguchi_certs::validity::JST).time()) {
            self.muted += 1;
            return;
        }
        self.say(prompt, view.language);
    }

    /// Queues `prompt`, replacing one not yet started.
    pub fn say(&self, prompt: Prompt, language: Language) {
        let mut s = self.shared.lock();
        if let Some(old) = s.queued.replace(Request { prompt, language, asked: Instant::now() }) {
            s.superseded.push((old.prompt, old.language));
        }
        self.shared.changed.notify_all();
    }

    /// Waits (up to `limit`) until nothing is queued or playing; false if time ran out.
    pub fn drain(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut s = self.shared.lock();
        while s.queued.is_some() || s.busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self.shared.changed.wait_timeout(s, left).map(|r| r.0).unwrap_or_else(|p| p.into_inner().0);
        }
        true
    }

    /// The prompts played so far, in order.
    pub fn played(&self) -> Vec<Played> {
        self.shared.lock().played.clone()
    }

    /// Prompts replaced in the queue before they were heard.
    pub fn superseded(&self) -> Vec<(Prompt, Language)> {
        self.shared.lock().superseded.clone()
    }

    /// Prompts not heard for want of a working sound device.
    pub fn unheard(&self) -> u32 {
        self.shared.lock().unheard
    }

    /// Prompts kept quiet by the night mute (or voice off, volume 0).
    pub fn muted(&self) -> u32 {
        self.muted
    }

    /// When the guide started: the zero of [`Played::asked`] and [`Played::started`].
    pub fn epoch(&self) -> Instant {
        self.epoch
    }
}

impl Drop for VoiceGuide {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
    }
}

/// The worker's loop: one prompt at a time, until the guide is dropped.
fn work(shared: &Shared, mut speaker: Option<Box<dyn Speaker>>, volume: u8, epoch: Instant) {
    let mut clips: HashMap<(Language, Prompt), Clip> = HashMap::new();
    let mut failing = false;
    loop {
        let req = {
            let mut s = shared.lock();
            loop {
                if s.stop {
                    return;
                }
                if let Some(r) = s.queued.take() {
                    s.busy = true;
                    break r;
                }
                s = shared.changed.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        };
        let started = Instant::now();
        let outcome = speaker.as_mut().map(|sp| play(sp.as_mut(), &mut clips, &req, volume));
        let mut s = shared.lock();
        s.busy = false;
        match outcome {
            Some(Ok((recorded_at, length))) => {
                failing = false;
                s.played.push(Played {
                    prompt: req.prompt,
                    language: req.language,
                    asked: req.asked.saturating_duration_since(epoch),
                    started: started.saturating_duration_since(epoch),
                    recorded_at,
                    length,
                });
            }
            Some(Err(e)) => {
                s.unheard += 1;
                // Once per run of failures: a card pulled out should not fill the log.
                if !failing {
                    log::error!("voice guidance: {e}; prompts go unheard until it plays again");
                }
                failing = true;
            }
            None => s.unheard += 1,
        }
        shared.changed.notify_all();
    }
}

fn play(
    speaker: &mut dyn Speaker,
    clips: &mut HashMap<(Language, Prompt), Clip>,
    req: &Request,
    volume: u8,
) -> Result<(Option<Duration>, Duration), String> {
    let c = match clips.entry((req.language, req.prompt)) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            let c = clips::clip(req.language, req.prompt)
                .map_err(|e| format!("{}/{}: {e}", req.language.code(), req.prompt))?;
            // The volume is applied once, when the clip is first decoded (linear amplitude).
            let scaled = c.samples.iter().map(|s| (i32::from(*s) * i32::from(volume) / 100) as i16).collect();
            e.insert(Clip { rate: c.rate, samples: scaled })
        }
    };
    let at = speaker.play(&c.samples, c.rate).map_err(|e| e.to_string())?;
    Ok((at, c.duration()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wav;
    use crate::FileSpeaker;
    use madoguchi_session::view_model::Payment;
    use std::sync::mpsc;
    use time::macros::datetime;

    const TEN_AM: OffsetDateTime = datetime!(2026-12-03 10:00 +9);

    fn view(screen: Screen, language: Language) -> ViewModel {
        ViewModel::new(screen, language)
    }

    /// A speaker held up until the test lets it go: to see what the queue does meanwhile.
    struct Gate(mpsc::Receiver<()>, Arc<Mutex<Vec<usize>>>);
    impl Speaker for Gate {
        fn play(&mut self, samples: &[i16], _rate: u32) -> Result<Option<Duration>, SpeakerError> {
            let _ = self.0.recv();
            self.1.lock().unwrap().push(samples.len());
            Ok(None)
        }
    }

    #[test]
    fn prompts_follow_view_changes_in_the_residents_language() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audio.wav");
        let p = path.clone();
        let mut g = VoiceGuide::spawn(VoiceConfig::default(), move || FileSpeaker::create(&p));
        for (s, l) in [
            (Screen::Idle, Language::En),
            (Screen::PlaceCard, Language::En),
            // The same view again (a tick): said once.
            (Screen::PlaceCard, Language::En),
            (Screen::ReadingCard, Language::En),
            (Screen::PinEntry, Language::En),
        ] {
            g.follow(&view(s, l), TEN_AM);
            assert!(g.drain(Duration::from_secs(5)));
        }
        let mut t = view(Screen::TakeDocuments, Language::Ja);
        t.payment = Payment { inserted_yen: 500, change_yen: 200 };
        g.follow(&t, TEN_AM);
        assert!(g.drain(Duration::from_secs(5)));
        let said: Vec<(&str, &str)> = g.played().iter().map(|p| (p.prompt.id(), p.language.code())).collect();
        assert_eq!(said, [("place-card", "en"), ("enter-pin", "en"), ("take-documents-change", "ja")]);
        // In the recording, one after another, each where the log says.
        let rec = wav::read(&std::fs::read(&path).unwrap()).unwrap();
        let played = g.played();
        let last = played.last().unwrap();
        let end = last.recorded_at.unwrap() + last.length;
        assert!((rec.duration().as_secs_f64() - end.as_secs_f64()).abs() < 0.001);
        let at = (played[1].recorded_at.unwrap().as_secs_f64() * 16_000.0).round() as usize;
        let clip = clips::clip(Language::En, Prompt::EnterPin).unwrap();
        let n = clip.samples.len();
        let volume = |s: &i16| (i32::from(*s) * 80 / 100) as i16;
        assert_eq!(
            rec.samples[at..at + n],
            clip.samples.iter().map(volume).collect::<Vec<_>>()[..],
            "enter-pin at its offset"
        );
    }

    #[test]
    fn a_new_prompt_supersedes_a_queued_one_and_the_loop_never_waits() {
        let (go, gate) = mpsc::channel();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = heard.clone();
        let g = VoiceGuide::spawn(VoiceConfig::default(), move || Ok(Gate(gate, h)));
        g.say(Prompt::PlaceCard, Language::Ja);
        // Wait until the worker holds place-card, blocked in the speaker.
        let t = Instant::now();
        while !g.shared.lock().busy {
            assert!(t.elapsed() < Duration::from_secs(5));
            std::thread::yield_now();
        }
        let asked = Instant::now();
        g.say(Prompt::EnterPin, Language::Ja);
        g.say(Prompt::RemoveCard, Language::Ja);
        // `say` returned while the speaker is still held: the kiosk loop does not wait.
        assert!(g.shared.lock().busy && asked.elapsed() < Duration::from_secs(5));
        for _ in 0..2 {
            go.send(()).unwrap();
        }
        assert!(g.drain(Duration::from_secs(5)));
        let ids: Vec<Prompt> = g.played().iter().map(|p| p.prompt).collect();
        assert_eq!(ids, [Prompt::PlaceCard, Prompt::RemoveCard]);
        assert_eq!(g.superseded(), [(Prompt::EnterPin, Language::Ja)]);
        assert_eq!(heard.lock().unwrap().len(), 2);
    }

    #[test]
    fn no_sound_card_leaves_the_kiosk_silent_not_stuck() {
        let g = VoiceGuide::spawn(VoiceConfig::default(), || -> Result<FileSpeaker, SpeakerError> {
            Err(SpeakerError::Device { device: "default".into(), message: "No such file or directory".into() })
        });
        for p in [Prompt::PlaceCard, Prompt::TakeCard] {
            g.say(p, Language::Ja);
            assert!(g.drain(Duration::from_secs(5)));
        }
        assert!(g.played().is_empty());
        assert_eq!(g.unheard(), 2);
    }

    #[test]
    fn night_mute_keeps_quiet_in_japan_time() {
        let cfg =
            crate::RawVoice { mute_from: Some("22:00".into()), mute_until: Some("07:00".into()), ..Default::default() }
                .check()
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        let mut g = VoiceGuide::spawn(cfg, move || FileSpeaker::create(&p));
        // 14:30 UTC is 23:30 in Japan: muted.
        g.follow(&view(Screen::PlaceCard, Language::Ja), datetime!(2026-12-03 14:30 UTC));
        g.follow(&view(Screen::TakeCard, Language::Ja), datetime!(2026-12-03 01:00 UTC));
        assert!(g.drain(Duration::from_secs(5)));
        assert_eq!(g.muted(), 1);
        assert_eq!(g.played().iter().map(|p| p.prompt).collect::<Vec<_>>(), [Prompt::TakeCard]);
    }
}
