//! The JPKI application profile (公的個人認証AP) over any [`CardTransport`].
//!
//! APDU economy matters: every round trip through a contactless reader costs tens of
//! milliseconds, so this profile uses short-EF-identifier reads and VERIFY/SIGN by SFI (no
//! SELECT EF), sizes certificate reads from the DER header in the first 256-byte chunk, and
//! never re-reads. Card placed → authenticated takes 11 APDUs for a 1.3 KB certificate
//! (OpenSC needs ~110). See `reference/jpki.md` §3–§5, §9.
//!
//! PINs live only in [`Pin`] (wiped on drop). A malformed PIN is refused *before* it reaches the
//! card, so the kiosk never spends a try by its own mistake; any status word the profile does
//! not expect becomes [`JpkiError::UnexpectedStatus`], never a guessed tries-left.

use crate::card::{CardTransport, TransportError, TransportErrorKind};
use crate::iso7816::{CommandApdu, ResponseApdu, StatusWord};
use core::fmt;
use zeroize::Zeroize;

/// AID of the JPKI application.
pub const JPKI_AID: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];

/// Largest certificate the profile accepts (real ones are ~1.2–1.8 KB; the EF offset is 15-bit).
pub const MAX_CERTIFICATE_LEN: usize = 8 * 1024;

/// What kind of token answered (EF 0006 label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// My Number Card (`JPKIAPICCTOKEN2`).
    Card,
    /// The old 住基カード (`JPKIAPICCTOKEN`): the service no longer accepts it.
    LegacyJukiCard,
    /// スマホ用電子証明書 on Android (`JPKIAPGPSETOKEN`): the auth certificate needs the PIN.
    Android,
    /// スマホ用電子証明書 on iPhone (`JPKIAPIOSTOKEN`): pre-authorised on the phone, no PIN.
    Iphone,
}

impl TokenKind {
    /// Decodes the 32-byte space/NUL-padded label.
    pub fn from_label(label: &[u8]) -> Option<Self> {
        let end = label.iter().rposition(|&b| b != b' ' && b != 0).map_or(0, |i| i + 1);
        match &label[..end] {
            b"JPKIAPICCTOKEN2" => Some(Self::Card),
            b"JPKIAPICCTOKEN" => Some(Self::LegacyJukiCard),
            b"JPKIAPGPSETOKEN" => Some(Self::Android),
            b"JPKIAPIOSTOKEN" => Some(Self::Iphone),
            _ => None,
        }
    }

    pub fn is_phone(self) -> bool {
        matches!(self, Self::Android | Self::Iphone)
    }

    /// Operator-facing name.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Card => "My Number Card",
            Self::LegacyJukiCard => "Juki card (not accepted)",
            Self::Android => "Android smartphone certificate",
            Self::Iphone => "iPhone smartphone certificate",
        }
    }
}

/// The two credentials of the JPKI application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinKind {
    /// 利用者証明用電子証明書の暗証番号: 4 digits, 3 tries, EF 0018.
    UserAuth,
    /// 署名用電子証明書の暗証番号: 6–16 of A–Z0–9, 5 tries, EF 001B.
    Signature,
}

impl PinKind {
    pub const fn max_tries(self) -> u8 {
        match self {
            Self::UserAuth => 3,
            Self::Signature => 5,
        }
    }
    const fn fid(self) -> u16 {
        match self {
            Self::UserAuth => 0x0018,
            Self::Signature => 0x001B,
        }
    }
    const fn sfi(self) -> u8 {
        match self {
            Self::UserAuth => 0x18,
            Self::Signature => 0x1B,
        }
    }
}

/// The certificates on the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateEf {
    /// 利用者証明用電子証明書 (EF 000A).
    UserAuth,
    /// Its CA (EF 000B). Informational: trust comes from pinned anchors, never from the card.
    UserAuthCa,
    /// 署名用電子証明書 (EF 0001): readable only after the signature password.
    Signature,
    /// Its CA (EF 0002).
    SignatureCa,
}

impl CertificateEf {
    const fn sfi(self) -> u8 {
        match self {
            Self::UserAuth => 0x0A,
            Self::UserAuthCa => 0x0B,
            Self::Signature => 0x01,
            Self::SignatureCa => 0x02,
        }
    }
}

/// Which private key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningKey {
    /// EF 0017, needs the user-auth PIN.
    UserAuth,
    /// EF 001A, needs the signature password.
    Signature,
}

/// Tries left on a PIN, as the card reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinTries {
    pub left: u8,
    pub max: u8,
}

impl PinTries {
    pub fn is_last(self) -> bool {
        self.left == 1
    }
}

/// A PIN's state, learned without spending a try (empty VERIFY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinStatus {
    /// Not yet verified; this many tries remain.
    Tries(PinTries),
    /// The PIN is blocked (counter at zero): only a reset helps.
    Blocked,
    /// Already verified in this card session (some cards answer `9000` after a VERIFY), or an
    /// iPhone that checked the holder itself: no PIN to ask for.
    Verified,
}

/// A PIN or password on its way to the card: checked against the format rules, held in a
/// fixed buffer that is wiped on drop, never printed.
///
/// The buffer is on the heap and the `Pin` only points to it: a `Pin` is moved through
/// effects, channels and queues on its way to the card, and each move of an inline buffer
/// would leave a bitwise copy of the digits behind in the place it left (a drained `Vec`, a
/// channel's block), which no `Drop` can wipe. Moving a pointer leaves only the pointer.
pub struct Pin {
    kind: PinKind,
    bytes: Box<[u8; 16]>,
    len: u8,
}

impl Pin {
    /// Validates `text` for `kind`. The signature password is upper-cased (the card compares
    /// bytes, and residents type lower case on phones). The error never contains the input.
    pub fn new(kind: PinKind, text: &str) -> Result<Self, JpkiError> {
        let ok = match kind {
            PinKind::UserAuth => text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()),
            PinKind::Signature => {
                (6..=16).contains(&text.len())
                    && text.bytes().all(|b| b.is_ascii_alphanumeric())
                    && text.bytes().any(|b| b.is_ascii_alphabetic())
                    && text.bytes().any(|b| b.is_ascii_digit())
            }
        };
        if !ok {
            return Err(JpkiError::InvalidPinFormat { kind });
        }
        // Zeroed on the heap first, then filled there: the digits are never on the stack.
        let mut bytes = Box::new([0u8; 16]);
        for (slot, b) in bytes.iter_mut().zip(text.bytes()) {
            *slot = b.to_ascii_uppercase();
        }
        // At most 16 after the check above.
        Ok(Self { kind, bytes, len: text.len() as u8 })
    }

    /// The user-authentication PIN from its four digits as numbers (0–9, as a PIN pad holds
    /// them), written as ASCII straight into the wiped heap buffer: no ASCII copy is made on
    /// the way. `None` unless exactly four digits of 0–9.
    pub fn user_auth_from_digits(digits: &[u8]) -> Option<Self> {
        if digits.len() != 4 || digits.iter().any(|&d| d > 9) {
            return None;
        }
        let mut bytes = Box::new([0u8; 16]);
        for (slot, d) in bytes.iter_mut().zip(digits) {
            *slot = b'0' + d;
        }
        Some(Self { kind: PinKind::UserAuth, bytes, len: 4 })
    }

    pub fn kind(&self) -> PinKind {
        self.kind
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.bytes.zeroize();
        self.len = 0;
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pin({:?}, <hidden>)", self.kind)
    }
}

/// The coarse classes of JPKI failures (for screens and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JpkiErrorKind {
    /// Card or phone removed, reader gone.
    Removed,
    /// Not a JPKI token (or one the service does not accept).
    NotJpki,
    /// Wrong PIN, tries remain.
    WrongPin,
    /// PIN blocked.
    PinBlocked,
    /// The kiosk refused a PIN that breaks the format rules (no try spent).
    InvalidPin,
    /// The card wants a PIN first.
    SecurityStatus,
    /// The certificate or key is not on this token (e.g. no signature certificate under 15).
    NotPresent,
    /// The card answered something the profile does not accept.
    CardFault,
    /// Cancelled by the kiosk.
    Cancelled,
    /// RESET RETRY COUNTER refused: no challenge outstanding, or the authorisation does not
    /// fit this card, target and challenge. Nothing on the card changed.
    ResetRefused,
}

/// A failure of the JPKI profile, carrying what the resident's screen needs.
#[derive(Debug, thiserror::Error)]
pub enum JpkiError {
    #[error("card communication failed: {0}")]
    Transport(#[from] TransportError),
    #[error("this card has no JPKI application")]
    NotJpki,
    #[error("unknown JPKI token label {label:?}")]
    UnknownToken { label: String },
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin { kind: PinKind, tries_left: u8 },
    #[error("the PIN is blocked")]
    PinBlocked { kind: PinKind },
    #[error("the PIN does not have the required format")]
    InvalidPinFormat { kind: PinKind },
    #[error("the card requires PIN verification first")]
    SecurityStatusNotSatisfied,
    #[error("this token has no such file (for example no signature certificate under 15)")]
    NotPresent,
    #[error("the card answered {sw} to {command}")]
    UnexpectedStatus { command: &'static str, sw: StatusWord },
    #[error("malformed answer to {command}: {reason}")]
    Malformed { command: &'static str, reason: &'static str },
    /// `6985`: the card holds no challenge (another GET CHALLENGE, a re-SELECT or a reset came
    /// in between, or it was used).
    #[error("the card holds no reset challenge")]
    ResetNoChallenge,
    /// `6982`: the authorisation is not the card-management key's for this card, target and
    /// challenge (another card was placed, or it was replayed or altered).
    #[error("the card refused the reset authorisation")]
    ResetAuthorisationRefused,
}

impl JpkiError {
    pub fn kind(&self) -> JpkiErrorKind {
        match self {
            JpkiError::Transport(t) => match t.kind() {
                TransportErrorKind::CardRemoved | TransportErrorKind::ReaderUnavailable => JpkiErrorKind::Removed,
                TransportErrorKind::Cancelled => JpkiErrorKind::Cancelled,
                TransportErrorKind::Malformed | TransportErrorKind::Other => JpkiErrorKind::CardFault,
            },
            JpkiError::NotJpki | JpkiError::UnknownToken { .. } => JpkiErrorKind::NotJpki,
            JpkiError::WrongPin { .. } => JpkiErrorKind::WrongPin,
            JpkiError::PinBlocked { .. } => JpkiErrorKind::PinBlocked,
            JpkiError::InvalidPinFormat { .. } => JpkiErrorKind::InvalidPin,
            JpkiError::SecurityStatusNotSatisfied => JpkiErrorKind::SecurityStatus,
            JpkiError::NotPresent => JpkiErrorKind::NotPresent,
            JpkiError::UnexpectedStatus { .. } | JpkiError::Malformed { .. } => JpkiErrorKind::CardFault,
            JpkiError::ResetNoChallenge | JpkiError::ResetAuthorisationRefused => JpkiErrorKind::ResetRefused,
        }
    }
}

/// SHA-256 DigestInfo prefix (jpki.md §5).
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] =
    [0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];

/// An open JPKI application on one token.
pub struct JpkiCard<T: CardTransport> {
    transport: T,
    token: TokenKind,
    apdus: u32,
}

impl<T: CardTransport> fmt::Debug for JpkiCard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JpkiCard").field("token", &self.token).field("apdus", &self.apdus).finish()
    }
}

impl<T: CardTransport> JpkiCard<T> {
    /// Selects the JPKI application and reads the token label: 2 APDUs. A card without the
    /// application is `NotJpki` whatever its ATR says.
    pub fn open(transport: T) -> Result<Self, JpkiError> {
        let mut card = Self { transport, token: TokenKind::Card, apdus: 0 };
        let select = CommandApdu::new(0x00, 0xA4, 0x04, 0x0C).with_data(&JPKI_AID).map_err(internal)?;
        let r = card.exchange(&select)?;
        match r.sw {
            StatusWord::OK => {}
            StatusWord::FILE_NOT_FOUND
            | StatusWord::INCORRECT_P1P2
            | StatusWord::INS_NOT_SUPPORTED
            | StatusWord::CLA_NOT_SUPPORTED => return Err(JpkiError::NotJpki),
            sw => return Err(JpkiError::UnexpectedStatus { command: "SELECT JPKI AP", sw }),
        }
        // READ BINARY by short EF identifier 06, 32 bytes: the label.
        let read = CommandApdu::new(0x00, 0xB0, 0x86, 0x00).with_le(32).map_err(internal)?;
        let r = card.exchange(&read)?;
        if !r.sw.is_ok() {
            return Err(JpkiError::UnexpectedStatus { command: "READ token info", sw: r.sw });
        }
        card.token = TokenKind::from_label(r.data()).ok_or_else(|| JpkiError::UnknownToken {
            label: String::from_utf8_lossy(r.data()).trim_end_matches([' ', '\0']).to_string(),
        })?;
        Ok(card)
    }

    pub fn token(&self) -> TokenKind {
        self.token
    }

    /// APDUs exchanged so far (for the budget in ARCHITECTURE.md §8).
    pub fn apdu_count(&self) -> u32 {
        self.apdus
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    fn exchange(&mut self, c: &CommandApdu) -> Result<ResponseApdu, JpkiError> {
        self.apdus += 1;
        let r = self.transport.transmit(c)?;
        log::trace!("{c:?} -> {r:?}");
        Ok(r)
    }

    /// Reads a certificate: the first 256-byte chunk by short EF identifier gives the DER
    /// length, then exactly the remaining bytes in ≤256-byte reads. Filler after the DER is
    /// never read.
    pub fn read_certificate(&mut self, ef: CertificateEf) -> Result<Vec<u8>, JpkiError> {
        const CMD: &str = "READ certificate";
        let first = CommandApdu::new(0x00, 0xB0, 0x80 | ef.sfi(), 0x00).with_le(256).map_err(internal)?;
        let r = self.exchange(&first)?;
        match r.sw {
            StatusWord::OK => {}
            StatusWord::SECURITY_STATUS_NOT_SATISFIED => return Err(JpkiError::SecurityStatusNotSatisfied),
            StatusWord::FILE_NOT_FOUND => return Err(JpkiError::NotPresent),
            sw => return Err(JpkiError::UnexpectedStatus { command: CMD, sw }),
        }
        let total =
            der_total_length(r.data()).ok_or(JpkiError::Malformed { command: CMD, reason: "not a DER certificate" })?;
        if total > MAX_CERTIFICATE_LEN {
            return Err(JpkiError::Malformed { command: CMD, reason: "certificate length beyond the profile's limit" });
        }
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&r.data()[..r.data().len().min(total)]);
        if out.len() < total && r.data().len() < 256 {
            return Err(JpkiError::Malformed {
                command: CMD,
                reason: "file shorter than the certificate it announces",
            });
        }
        while out.len() < total {
            let offset = out.len();
            let want = (total - offset).min(256);
            let read = CommandApdu::new(0x00, 0xB0, (offset >> 8) as u8 & 0x7F, offset as u8)
                .with_le(want as u16)
                .map_err(internal)?;
            let r = self.exchange(&read)?;
            if !r.sw.is_ok() {
                return Err(JpkiError::UnexpectedStatus { command: CMD, sw: r.sw });
            }
            if r.data().is_empty() || r.data().len() > want {
                return Err(JpkiError::Malformed { command: CMD, reason: "chunk of the wrong length" });
            }
            if r.data().len() < want {
                return Err(JpkiError::Malformed {
                    command: CMD,
                    reason: "file shorter than the certificate it announces",
                });
            }
            out.extend_from_slice(r.data());
        }
        Ok(out)
    }

    /// The PIN's state by empty VERIFY: never spends a try.
    pub fn pin_status(&mut self, kind: PinKind) -> Result<PinStatus, JpkiError> {
        let c = CommandApdu::new(0x00, 0x20, 0x00, 0x80 | kind.sfi());
        let r = self.exchange(&c)?;
        match r.sw {
            StatusWord::OK => Ok(PinStatus::Verified),
            sw => match sw.retry_counter() {
                Some(0) => Ok(PinStatus::Blocked),
                Some(n) if n <= kind.max_tries() => Ok(PinStatus::Tries(PinTries { left: n, max: kind.max_tries() })),
                Some(_) => {
                    Err(JpkiError::Malformed { command: "PIN status", reason: "counter above the PIN's maximum" })
                }
                None if sw == StatusWord::REFERENCE_DATA_NOT_USABLE || sw == StatusWord::AUTH_METHOD_BLOCKED => {
                    Ok(PinStatus::Blocked)
                }
                // No such PIN on this token (no signature password under 15).
                None if sw == StatusWord::FILE_NOT_FOUND => Err(JpkiError::NotPresent),
                None => Err(JpkiError::UnexpectedStatus { command: "PIN status", sw }),
            },
        }
    }

    /// VERIFY. On the iPhone token the kiosk must not send a PIN: call [`Self::pin_status`]
    /// first and skip VERIFY when it answers `Verified`.
    pub fn verify(&mut self, pin: &Pin) -> Result<(), JpkiError> {
        let kind = pin.kind();
        let c = CommandApdu::new(0x00, 0x20, 0x00, 0x80 | kind.sfi()).with_data(pin.as_bytes()).map_err(internal)?;
        let r = self.exchange(&c)?;
        interpret_verify(kind, r.sw)
    }

    /// Signs a DigestInfo (1..=245 bytes) with a key; returns the 256-byte signature.
    pub fn sign_digest_info(&mut self, key: SigningKey, digest_info: &[u8]) -> Result<Vec<u8>, JpkiError> {
        const CMD: &str = "COMPUTE DIGITAL SIGNATURE";
        if digest_info.is_empty() || digest_info.len() > 245 {
            return Err(JpkiError::Malformed { command: CMD, reason: "DigestInfo length outside 1..=245" });
        }
        let p2 = match key {
            SigningKey::UserAuth => 0x97,
            SigningKey::Signature => 0x9A,
        };
        let c = CommandApdu::new(0x80, 0x2A, 0x00, p2)
            .with_data(digest_info)
            .and_then(|c| c.with_le(256))
            .map_err(internal)?;
        let r = self.exchange(&c)?;
        match r.sw {
            StatusWord::OK if r.data().len() == 256 => Ok(r.data().to_vec()),
            StatusWord::OK => Err(JpkiError::Malformed { command: CMD, reason: "signature is not 256 bytes" }),
            StatusWord::SECURITY_STATUS_NOT_SATISFIED => Err(JpkiError::SecurityStatusNotSatisfied),
            StatusWord::FILE_NOT_FOUND => Err(JpkiError::NotPresent),
            sw => Err(JpkiError::UnexpectedStatus { command: CMD, sw }),
        }
    }

    /// Signs a SHA-256 hash (wrapped in its DigestInfo here).
    pub fn sign_sha256(&mut self, key: SigningKey, hash: &[u8; 32]) -> Result<Vec<u8>, JpkiError> {
        self.sign_digest_info(key, &sha256_digest_info(hash))
    }

    /// Changes a PIN: SELECT its EF, VERIFY the old one, CHANGE REFERENCE DATA. Both PINs are
    /// format-checked before anything is sent.
    pub fn change_pin(&mut self, old: &Pin, new: &Pin) -> Result<(), JpkiError> {
        let kind = old.kind();
        if new.kind() != kind {
            return Err(JpkiError::InvalidPinFormat { kind });
        }
        let fid = kind.fid().to_be_bytes();
        let select = CommandApdu::new(0x00, 0xA4, 0x02, 0x0C).with_data(&fid).map_err(internal)?;
        let r = self.exchange(&select)?;
        if !r.sw.is_ok() {
            return Err(JpkiError::UnexpectedStatus { command: "SELECT PIN EF", sw: r.sw });
        }
        let verify = CommandApdu::new(0x00, 0x20, 0x00, 0x80).with_data(old.as_bytes()).map_err(internal)?;
        let r = self.exchange(&verify)?;
        interpret_verify(kind, r.sw)?;
        let change = CommandApdu::new(0x00, 0x24, 0x01, 0x80).with_data(new.as_bytes()).map_err(internal)?;
        let r = self.exchange(&change)?;
        match r.sw {
            StatusWord::OK => Ok(()),
            StatusWord::WRONG_LENGTH => Err(JpkiError::InvalidPinFormat { kind }),
            StatusWord::SECURITY_STATUS_NOT_SATISFIED => Err(JpkiError::SecurityStatusNotSatisfied),
            sw => Err(JpkiError::UnexpectedStatus { command: "CHANGE REFERENCE DATA", sw }),
        }
    }
}

impl<T: CardTransport> JpkiCard<T> {
    /// PIN reset, protocol v1 step 3: SELECT the PIN's EF (`00 A4 02 0C 02 00 18|1B`) and
    /// GET CHALLENGE (`00 84 00 00 08`). The card keeps this challenge until the next GET
    /// CHALLENGE, a re-SELECT of the application, a reset or power-off.
    pub fn reset_challenge(&mut self, kind: PinKind) -> Result<[u8; RESET_CHALLENGE_LEN], JpkiError> {
        const CMD: &str = "GET CHALLENGE";
        self.select_pin_ef(kind)?;
        let c = CommandApdu::new(0x00, 0x84, 0x00, 0x00).with_le(RESET_CHALLENGE_LEN as u16).map_err(internal)?;
        let r = self.exchange(&c)?;
        match r.sw {
            StatusWord::OK => <[u8; RESET_CHALLENGE_LEN]>::try_from(r.data())
                .map_err(|_| JpkiError::Malformed { command: CMD, reason: "challenge is not 8 bytes" }),
            sw => Err(JpkiError::UnexpectedStatus { command: CMD, sw }),
        }
    }

    /// PIN reset, protocol v1 steps 5 and 6: RESET RETRY COUNTER (`00 2C 00 80 Lc
    /// <authorisation> <new>`) on the PIN's EF, then an empty VERIFY that must show a full
    /// counter. The new value is format-checked by [`Pin::new`] before anything is sent.
    pub fn reset_retry_counter(
        &mut self,
        authorisation: &[u8; RESET_AUTHORISATION_LEN],
        new: &Pin,
    ) -> Result<PinTries, JpkiError> {
        const CMD: &str = "RESET RETRY COUNTER";
        let kind = new.kind();
        // SELECT of an EF keeps the challenge; it makes sure the target is the selected EF.
        self.select_pin_ef(kind)?;
        let mut data = zeroize::Zeroizing::new([0u8; RESET_AUTHORISATION_LEN + 16]);
        data[..RESET_AUTHORISATION_LEN].copy_from_slice(authorisation);
        let n = RESET_AUTHORISATION_LEN + new.as_bytes().len();
        data[RESET_AUTHORISATION_LEN..n].copy_from_slice(new.as_bytes());
        let c = CommandApdu::new(0x00, 0x2C, 0x00, 0x80).with_data(&data[..n]).map_err(internal)?;
        let r = self.exchange(&c)?;
        match r.sw {
            StatusWord::OK => {}
            StatusWord::CONDITIONS_NOT_SATISFIED => return Err(JpkiError::ResetNoChallenge),
            StatusWord::SECURITY_STATUS_NOT_SATISFIED => return Err(JpkiError::ResetAuthorisationRefused),
            StatusWord::WRONG_DATA => return Err(JpkiError::InvalidPinFormat { kind }),
            sw => return Err(JpkiError::UnexpectedStatus { command: CMD, sw }),
        }
        match self.pin_status(kind)? {
            PinStatus::Tries(t) if t.left == kind.max_tries() => Ok(t),
            _ => Err(JpkiError::Malformed { command: CMD, reason: "the counter is not full after the reset" }),
        }
    }

    fn select_pin_ef(&mut self, kind: PinKind) -> Result<(), JpkiError> {
        let fid = kind.fid().to_be_bytes();
        let select = CommandApdu::new(0x00, 0xA4, 0x02, 0x0C).with_data(&fid).map_err(internal)?;
        let r = self.exchange(&select)?;
        if !r.sw.is_ok() {
            return Err(JpkiError::UnexpectedStatus { command: "SELECT PIN EF", sw: r.sw });
        }
        Ok(())
    }
}

/// Length of the card's reset challenge (protocol v1).
pub const RESET_CHALLENGE_LEN: usize = 8;
/// Length of the backend's reset authorisation (an Ed25519 signature).
pub const RESET_AUTHORISATION_LEN: usize = 64;

fn interpret_verify(kind: PinKind, sw: StatusWord) -> Result<(), JpkiError> {
    match sw {
        StatusWord::OK => Ok(()),
        StatusWord::REFERENCE_DATA_NOT_USABLE | StatusWord::AUTH_METHOD_BLOCKED => Err(JpkiError::PinBlocked { kind }),
        StatusWord::WRONG_LENGTH => Err(JpkiError::InvalidPinFormat { kind }),
        StatusWord::SECURITY_STATUS_NOT_SATISFIED => Err(JpkiError::SecurityStatusNotSatisfied),
        sw => match sw.retry_counter() {
            Some(0) => Err(JpkiError::PinBlocked { kind }),
            // A wrong PIN leaves at most max-1 tries; anything else is not a counter we can trust.
            Some(n) if n < kind.max_tries() => Err(JpkiError::WrongPin { kind, tries_left: n }),
            _ => Err(JpkiError::UnexpectedStatus { command: "VERIFY", sw }),
        },
    }
}

/// The SHA-256 DigestInfo for a hash.
pub fn sha256_digest_info(hash: &[u8; 32]) -> [u8; 51] {
    let mut di = [0u8; 51];
    di[..19].copy_from_slice(&SHA256_DIGEST_INFO_PREFIX);
    di[19..].copy_from_slice(hash);
    di
}

/// Total length of the DER element whose header starts `data` (`30 LL`, `30 81 LL`, `30 82 LL LL`).
pub fn der_total_length(data: &[u8]) -> Option<usize> {
    match data {
        [0x30, l, ..] if *l < 0x80 => Some(2 + *l as usize),
        [0x30, 0x81, l, ..] if *l >= 0x80 => Some(3 + *l as usize),
        [0x30, 0x82, h, l, ..] => {
            let n = u16::from_be_bytes([*h, *l]) as usize;
            (n >= 0x100).then_some(4 + n)
        }
        _ => None,
    }
}

fn internal(e: crate::iso7816::ApduError) -> JpkiError {
    // Only reachable if this module builds an APDU that breaks the short-APDU limits.
    log::error!("internal APDU construction error: {e}");
    JpkiError::Malformed { command: "APDU construction", reason: "internal limit exceeded" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A scripted card: answers from a queue and records the commands (headers only).
    struct Script {
        answers: VecDeque<Vec<u8>>,
        sent: Vec<[u8; 4]>,
    }

    impl Script {
        fn new(answers: &[&[u8]]) -> Self {
            Self { answers: answers.iter().map(|a| a.to_vec()).collect(), sent: Vec::new() }
        }
    }

    impl CardTransport for Script {
        fn transmit(&mut self, c: &CommandApdu) -> Result<ResponseApdu, TransportError> {
            self.sent.push([c.cla, c.ins, c.p1, c.p2]);
            let a = self.answers.pop_front().ok_or(TransportError::CardRemoved)?;
            Ok(ResponseApdu::from_bytes(&a)?)
        }
    }

    fn label(l: &str) -> Vec<u8> {
        let mut v = l.as_bytes().to_vec();
        v.resize(32, b' ');
        v.extend_from_slice(&[0x90, 0x00]);
        v
    }

    fn opened(rest: &[&[u8]]) -> JpkiCard<Script> {
        let lab = label("JPKIAPICCTOKEN2");
        let mut answers: Vec<&[u8]> = vec![&[0x90, 0x00], &lab];
        answers.extend_from_slice(rest);
        JpkiCard::open(Script::new(&answers)).unwrap()
    }

    #[test]
    fn open_identifies_token_by_label_not_atr() {
        for (l, k) in [
            ("JPKIAPICCTOKEN2", TokenKind::Card),
            ("JPKIAPGPSETOKEN", TokenKind::Android),
            ("JPKIAPIOSTOKEN", TokenKind::Iphone),
            ("JPKIAPICCTOKEN", TokenKind::LegacyJukiCard),
        ] {
            let lab = label(l);
            let c = JpkiCard::open(Script::new(&[&[0x90, 0x00], &lab])).unwrap();
            assert_eq!(c.token(), k);
            assert_eq!(c.apdu_count(), 2);
        }
        let e = JpkiCard::open(Script::new(&[&[0x6A, 0x82]])).unwrap_err();
        assert_eq!(e.kind(), JpkiErrorKind::NotJpki);
        let bad = label("SOMETHING ELSE");
        let e = JpkiCard::open(Script::new(&[&[0x90, 0x00], &bad])).unwrap_err();
        assert!(matches!(e, JpkiError::UnknownToken { .. }));
    }

    fn fake_cert(total: usize) -> Vec<u8> {
        let mut v = vec![0x30, 0x82, ((total - 4) >> 8) as u8, (total - 4) as u8];
        v.extend((4..total).map(|i| i as u8));
        v
    }

    fn with_ok(d: &[u8]) -> Vec<u8> {
        let mut v = d.to_vec();
        v.extend_from_slice(&[0x90, 0x00]);
        v
    }

    #[test]
    fn certificate_read_uses_exact_chunks() {
        let cert = fake_cert(1300);
        let chunks: Vec<Vec<u8>> = cert.chunks(256).map(with_ok).collect();
        let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
        let mut card = opened(&refs);
        let got = card.read_certificate(CertificateEf::UserAuth).unwrap();
        assert_eq!(got, cert);
        // 2 to open + ceil(1300/256) = 6 reads.
        assert_eq!(card.apdu_count(), 8);
        let sent = &card.transport().sent;
        assert_eq!(sent[2], [0x00, 0xB0, 0x8A, 0x00]);
        assert_eq!(sent[3], [0x00, 0xB0, 0x01, 0x00]);
        assert_eq!(sent[7], [0x00, 0xB0, 0x05, 0x00]);
    }

    #[test]
    fn certificate_read_rejects_lies() {
        // Announces 1300 bytes but the file ends early.
        let cert = fake_cert(1300);
        let short = with_ok(&cert[..100]);
        let mut card = opened(&[&short]);
        assert_eq!(card.read_certificate(CertificateEf::UserAuth).unwrap_err().kind(), JpkiErrorKind::CardFault);
        // Not DER at all.
        let junk = with_ok(&[0xFF; 256]);
        let mut card = opened(&[&junk]);
        assert!(matches!(card.read_certificate(CertificateEf::UserAuth), Err(JpkiError::Malformed { .. })));
        // Absurdly long.
        let huge = with_ok(&[0x30, 0x82, 0x7F, 0xFF]);
        let mut card = opened(&[&huge]);
        assert!(matches!(card.read_certificate(CertificateEf::UserAuth), Err(JpkiError::Malformed { .. })));
        // Signature certificate before the password.
        let mut card = opened(&[&[0x69, 0x82]]);
        assert!(matches!(card.read_certificate(CertificateEf::Signature), Err(JpkiError::SecurityStatusNotSatisfied)));
        let mut card = opened(&[&[0x6A, 0x82]]);
        assert!(matches!(card.read_certificate(CertificateEf::Signature), Err(JpkiError::NotPresent)));
    }

    #[test]
    fn pin_status_never_guesses() {
        let mut card =
            opened(&[&[0x63, 0xC3], &[0x63, 0xC0], &[0x90, 0x00], &[0x63, 0xC9], &[0x6F, 0x00], &[0x69, 0x84]]);
        assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), PinStatus::Tries(PinTries { left: 3, max: 3 }));
        assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), PinStatus::Blocked);
        assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), PinStatus::Verified);
        assert!(matches!(card.pin_status(PinKind::UserAuth), Err(JpkiError::Malformed { .. })));
        assert!(matches!(card.pin_status(PinKind::UserAuth), Err(JpkiError::UnexpectedStatus { .. })));
        assert_eq!(card.pin_status(PinKind::UserAuth).unwrap(), PinStatus::Blocked);
        assert_eq!(card.transport().sent[2], [0x00, 0x20, 0x00, 0x98]);
    }

    #[test]
    fn verify_maps_counters_to_typed_errors() {
        let pin = Pin::new(PinKind::UserAuth, "1234").unwrap();
        let mut card =
            opened(&[&[0x63, 0xC2], &[0x63, 0xC1], &[0x63, 0xC0], &[0x69, 0x84], &[0x90, 0x00], &[0x63, 0xC3]]);
        assert!(matches!(card.verify(&pin), Err(JpkiError::WrongPin { tries_left: 2, .. })));
        assert!(matches!(card.verify(&pin), Err(JpkiError::WrongPin { tries_left: 1, .. })));
        assert!(matches!(card.verify(&pin), Err(JpkiError::PinBlocked { .. })));
        assert!(matches!(card.verify(&pin), Err(JpkiError::PinBlocked { .. })));
        card.verify(&pin).unwrap();
        // 63C3 after a VERIFY with data cannot be a wrong-PIN answer for a 3-try PIN.
        assert!(matches!(card.verify(&pin), Err(JpkiError::UnexpectedStatus { .. })));
    }

    #[test]
    fn pins_are_checked_before_sending_and_hidden() {
        for bad in ["123", "12345", "12a4", ""] {
            assert!(matches!(Pin::new(PinKind::UserAuth, bad), Err(JpkiError::InvalidPinFormat { .. })));
        }
        for bad in ["abcdef", "123456", "ab1", "ABCDEFGHIJ1234567", "abc-123"] {
            assert!(Pin::new(PinKind::Signature, bad).is_err(), "{bad}");
        }
        let p = Pin::new(PinKind::Signature, "abc123").unwrap();
        assert_eq!(p.as_bytes(), b"ABC123");
        assert!(!format!("{p:?}").contains("ABC"));
        let e = Pin::new(PinKind::UserAuth, "12x4").unwrap_err();
        assert!(!format!("{e:?} {e}").contains("12x4"));
    }

    /// A pad's digits (numbers) become the ASCII the card wants only inside the PIN's own
    /// buffer, and moving the PIN moves a pointer: the digits stay where they were written.
    #[test]
    fn a_pin_from_a_pads_digits_is_ascii_on_the_heap_only() {
        let p = Pin::user_auth_from_digits(&[8, 5, 7, 0]).unwrap();
        assert_eq!((p.kind(), p.as_bytes()), (PinKind::UserAuth, &b"8570"[..]));
        let at = p.as_bytes().as_ptr();
        let moved = Box::new(p);
        assert_eq!(moved.as_bytes().as_ptr(), at, "a move does not copy the digits");
        assert_eq!(core::mem::size_of::<Pin>(), core::mem::size_of::<usize>() * 2, "a pointer, kind and length");
        for bad in [&[8, 5, 7][..], &[8, 5, 7, 3, 1], &[8, 5, 10, 3]] {
            assert!(Pin::user_auth_from_digits(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn signing_checks_the_answer() {
        let mut sig = vec![7u8; 256];
        sig.extend_from_slice(&[0x90, 0x00]);
        let mut card = opened(&[&sig, &[1, 2, 0x90, 0x00], &[0x69, 0x82]]);
        let h = [0u8; 32];
        assert_eq!(card.sign_sha256(SigningKey::UserAuth, &h).unwrap(), vec![7u8; 256]);
        assert!(matches!(card.sign_sha256(SigningKey::UserAuth, &h), Err(JpkiError::Malformed { .. })));
        assert!(matches!(card.sign_sha256(SigningKey::UserAuth, &h), Err(JpkiError::SecurityStatusNotSatisfied)));
        assert_eq!(card.transport().sent[2], [0x80, 0x2A, 0x00, 0x97]);
    }

    #[test]
    fn reset_sends_the_protocols_apdus_and_maps_refusals() {
        let ok: &[u8] = &[0x90, 0x00];
        let challenge: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 0x90, 0x00];
        let new = Pin::new(PinKind::UserAuth, "0420").unwrap();
        let auth = [9u8; RESET_AUTHORISATION_LEN];
        // challenge; reset + full counter; then 6985, 6982, 6A80; a short counter after 9000.
        let mut card = opened(&[
            ok,
            challenge,
            ok,
            ok,
            &[0x63, 0xC3],
            ok,
            &[0x69, 0x85],
            ok,
            &[0x69, 0x82],
            ok,
            &[0x6A, 0x80],
            ok,
            ok,
            &[0x63, 0xC2],
        ]);
        assert_eq!(card.reset_challenge(PinKind::UserAuth).unwrap(), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(card.reset_retry_counter(&auth, &new).unwrap(), PinTries { left: 3, max: 3 });
        assert!(matches!(card.reset_retry_counter(&auth, &new), Err(JpkiError::ResetNoChallenge)));
        let e = card.reset_retry_counter(&auth, &new).unwrap_err();
        assert!(matches!(e, JpkiError::ResetAuthorisationRefused));
        assert_eq!(e.kind(), JpkiErrorKind::ResetRefused);
        assert!(matches!(card.reset_retry_counter(&auth, &new), Err(JpkiError::InvalidPinFormat { .. })));
        assert!(matches!(card.reset_retry_counter(&auth, &new), Err(JpkiError::Malformed { .. })));
        let sent = &card.transport().sent;
        assert_eq!(sent[2], [0x00, 0xA4, 0x02, 0x0C]);
        assert_eq!(sent[3], [0x00, 0x84, 0x00, 0x00]);
        assert_eq!(sent[5], [0x00, 0x2C, 0x00, 0x80]);
        assert_eq!(sent[6], [0x00, 0x20, 0x00, 0x98]);
        // A challenge of the wrong length is not used.
        let mut card = opened(&[ok, &[1, 2, 3, 0x90, 0x00]]);
        assert!(matches!(card.reset_challenge(PinKind::Signature), Err(JpkiError::Malformed { .. })));
    }

    #[test]
    fn der_header_lengths() {
        assert_eq!(der_total_length(&[0x30, 0x82, 0x05, 0x10]), Some(0x514));
        assert_eq!(der_total_length(&[0x30, 0x81, 0x90]), Some(0x93));
        assert_eq!(der_total_length(&[0x30, 0x05]), Some(7));
        assert_eq!(der_total_length(&[0x30, 0x82, 0x00, 0x10]), None);
        assert_eq!(der_total_length(&[0x31, 0x05]), None);
        assert_eq!(der_total_length(&[0x30]), None);
    }
}
