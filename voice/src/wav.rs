//! The one WAV shape the prompts use: RIFF, PCM, 16-bit, mono. Reading checks that shape (a
//! prompt file of another shape is a build mistake, caught by the tests); writing is the
//! header of the headless runner's recording.

/// Sample rate of every shipped prompt and of the recording.
pub const RATE: u32 = 16_000;

/// Why bytes are not a prompt WAV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 16-bit mono PCM WAV: {0}")]
pub struct WavError(pub &'static str);

/// Decoded audio: 16-bit mono samples at `rate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    pub rate: u32,
    pub samples: Vec<i16>,
}

impl Clip {
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.samples.len() as f64 / f64::from(self.rate.max(1)))
    }

    /// Root-mean-square level, 0.0 (silence) to 1.0 (full scale).
    pub fn rms(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let sum: f64 = self.samples.iter().map(|s| (f64::from(*s) / 32768.0).powi(2)).sum();
        (sum / self.samples.len() as f64).sqrt()
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a RIFF/WAVE file of 16-bit mono PCM (chunks other than `fmt ` and `data` skipped).
pub fn read(bytes: &[u8]) -> Result<Clip, WavError> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(WavError("no RIFF/WAVE header"));
    }
    let mut at = 12;
    let mut rate = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32_at(bytes, at + 4).ok_or(WavError("truncated chunk"))? as usize;
        let body = bytes.get(at + 8..at + 8 + len).ok_or(WavError("chunk past the end"))?;
        match id {
            b"fmt " => {
                let (format, channels, bits) = (u16_at(body, 0), u16_at(body, 2), u16_at(body, 14));
                if format != Some(1) {
                    return Err(WavError("not PCM"));
                }
                if channels != Some(1) {
                    return Err(WavError("not mono"));
                }
                if bits != Some(16) {
                    return Err(WavError("not 16-bit"));
                }
                rate = u32_at(body, 4);
            }
            b"data" => {
                let rate = rate.ok_or(WavError("data before fmt"))?;
                let samples = body.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
                return Ok(Clip { rate, samples });
            }
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    Err(WavError("no data chunk"))
}

/// The 44-byte header of a 16-bit mono PCM WAV holding `samples` samples at `rate`.
pub fn header(rate: u32, samples: u32) -> [u8; 44] {
    let data = samples.saturating_mul(2);
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data.saturating_add(36).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_read_round_trip() {
        let mut bytes = header(RATE, 3).to_vec();
        for s in [0i16, -1, 32767] {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        assert_eq!(read(&bytes), Ok(Clip { rate: RATE, samples: vec![0, -1, 32767] }));
    }

    #[test]
    fn other_shapes_are_refused() {
        let mut stereo = header(RATE, 0).to_vec();
        stereo[22] = 2;
        assert_eq!(read(&stereo), Err(WavError("not mono")));
        assert_eq!(read(b"RIFF0000WAVE"), Err(WavError("no data chunk")));
        assert_eq!(read(b"OggS"), Err(WavError("no RIFF/WAVE header")));
    }
}
