//! Where the prompts are heard: the sound card ([`AlsaSpeaker`]) or a recording
//! ([`FileSpeaker`]). Both are driven from the voice worker's thread, never the kiosk loop.

use crate::wav;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a clip could not be played.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpeakerError {
    /// No sound card, or the device refused (ALSA's message).
    #[error("sound device {device}: {message}")]
    Device { device: String, message: String },
    /// The recording cannot be written.
    #[error("recording {path}: {message}")]
    File { path: PathBuf, message: String },
    /// A clip of a shape the speaker does not play (a build mistake).
    #[error("clip at {rate} Hz; this speaker plays {wants} Hz")]
    Rate { rate: u32, wants: u32 },
}

impl SpeakerError {
    pub fn kind(&self) -> &'static str {
        match self {
            SpeakerError::Device { .. } => "device",
            SpeakerError::File { .. } => "file",
            SpeakerError::Rate { .. } => "rate",
        }
    }
}

/// Something that plays 16-bit mono clips.
pub trait Speaker {
    /// Plays `samples` at `rate` Hz to their end. A speaker that records returns where in its
    /// recording the clip starts.
    fn play(&mut self, samples: &[i16], rate: u32) -> Result<Option<Duration>, SpeakerError>;
}

/// Silence between two clips in a recording, so each stands apart for a listener and for sox.
pub const GAP: Duration = Duration::from_millis(300);

/// Clips one after the other in one WAV file (the headless runner's `audio.wav`), with
/// [`GAP`] of silence between them. The header is rewritten after every clip, so the file is
/// a whole WAV at any moment, even if the run is killed.
pub struct FileSpeaker {
    path: PathBuf,
    file: File,
    samples: u32,
}

impl FileSpeaker {
    pub fn create(path: &Path) -> Result<FileSpeaker, SpeakerError> {
        let err = |e: std::io::Error| SpeakerError::File { path: path.into(), message: e.to_string() };
        let mut file = File::create(path).map_err(err)?;
        file.write_all(&wav::header(wav::RATE, 0)).map_err(err)?;
        Ok(FileSpeaker { path: path.into(), file, samples: 0 })
    }

    fn append(&mut self, samples: &[i16]) -> std::io::Result<Duration> {
        let gap = if self.samples > 0 { (wav::RATE as u64 * GAP.as_millis() as u64 / 1000) as usize } else { 0 };
        let mut bytes = vec![0u8; gap * 2];
        bytes.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        let start = self.samples as usize + gap;
        self.file.seek(SeekFrom::End(0))?;
        self.file.write_all(&bytes)?;
        self.samples = u32::try_from(start + samples.len()).unwrap_or(u32::MAX);
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(&wav::header(wav::RATE, self.samples))?;
        self.file.flush()?;
        Ok(Duration::from_secs_f64(start as f64 / f64::from(wav::RATE)))
    }
}

impl Speaker for FileSpeaker {
    fn play(&mut self, samples: &[i16], rate: u32) -> Result<Option<Duration>, SpeakerError> {
        if rate != wav::RATE {
            return Err(SpeakerError::Rate { rate, wants: wav::RATE });
        }
        let at =
            self.append(samples).map_err(|e| SpeakerError::File { path: self.path.clone(), message: e.to_string() })?;
        Ok(Some(at))
    }
}

/// The sound card through ALSA (libasound): one PCM opened at start, 16 kHz mono 16-bit
/// (ALSA's `plug` layer converts for cards that want another rate).
#[cfg(feature = "alsa")]
pub struct AlsaSpeaker {
    device: String,
    pcm: alsa::pcm::PCM,
}

#[cfg(feature = "alsa")]
impl AlsaSpeaker {
    /// Opens `device` (`default`, `plughw:1,0`); fails where there is no sound card.
    pub fn open(device: &str) -> Result<AlsaSpeaker, SpeakerError> {
        use alsa::pcm::{Access, Format, HwParams, PCM};
        let err = |e: alsa::Error| SpeakerError::Device { device: device.into(), message: e.to_string() };
        let pcm = PCM::new(device, alsa::Direction::Playback, false).map_err(err)?;
        {
            let hw = HwParams::any(&pcm).map_err(err)?;
            hw.set_channels(1).map_err(err)?;
            hw.set_rate(wav::RATE, alsa::ValueOr::Nearest).map_err(err)?;
            hw.set_format(Format::s16()).map_err(err)?;
            hw.set_access(Access::RWInterleaved).map_err(err)?;
            pcm.hw_params(&hw).map_err(err)?;
            let rate = hw.get_rate().map_err(err)?;
            if rate != wav::RATE {
                return Err(SpeakerError::Rate { rate: wav::RATE, wants: rate });
            }
        }
        Ok(AlsaSpeaker { device: device.into(), pcm })
    }
}

#[cfg(feature = "alsa")]
impl Speaker for AlsaSpeaker {
    fn play(&mut self, samples: &[i16], rate: u32) -> Result<Option<Duration>, SpeakerError> {
        if rate != wav::RATE {
            return Err(SpeakerError::Rate { rate, wants: wav::RATE });
        }
        let err = |e: alsa::Error| SpeakerError::Device { device: self.device.clone(), message: e.to_string() };
        if self.pcm.state() != alsa::pcm::State::Prepared {
            self.pcm.prepare().map_err(err)?;
        }
        let io = self.pcm.io_i16().map_err(err)?;
        let mut rest = samples;
        while !rest.is_empty() {
            match io.writei(rest) {
                Ok(n) => rest = &rest[n..],
                // An underrun (the worker was not scheduled in time): recover and go on.
                Err(e) => self.pcm.try_recover(e, true).map_err(err)?,
            }
        }
        self.pcm.drain().map_err(err)?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recording_is_a_whole_wav_after_every_clip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audio.wav");
        let mut s = FileSpeaker::create(&path).unwrap();
        assert_eq!(wav::read(&std::fs::read(&path).unwrap()).unwrap().samples.len(), 0);
        assert_eq!(s.play(&[1000; 1600], wav::RATE), Ok(Some(Duration::ZERO)));
        let second = s.play(&[-1000; 800], wav::RATE).unwrap().unwrap();
        assert_eq!(second, Duration::from_millis(100) + GAP);
        let c = wav::read(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(c.samples.len(), 1600 + 4800 + 800);
        assert!(c.samples[1600..6400].iter().all(|s| *s == 0), "the gap is silence");
        assert_eq!(s.play(&[0; 10], 22_050).unwrap_err().kind(), "rate");
    }

    #[test]
    fn an_unwritable_recording_is_an_error() {
        let e = FileSpeaker::create(Path::new("/nonexistent/dir/audio.wav")).err().unwrap();
        assert_eq!(e.kind(), "file");
    }

    /// This machine may have no sound card: opening then fails with ALSA's own message, which
    /// is what the kiosk logs for the operator.
    #[cfg(feature = "alsa")]
    #[test]
    fn a_missing_card_is_a_device_error() {
        if let Err(e) = AlsaSpeaker::open("hw:99,0") {
            assert_eq!(e.kind(), "device");
            assert!(e.to_string().contains("hw:99,0"), "{e}");
        } else {
            panic!("hw:99,0 opened");
        }
    }
}
