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
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/apdu_response");
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
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut n = 0;
        for dir in [fuzz.join("corpus/pjl_replies"), fuzz.join("regressions/pjl_replies")] {
            for entry in std::fs::read_dir(&dir).into_iter().flatten() {
                pjl_replies(&std::fs::read(entry.expect("entry").path()).expect("seed file"));
                n += 1;
            }
        }
        assert!(n >= 3, "seed corpus has only {n} files");
    }
}
