//! Voice guidance: spoken prompts that help residents who cannot read the screen well, and
//! remind everyone to take the card, the paper and the change.
//!
//! - [`Prompt`]: what can be said, and [`prompt_for`], the one place that decides which prompt
//!   a view of the session calls for (nothing is wired per screen in the UI);
//! - [`clips`]: the prompts as shipped WAV files (`voice/prompts/<language>/<prompt>.wav`,
//!   made by `scripts/voice-prompts.sh` with espeak-ng and compiled in: building needs no
//!   speech synthesiser);
//! - [`Speaker`]: where sound goes: the sound card through ALSA ([`AlsaSpeaker`], feature
//!   `alsa`) or a WAV file ([`FileSpeaker`], the headless runner's `audio.wav`);
//! - [`VoiceGuide`]: a worker thread with a one-place queue, so the kiosk loop never waits for
//!   sound and a newer prompt replaces one not yet started;
//! - [`VoiceConfig`]: `[voice]` of kiosk.toml (on/off, volume, night mute).

#![forbid(unsafe_code)]

pub mod clips;
mod config;
mod guide;
mod prompt;
mod speaker;
pub mod wav;

pub use config::{RawVoice, VoiceConfig, VoiceConfigError};
pub use guide::{Played, VoiceGuide};
pub use prompt::{prompt_for, Prompt};
#[cfg(feature = "alsa")]
pub use speaker::AlsaSpeaker;
pub use speaker::{FileSpeaker, Speaker, SpeakerError, GAP};
