//! `[voice]` of kiosk.toml: whether the kiosk speaks, how loud, and the night hours it keeps
//! quiet (a store in a residential building at 2 a.m.).

use serde::Deserialize;
use time::Time;

/// `[voice]` as written (the kiosk's config loader reports unknown keys and wrong types).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawVoice {
    pub enabled: Option<bool>,
    /// 0 (silent) to 100 (the clips as shipped).
    pub volume: Option<i64>,
    /// `"22:00"`: quiet from this local time …
    pub mute_from: Option<String>,
    /// … until this one (`"07:00"`; the range may run over midnight).
    pub mute_until: Option<String>,
    /// The ALSA PCM to play on (`default`, `plughw:1,0`).
    pub device: Option<String>,
}

/// A `[voice]` value that cannot be used, naming its key (`voice.volume`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct VoiceConfigError {
    pub key: &'static str,
    pub message: String,
}

fn bad(key: &'static str, message: impl Into<String>) -> VoiceConfigError {
    VoiceConfigError { key, message: message.into() }
}

/// The checked `[voice]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceConfig {
    pub enabled: bool,
    /// 0–100, a linear scale of the clips' amplitude.
    pub volume: u8,
    /// Local (Japan) times: quiet from the first until the second.
    pub mute: Option<(Time, Time)>,
    pub device: String,
}

impl Default for VoiceConfig {
    fn default() -> VoiceConfig {
        VoiceConfig { enabled: true, volume: 80, mute: None, device: "default".into() }
    }
}

fn time_of_day(text: &str, key: &'static str) -> Result<Time, VoiceConfigError> {
    let err = || bad(key, format!("{text:?} is not a time of day (HH:MM, e.g. \"22:00\")"));
    let (h, m) = text.split_once(':').ok_or_else(err)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(err());
    }
    let (h, m): (u8, u8) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
    Time::from_hms(h, m, 0).map_err(|_| err())
}

impl RawVoice {
    /// Checks the values; missing keys take [`VoiceConfig::default`]'s.
    pub fn check(self) -> Result<VoiceConfig, VoiceConfigError> {
        let d = VoiceConfig::default();
        let volume = match self.volume {
            None => d.volume,
            Some(v) => u8::try_from(v).ok().filter(|v| *v <= 100).ok_or_else(|| {
                bad(
                    "voice.volume",
                    format!("{v} is outside 0..=100 (0 is silent; use enabled = false to turn voice off)"),
                )
            })?,
        };
        let mute = match (self.mute_from, self.mute_until) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(bad("voice.mute_until", "missing: mute_from needs the time the night mute ends"))
            }
            (None, Some(_)) => {
                return Err(bad("voice.mute_from", "missing: mute_until needs the time the night mute starts"))
            }
            (Some(from), Some(until)) => {
                let (f, u) = (time_of_day(&from, "voice.mute_from")?, time_of_day(&until, "voice.mute_until")?);
                if f == u {
                    return Err(bad(
                        "voice.mute_until",
                        format!(
                            "{until} is the same as mute_from: the mute would last no time (leave both out for none)"
                        ),
                    ));
                }
                Some((f, u))
            }
        };
        let device = self.device.unwrap_or(d.device);
        if device.trim().is_empty() {
            return Err(bad("voice.device", "empty: name an ALSA PCM, e.g. \"default\""));
        }
        Ok(VoiceConfig { enabled: self.enabled.unwrap_or(d.enabled), volume, mute, device })
    }
}

impl VoiceConfig {
    /// Whether the kiosk may speak at local time `t` (on, not silent, outside the night mute).
    pub fn speaks_at(&self, t: Time) -> bool {
        let muted = match self.mute {
            None => false,
            Some((from, until)) if from < until => from <= t && t < until,
            Some((from, until)) => t >= from || t < until,
        };
        self.enabled && self.volume > 0 && !muted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::time;

    fn parse(text: &str) -> Result<VoiceConfig, VoiceConfigError> {
        toml::from_str::<RawVoice>(text).expect("toml").check()
    }

    #[test]
    fn defaults_speak_all_day() {
        let c = parse("").unwrap();
        assert_eq!(c, VoiceConfig::default());
        assert!(c.speaks_at(time!(3:00)));
    }

    #[test]
    fn night_mute_runs_over_midnight() {
        let c = parse("volume = 60\nmute_from = \"22:00\"\nmute_until = \"07:00\"").unwrap();
        assert_eq!(c.volume, 60);
        for (t, speaks) in [
            (time!(21:59), true),
            (time!(22:00), false),
            (time!(2:00), false),
            (time!(6:59), false),
            (time!(7:00), true),
        ] {
            assert_eq!(c.speaks_at(t), speaks, "{t}");
        }
        let day = parse("mute_from = \"12:00\"\nmute_until = \"13:00\"").unwrap();
        assert!(!day.speaks_at(time!(12:30)) && day.speaks_at(time!(13:00)) && day.speaks_at(time!(11:59)));
    }

    #[test]
    fn off_or_silent_never_speaks() {
        assert!(!parse("enabled = false").unwrap().speaks_at(time!(10:00)));
        assert!(!parse("volume = 0").unwrap().speaks_at(time!(10:00)));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key, says) in [
            ("volume = 101", "voice.volume", "outside 0..=100"),
            ("volume = -5", "voice.volume", "outside 0..=100"),
            ("mute_from = \"22:00\"", "voice.mute_until", "missing"),
            ("mute_until = \"07:00\"", "voice.mute_from", "missing"),
            ("mute_from = \"25:00\"\nmute_until = \"07:00\"", "voice.mute_from", "not a time of day"),
            ("mute_from = \"10pm\"\nmute_until = \"07:00\"", "voice.mute_from", "not a time of day"),
            ("mute_from = \"22:00\"\nmute_until = \"7\"", "voice.mute_until", "not a time of day"),
            ("mute_from = \"22:00\"\nmute_until = \"22:00\"", "voice.mute_until", "no time"),
            ("device = \" \"", "voice.device", "empty"),
        ] {
            let e = parse(text).expect_err(text);
            assert_eq!(e.key, key, "{text}");
            assert!(e.message.contains(says), "{text}: {e}");
        }
    }
}
