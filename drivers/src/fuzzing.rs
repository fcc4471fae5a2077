//! Entry points for the fuzz targets (`fuzz/`), also run over the seed corpus by unit tests so
//! stable CI exercises them.

use crate::card::{CardTransport, TransportError};
use crate::iso7816::{CommandApdu, ResponseApdu};
use crate::jpki::{CertificateEf, JpkiCard, Pin, PinKind, PinStatus, SigningKey};

/// Plays the fuzz input as a sequence of card answers (each a 2-byte big-endian length, then
/// the bytes) through the kiosk's whole JPKI path: open, read the auth certificate, PIN status,
/// VERIFY, sign. Any outcome but a panic is fine; a tries-left figure must stay within range.
pub fn drive_jpki_profile(input: &[u8]) {
    let mut card = match JpkiCard::open(Replay::new(input)) {
        Ok(c) => c,
        Err(_) => return,
    };
    let _ = card.read_certificate(CertificateEf::UserAuth);
    if let Ok(PinStatus::Tries(t)) = card.pin_status(PinKind::UserAuth) {
        assert!(t.left >= 1 && t.left <= t.max);
    }
    if let Ok(pin) = Pin::new(PinKind::UserAuth, "1234") {
        if let Err(crate::jpki::JpkiError::WrongPin { tries_left, .. }) = card.verify(&pin) {
            assert!((1..3).contains(&tries_left));
        }
    }
    if let Ok(sig) = card.sign_sha256(SigningKey::UserAuth, &[0u8; 32]) {
        assert_eq!(sig.len(), 256);
    }
    let _ = card.read_certificate(CertificateEf::Signature);
}

/// Plays the fuzz input as what a printer sends back on the serial line, fed to the PJL reply
/// reader in chunks whose sizes the input's first byte sets (as reads of any size arrive). The
/// reader never holds more than its bound, and feeding the same bytes in one piece gives the
/// same replies.
pub fn pjl_replies(input: &[u8]) {
    use crate::printer::pjl::{Reply, ReplyReader, MAX_BLOCK};
    let [chunk, bytes @ ..] = input else { return };
    let chunk = usize::from(*chunk).max(1);
    let mut pieces = ReplyReader::new();
    let mut by_pieces = Vec::new();
    for part in bytes.chunks(chunk) {
        by_pieces.extend(pieces.push(part));
        assert!(pieces.pending() < MAX_BLOCK);
    }
    let mut whole = ReplyReader::new();
    let at_once = whole.push(bytes);
    assert_eq!(by_pieces, at_once, "replies depend on how the bytes arrived");
    for r in at_once.into_iter().flatten() {
        if let Reply::Device(s) | Reply::Status(s) = r {
            let _ = s.class();
        }
    }
}

/// Plays the fuzz input as what comes back on the ccTalk bus after a command to address 2: the
/// reply (and echo) reader fed in chunks whose size the first byte sets, and every complete
/// frame read from the bytes as the coin acceptor's credit buffer and a hopper's status. Never
/// panics; a frame that decodes encodes back to the same bytes; the verdict does not depend on
/// how the bytes arrived.
pub fn cctalk_frames(input: &[u8]) {
    use crate::cctalk::coin::{yen_of_coin_id, CreditBuffer, CreditRead};
    use crate::cctalk::frame::{decode, Frame};
    use crate::cctalk::hopper::HopperStatus;
    use crate::cctalk::link::{Exchange, Progress};
    let [chunk, bytes @ ..] = input else { return };
    let chunk = usize::from(*chunk).max(1);
    let request = Frame::request(2, crate::cctalk::header::READ_CREDIT_BUFFER, &[]);
    let (mut pieces, _) = Exchange::start(&request);
    let mut by_pieces = Progress::Pending;
    for part in bytes.chunks(chunk) {
        by_pieces = pieces.feed(part);
        if by_pieces != Progress::Pending {
            break;
        }
    }
    let (mut whole, _) = Exchange::start(&request);
    assert_eq!(by_pieces, whole.feed(bytes), "the verdict depends on how the bytes arrived");
    let mut credit = CreditBuffer::default();
    let mut rest = bytes;
    while let Ok(Some((frame, n))) = decode(rest) {
        assert_eq!(frame.encode(), rest[..n], "a frame that decodes encodes back to its bytes");
        rest = &rest[n..];
        if let Ok(CreditRead::Lost { lost, events }) = credit.read(&frame.data) {
            assert!(lost >= 1 && events.len() == 5);
        }
        let _ = HopperStatus::parse(&frame.data);
        if let Some(yen) = yen_of_coin_id(&frame.data) {
            assert!([1, 5, 10, 50, 100, 500].contains(&yen));
        }
    }
}

/// A transport answering from a byte script; running out means the card was pulled.
struct Replay<'a> {
    rest: &'a [u8],
}

impl<'a> Replay<'a> {
    fn new(rest: &'a [u8]) -> Self {
        Self { rest }
    }
}

impl CardTransport for Replay<'_> {
    fn transmit(&mut self, _command: &CommandApdu) -> Result<ResponseApdu, TransportError> {
        let [h, l, rest @ ..] = self.rest else { return Err(TransportError::CardRemoved) };
        let n = (u16::from_be_bytes([*h, *l]) as usize).min(rest.len());
        let (frame, rest) = rest.split_at(n);
        self.rest = rest;
        Ok(ResponseApdu::from_bytes(frame)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in the committed seed corpus runs through the target on stable.
    #[test]
    fn seed_corpus_runs_clean() {
        let dir = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../fuzz/corpus/apdu_response");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("seed corpus directory") {
            let data = std::fs::read(entry.expect("entry").path()).expect("seed file");
            drive_jpki_profile(&data);
            n += 1;
        }
        assert!(n >= 5, "seed corpus has only {n} files");
    }

    /// The PJL reply corpus, and every input that once crashed it (`fuzz/regressions`).
    #[test]
    fn pjl_seed_corpus_runs_clean() {
        let fuzz = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../fuzz");
        let mut n = 0;
        for dir in [fuzz.join("corpus/pjl_replies"), fuzz.join("regressions/pjl_replies")] {
            for entry in std::fs::read_dir(&dir).into_iter().flatten() {
                pjl_replies(&std::fs::read(entry.expect("entry").path()).expect("seed file"));
                n += 1;
            }
        }
        assert!(n >= 3, "seed corpus has only {n} files");
    }

    /// The ccTalk frame corpus, and every input that once crashed it.
    #[test]
    fn cctalk_seed_corpus_runs_clean() {
        let fuzz = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../fuzz");
        let mut n = 0;
        for dir in [fuzz.join("corpus/cctalk_frames"), fuzz.join("regressions/cctalk_frames")] {
            for entry in std::fs::read_dir(&dir).into_iter().flatten() {
                cctalk_frames(&std::fs::read(entry.expect("entry").path()).expect("seed file"));
                n += 1;
            }
        }
        assert!(n >= 4, "seed corpus has only {n} files");
        // And mutations of the seeds on stable (the fuzzer does far more, with coverage).
        let seed = std::fs::read(fuzz.join("corpus/cctalk_frames/echo-and-credit")).expect("seed");
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let mut input = seed.clone();
            for _ in 0..1 + x % 4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = (x >> 8) as usize % input.len();
                input[at] = (x >> 32) as u8;
            }
            cctalk_frames(&input);
        }
    }
}
