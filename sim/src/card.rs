//! The virtual JPKI card engine: command APDU bytes in, response APDU bytes out.
//!
//! Sans-IO on purpose (no socket, no file, no clock): the vpcd link, the tests and any future
//! transport drive the same engine, and every behaviour can be unit-tested byte for byte.
//! Behaviour follows `reference/jpki.md` §2–§5, §7, §9–§10, its "Our decisions" list and "PIN
//! reset at the kiosk: our protocol (v1)" (GET CHALLENGE + RESET RETRY COUNTER). Where that page
//! leaves a gap, the choice is written next to the code as "Gap:".
//!
//! The engine owns the [`CardProfile`]; retry counters and PINs are changed in it directly and
//! [`VirtualCard::take_dirty`] tells the I/O layer to store it *before* it sends the response, so
//! no try is ever lost to a killed process.

use crate::profile::{CardProfile, EmptyVerifyAfterSuccess, PinRecord, TokenKind};
use madoguchi_api::pin_reset::{self, ResetCredential, AUTHORISATION_LEN, CHALLENGE_LEN};
use madoguchi_drivers::iso7816::{ParsedCommand, StatusWord};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use zeroize::Zeroize;

/// 公的個人認証AP.
pub const JPKI_AID: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
/// 券面事項入力補助AP.
pub const TEXT_AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
/// The card's contact ATR (jpki.md §1); GET DATA 5F51 answers it without TS.
pub const ATR_CONTACT: [u8; 19] =
    [0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12, 0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B];
/// A PC/SC part 3 ATR of the card on a contactless reader (jpki.md §1).
pub const ATR_CONTACTLESS: [u8; 13] = [0x3B, 0x88, 0x80, 0x01, 0x00, 0x00, 0x05, 0xE0, 0xB3, 0x81, 0xA1, 0x00, 0x7F];

/// Largest DigestInfo a 2048-bit key can pad with PKCS#1 v1.5 type 01 (256 − 11).
const MAX_DIGEST_INFO: usize = 245;
/// Largest response data that still fits a vpcd frame (16-bit length) with SW1 SW2.
const MAX_RESPONSE_DATA: usize = 0xFFFF - 2;

/// Answered by the I/O layer when the profile could not be stored ("memory failure").
pub const SW_MEMORY_FAILURE: StatusWord = StatusWord(0x6581);
/// "Incorrect parameters in the data field": RESET RETRY COUNTER's new value breaks the rule.
const SW_WRONG_DATA: StatusWord = StatusWord(0x6A80);

/// The applications this card answers to; every other AID is "not found".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Df {
    Jpki,
    Text,
}

/// The PINs, also the index into the verified-state array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pin {
    /// JPKI EF 0018.
    Auth = 0,
    /// JPKI EF 001B.
    Sign = 1,
    /// Text AP EF 0011.
    Text = 2,
}

/// The two JPKI private keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// EF 0017, unlocked by EF 0018.
    Auth,
    /// EF 001A, unlocked by EF 001B.
    Sign,
}

impl Key {
    fn pin(self) -> Pin {
        match self {
            Key::Auth => Pin::Auth,
            Key::Sign => Pin::Sign,
        }
    }
}

/// The elementary files the engine knows, independent of their FID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ef {
    SignCert,
    SignCa,
    TokenInfo,
    Availability,
    AuthCert,
    AuthCa,
    Key(Key),
    Pin(Pin),
    MyNumber,
    Basic4,
}

type Reply = Result<Vec<u8>, StatusWord>;

/// One virtual My Number Card (or phone token) with its volatile state.
pub struct VirtualCard {
    profile: CardProfile,
    token: TokenKind,
    auth_key: Option<RsaPrivateKey>,
    sign_key: Option<RsaPrivateKey>,
    df: Option<Df>,
    ef: Option<Ef>,
    verified: [bool; 3],
    /// The one outstanding GET CHALLENGE answer a RESET RETRY COUNTER may use: `None` when the
    /// last GET CHALLENGE was not 8 bytes, or once it was used or dropped.
    challenge: Option<[u8; CHALLENGE_LEN]>,
    dirty: bool,
    rng: ChaCha20Rng,
}

/// Debug never shows the profile (it holds keys) nor anything PIN-related beyond counters.
impl std::fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualCard")
            .field("holder", &self.profile.holder)
            .field("token", &self.token)
            .field("df", &self.df)
            .field("ef", &self.ef)
            .field("verified", &self.verified)
            .field("challenge", &self.challenge.is_some())
            .field("dirty", &self.dirty)
            .finish_non_exhaustive()
    }
}

/// Why a profile cannot back a virtual card (checked once at start so the CLI can refuse it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileProblem {
    #[error("the {which} private key is not a valid PKCS#8 RSA key")]
    BadKey { which: &'static str },
    #[error("the {which} private key is {bits} bits, a JPKI key is 2048")]
    KeySize { which: &'static str, bits: usize },
}

/// Checks what [`VirtualCard::new`] would otherwise only discover when asked to sign.
pub fn check_profile(profile: &CardProfile) -> Result<(), ProfileProblem> {
    use rsa::traits::PublicKeyParts;
    let mut keys = vec![("user-authentication", Some(&profile.jpki.auth_key_pkcs8))];
    keys.push(("signature", profile.jpki.sign_key_pkcs8.as_ref()));
    for (which, der) in keys {
        let Some(der) = der else { continue };
        let key = RsaPrivateKey::from_pkcs8_der(der).map_err(|_| ProfileProblem::BadKey { which })?;
        let bits = key.size() * 8;
        if bits != 2048 {
            return Err(ProfileProblem::KeySize { which, bits });
        }
    }
    Ok(())
}

impl VirtualCard {
    /// A powered-off card. `token` may differ from `profile.token` (CLI override); the profile's
    /// own field is left as it is so storing the counters never rewrites what the card is.
    pub fn new(profile: CardProfile, token: TokenKind) -> Self {
        let parse = |der: &[u8], which: &str| match RsaPrivateKey::from_pkcs8_der(der) {
            Ok(k) => Some(k),
            Err(_) => {
                log::warn!("{which} key of {} does not parse; signing will answer 6F00", profile.holder);
                None
            }
        };
        let auth_key = parse(&profile.jpki.auth_key_pkcs8, "user-authentication");
        let sign_key = profile.jpki.sign_key_pkcs8.as_deref().and_then(|d| parse(d, "signature"));
        // Deterministic by default (tests); the CLI reseeds from the OS with `seed_rng`.
        let mut h = Sha256::new();
        h.update(b"madoguchi-sim card rng");
        h.update(profile.holder.as_bytes());
        h.update(&profile.jpki.auth_cert);
        let rng = ChaCha20Rng::from_seed(h.finalize().into());
        Self {
            profile,
            token,
            auth_key,
            sign_key,
            df: None,
            ef: None,
            verified: [false; 3],
            challenge: None,
            dirty: false,
            rng,
        }
    }

    /// Replaces the GET CHALLENGE / PSS-salt RNG seed.
    pub fn seed_rng(&mut self, seed: [u8; 32]) {
        self.rng = ChaCha20Rng::from_seed(seed);
    }

    pub fn profile(&self) -> &CardProfile {
        &self.profile
    }

    pub fn token(&self) -> TokenKind {
        self.token
    }

    /// True once after a retry counter or PIN changed: store the profile before answering.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Marks the profile as still unsaved (after a failed store), so the next call retries.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Cold start: nothing selected, no PIN verified, no challenge (jpki.md §10).
    pub fn power_on(&mut self) {
        self.clear_volatile();
    }

    /// Warm reset: same effect as power-on.
    pub fn reset(&mut self) {
        self.clear_volatile();
    }

    /// Power off (or card pulled): volatile state is gone.
    pub fn power_off(&mut self) {
        self.clear_volatile();
    }

    fn clear_volatile(&mut self) {
        self.df = None;
        self.ef = None;
        self.verified = [false; 3];
        self.challenge = None;
    }

    /// Processes one command APDU and returns the full response APDU (data ‖ SW1 SW2).
    /// Never panics: malformed input gets a status word.
    pub fn process(&mut self, command: &[u8]) -> Vec<u8> {
        let (mut data, sw) = match self.dispatch(command) {
            Ok(data) => (data, StatusWord::OK),
            Err(sw) => (Vec::new(), sw),
        };
        data.extend_from_slice(&sw.to_bytes());
        data
    }

    fn dispatch(&mut self, raw: &[u8]) -> Reply {
        if raw.len() < 4 {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let (cla, ins) = (raw[0], raw[1]);
        // Only the interindustry 0X and proprietary 8X classes, no chaining (x1X).
        if cla & 0x70 != 0 {
            return Err(StatusWord::CLA_NOT_SUPPORTED);
        }
        if cla & 0x03 != 0 {
            return Err(StatusWord::LOGICAL_CHANNEL_NOT_SUPPORTED);
        }
        if cla & 0x0C != 0 {
            // jpki.md §1: SELECT says 6882, READ BINARY / VERIFY say 69FC.
            return Err(match ins {
                0xB0 | 0x20 => StatusWord::SM_DATA_OBJECTS_INCORRECT,
                _ => StatusWord::SECURE_MESSAGING_NOT_SUPPORTED,
            });
        }
        let proprietary = cla & 0x80 != 0;
        let iso_ins = matches!(ins, 0xA4 | 0xB0 | 0x20 | 0x24 | 0x2C | 0x84 | 0xCA);
        let prop_ins = matches!(ins, 0x2A | 0xFC);
        if !iso_ins && !prop_ins {
            return Err(StatusWord::INS_NOT_SUPPORTED);
        }
        // Gap: an ISO INS under CLA 80 (or 2A/FC under CLA 00) is a class error.
        if iso_ins == proprietary {
            return Err(StatusWord::CLA_NOT_SUPPORTED);
        }
        let c = ParsedCommand::parse(raw).map_err(|_| StatusWord::WRONG_LENGTH)?;
        match ins {
            0xA4 => self.select(&c),
            0xB0 => self.read_binary(&c),
            0x20 => self.verify(&c),
            0x24 => self.change_reference_data(&c),
            0x2C => self.reset_retry_counter(&c),
            0x84 => self.get_challenge(&c),
            0xCA => self.get_data(&c),
            0x2A => self.compute_signature(&c),
            _ => self.last_command(&c),
        }
    }

    // ---- file system ----

    /// The text AP exists only on a card (phones carry none, jpki.md §8), even if a card profile
    /// is run with `--token android|iphone`.
    fn has_text_ap(&self) -> bool {
        self.token == TokenKind::Card && self.profile.text_ap.is_some()
    }

    /// The EF with this FID in the current DF, if the card has it.
    fn lookup(&self, fid: u16) -> Option<Ef> {
        let j = &self.profile.jpki;
        match self.df? {
            Df::Jpki => match fid {
                0x0001 if j.sign_cert.is_some() => Some(Ef::SignCert),
                0x0002 => Some(Ef::SignCa),
                0x0006 => Some(Ef::TokenInfo),
                0x0008 => Some(Ef::Availability),
                0x000A => Some(Ef::AuthCert),
                0x000B => Some(Ef::AuthCa),
                0x0017 => Some(Ef::Key(Key::Auth)),
                0x0018 => Some(Ef::Pin(Pin::Auth)),
                0x001A if j.sign_key_pkcs8.is_some() => Some(Ef::Key(Key::Sign)),
                0x001B if j.sign_password.is_some() => Some(Ef::Pin(Pin::Sign)),
                _ => None,
            },
            Df::Text => match fid {
                0x0001 => Some(Ef::MyNumber),
                0x0002 => Some(Ef::Basic4),
                0x0011 => Some(Ef::Pin(Pin::Text)),
                _ => None,
            },
        }
    }

    fn select(&mut self, c: &ParsedCommand<'_>) -> Reply {
        match c.p1 {
            0x04 => {
                // P2 0C = no FCI (what every client sends); 00 = FCI wanted. Gap: the FCI is
                // unknown, so both answer a bare 9000.
                if !matches!(c.p2, 0x00 | 0x0C) {
                    return Err(StatusWord::INCORRECT_P1P2);
                }
                let df = if c.data == JPKI_AID {
                    Df::Jpki
                } else if c.data == TEXT_AID && self.has_text_ap() {
                    Df::Text
                } else {
                    // Every other AID, including those OpenSC's other drivers probe.
                    return Err(StatusWord::FILE_NOT_FOUND);
                };
                // Selecting a DF (even the same one again) ends its session: PIN state and the
                // outstanding challenge are gone (jpki.md "PIN reset", step 3). Gap: a SELECT
                // that fails (6A82) changes nothing, like the verified state.
                self.df = Some(df);
                self.ef = None;
                self.verified = [false; 3];
                self.challenge = None;
                Ok(Vec::new())
            }
            0x02 => {
                if !matches!(c.p2, 0x00 | 0x0C) {
                    return Err(StatusWord::INCORRECT_P1P2);
                }
                let [hi, lo] = c.data else { return Err(StatusWord::WRONG_LENGTH) };
                let ef = self.lookup(u16::from_be_bytes([*hi, *lo])).ok_or(StatusWord::FILE_NOT_FOUND)?;
                // Verified state is per DF: selecting an EF keeps it (jpki.md §10), and so is the
                // outstanding challenge (the kiosk selects the target PIN EF after GET CHALLENGE
                // or before it, either works).
                self.ef = Some(ef);
                Ok(Vec::new())
            }
            // jpki.md §2: `00 A4 00 00` is broken on the card (6A86); by FID (3F00…) nothing is
            // found, because only P1=02 selects EFs.
            0x00 if c.data.is_empty() => Err(StatusWord::INCORRECT_P1P2),
            // Gap: other selection methods with data (child DF, path) find nothing, like P1=00.
            0x00 | 0x01 | 0x08 | 0x09 if !c.data.is_empty() => Err(StatusWord::FILE_NOT_FOUND),
            _ => Err(StatusWord::INCORRECT_P1P2),
        }
    }

    /// iPhone tokens are unlocked by Face ID before the tap (jpki.md §10 decisions), for both
    /// JPKI credentials. Gap: the signature credential too, since the phone asks for biometrics
    /// for every use; the text AP has no iPhone form.
    fn is_verified(&self, pin: Pin) -> bool {
        self.verified[pin as usize] || (self.token == TokenKind::Iphone && pin != Pin::Text)
    }

    /// The EF's content, or why it cannot be read.
    fn content(&self, ef: Ef) -> Result<Cow<'_, [u8]>, StatusWord> {
        let j = &self.profile.jpki;
        let need = |pin| if self.is_verified(pin) { Ok(()) } else { Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED) };
        Ok(match ef {
            Ef::SignCert => {
                need(Pin::Sign)?;
                Cow::Borrowed(j.sign_cert.as_deref().unwrap_or_default())
            }
            Ef::SignCa => Cow::Borrowed(&j.sign_ca_cert),
            Ef::TokenInfo => Cow::Owned(token_info(self.token)),
            Ef::Availability => Cow::Owned(vec![if j.sign_cert.is_some() { 0x8F } else { 0x00 }, 0x8F, 0x00]),
            Ef::AuthCert => {
                if self.token == TokenKind::Android {
                    need(Pin::Auth)?;
                }
                Cow::Borrowed(&j.auth_cert)
            }
            Ef::AuthCa => Cow::Borrowed(&j.auth_ca_cert),
            // Gap: keys and PINs are never readable whatever is verified, so "command
            // incompatible with the file" (6986) rather than "security status" (6982).
            Ef::Key(_) | Ef::Pin(_) => return Err(StatusWord::COMMAND_NOT_ALLOWED_NO_EF),
            Ef::MyNumber | Ef::Basic4 => {
                need(Pin::Text)?;
                let t = self.profile.text_ap.as_ref().ok_or(StatusWord::FILE_NOT_FOUND)?;
                Cow::Owned(if ef == Ef::MyNumber { my_number_ef(&t.my_number) } else { basic4_ef(t) })
            }
        })
    }

    fn read_binary(&mut self, c: &ParsedCommand<'_>) -> Reply {
        if !c.data.is_empty() {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let ne = c.ne.ok_or(StatusWord::WRONG_LENGTH)? as usize;
        let (ef, offset) = if c.p1 & 0x80 != 0 {
            // Short EF identifier: P1 = 100x xxxx, P2 = 8-bit offset; selects the EF.
            let sfi = c.p1 & 0x1F;
            if c.p1 & 0x60 != 0 || sfi == 0 {
                return Err(StatusWord::INCORRECT_P1P2);
            }
            let ef = self.lookup(u16::from(sfi)).ok_or(StatusWord::FILE_NOT_FOUND)?;
            self.ef = Some(ef);
            (ef, usize::from(c.p2))
        } else {
            let ef = self.ef.ok_or(StatusWord::COMMAND_NOT_ALLOWED_NO_EF)?;
            (ef, usize::from(u16::from_be_bytes([c.p1, c.p2])))
        };
        let content = self.content(ef)?;
        if offset >= content.len() {
            return Err(StatusWord::WRONG_P1P2_OFFSET);
        }
        let end = content.len().min(offset + ne.min(MAX_RESPONSE_DATA));
        Ok(content[offset..end].to_vec())
    }

    // ---- PINs ----

    /// The PIN named by VERIFY / CHANGE REFERENCE DATA P2: `80` = the selected EF, `80|SFI`.
    fn pin_for(&self, p2: u8) -> Result<Pin, StatusWord> {
        match p2 {
            0x80 => match self.ef {
                Some(Ef::Pin(pin)) => Ok(pin),
                // Gap: a selected EF that is not a PIN is as good as none.
                _ => Err(StatusWord::COMMAND_NOT_ALLOWED_NO_EF),
            },
            0x81..=0x9E => match self.lookup(u16::from(p2 & 0x1F)) {
                Some(Ef::Pin(pin)) => Ok(pin),
                None if self.df == Some(Df::Jpki) && p2 == 0x9B => Err(StatusWord::FILE_NOT_FOUND),
                _ => Err(StatusWord::INCORRECT_P1P2),
            },
            _ => Err(StatusWord::INCORRECT_P1P2),
        }
    }

    fn pin_record(&self, pin: Pin) -> Option<&PinRecord> {
        match pin {
            Pin::Auth => Some(&self.profile.jpki.auth_pin),
            Pin::Sign => self.profile.jpki.sign_password.as_ref(),
            Pin::Text => self.profile.text_ap.as_ref().map(|t| &t.pin),
        }
    }

    fn pin_record_mut(&mut self, pin: Pin) -> Option<&mut PinRecord> {
        match pin {
            Pin::Auth => Some(&mut self.profile.jpki.auth_pin),
            Pin::Sign => self.profile.jpki.sign_password.as_mut(),
            Pin::Text => self.profile.text_ap.as_mut().map(|t| &mut t.pin),
        }
    }

    fn verify(&mut self, c: &ParsedCommand<'_>) -> Reply {
        if c.p1 != 0x00 {
            return Err(StatusWord::INCORRECT_P1P2);
        }
        if c.ne.is_some() {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let pin = self.pin_for(c.p2)?;
        if self.token == TokenKind::Iphone && pin != Pin::Text {
            // Gap: the kiosk must never send a PIN to an iPhone; refuse it visibly and touch no
            // counter (6985 "conditions of use not satisfied").
            return if c.data.is_empty() { Ok(Vec::new()) } else { Err(StatusWord::CONDITIONS_NOT_SATISFIED) };
        }
        let after_success = self.profile.jpki.empty_verify_after_success;
        let verified = self.verified[pin as usize];
        let rec = self.pin_record(pin).ok_or(StatusWord::FILE_NOT_FOUND)?;
        let (tries, max) = (rec.tries_left, rec.max_tries);
        if c.data.is_empty() {
            // Gap: the profile's choice applies to the text AP PIN too (one card, one firmware).
            return if tries > 0 && verified && after_success == EmptyVerifyAfterSuccess::Ok {
                Ok(Vec::new())
            } else {
                Err(StatusWord::with_counter(tries))
            };
        }
        if tries == 0 {
            return Err(StatusWord::REFERENCE_DATA_NOT_USABLE);
        }
        // Only the length is checked before comparing: the card compares bytes, so a lowercase
        // password is simply wrong and costs a try (jpki.md §4).
        if !length_ok(pin, c.data.len()) {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let matches = constant_time_eq(c.data, rec.value.as_bytes());
        let rec = self.pin_record_mut(pin).ok_or(StatusWord::FILE_NOT_FOUND)?;
        if matches {
            if rec.tries_left != max {
                rec.tries_left = max;
                self.dirty = true;
            }
            self.verified[pin as usize] = true;
            Ok(Vec::new())
        } else {
            rec.tries_left = tries - 1;
            self.dirty = true;
            self.verified[pin as usize] = false;
            Err(StatusWord::with_counter(tries - 1))
        }
    }

    fn change_reference_data(&mut self, c: &ParsedCommand<'_>) -> Reply {
        // P1=01: the data is the new value only (the old one was VERIFYed before).
        if c.p1 != 0x01 {
            return Err(StatusWord::INCORRECT_P1P2);
        }
        if c.ne.is_some() {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let pin = self.pin_for(c.p2)?;
        if self.token == TokenKind::Iphone && pin != Pin::Text {
            return Err(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        let rec = self.pin_record(pin).ok_or(StatusWord::FILE_NOT_FOUND)?;
        if rec.tries_left == 0 {
            return Err(StatusWord::REFERENCE_DATA_NOT_USABLE);
        }
        if !self.verified[pin as usize] {
            return Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        if !new_value_ok(pin, c.data) {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let value = String::from_utf8(c.data.to_vec()).map_err(|_| StatusWord::WRONG_LENGTH)?;
        let rec = self.pin_record_mut(pin).ok_or(StatusWord::FILE_NOT_FOUND)?;
        rec.value.zeroize();
        rec.value = value;
        rec.tries_left = rec.max_tries;
        self.dirty = true;
        Ok(Vec::new())
    }

    /// RESET RETRY COUNTER `00 2C 00 80 Lc <authorisation 64> <new value>`, our PIN-reset
    /// protocol v1 (jpki.md "PIN reset at the kiosk"): the card-management key's signature over
    /// this target, the outstanding challenge and this card's EF 000A authorises a new value
    /// with a full counter, even on a blocked PIN.
    fn reset_retry_counter(&mut self, c: &ParsedCommand<'_>) -> Reply {
        // Only P1=00 (authorisation and new value in the data) and P2=80 (the selected EF).
        if c.p1 != 0x00 || c.p2 != 0x80 {
            return Err(StatusWord::INCORRECT_P1P2);
        }
        if c.ne.is_some() {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let (pin, credential) = match self.ef {
            Some(Ef::Pin(Pin::Auth)) => (Pin::Auth, ResetCredential::AuthPin),
            Some(Ef::Pin(Pin::Sign)) => (Pin::Sign, ResetCredential::SignPassword),
            // Gap: the text AP's PIN (EF 0011) has no reset in this protocol; like any EF that
            // is not a resettable PIN, 6986 "command not allowed".
            _ => return Err(StatusWord::COMMAND_NOT_ALLOWED_NO_EF),
        };
        // Our decision: phone tokens are reset in the Mynaportal app, not at a kiosk (jpki.md
        // §8), so an Android or iPhone token refuses the command (6985) whatever it carries and
        // touches nothing, not even the challenge.
        if self.token != TokenKind::Card {
            return Err(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        if c.data.len() <= AUTHORISATION_LEN {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let (authorisation, value) = c.data.split_at(AUTHORISATION_LEN);
        let challenge = self.challenge.ok_or(StatusWord::CONDITIONS_NOT_SATISFIED)?;
        let authorised = self.profile.jpki.card_management_key.as_ref().is_some_and(|key| {
            pin_reset::authorisation_valid(key, credential, &challenge, &self.profile.jpki.auth_cert, authorisation)
        });
        if !authorised {
            // A refused authorisation spends the challenge: one guess per GET CHALLENGE.
            self.challenge = None;
            return Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        // The rule is checked after the authorisation, and a bad value keeps the challenge, so
        // the kiosk can retry with the same authorisation (the backend need not sign again).
        if !pin_reset::new_value_allowed(credential, value) {
            return Err(SW_WRONG_DATA);
        }
        let value = String::from_utf8(value.to_vec()).map_err(|_| SW_WRONG_DATA)?;
        let rec = self.pin_record_mut(pin).ok_or(StatusWord::FILE_NOT_FOUND)?;
        rec.value.zeroize();
        rec.value = value;
        rec.tries_left = rec.max_tries;
        self.challenge = None;
        // The new value is set, not presented: the PIN is not verified by the reset.
        self.verified[pin as usize] = false;
        self.dirty = true;
        Ok(Vec::new())
    }

    // ---- signing ----

    /// The key named by P2: `80` = the selected EF, `97` / `9A` by SFI.
    fn key_for(&self, p2: u8) -> Result<Key, StatusWord> {
        match p2 {
            0x80 => match self.ef {
                Some(Ef::Key(k)) => Ok(k),
                _ => Err(StatusWord::COMMAND_NOT_ALLOWED_NO_EF),
            },
            0x81..=0x9E => match self.lookup(u16::from(p2 & 0x1F)) {
                Some(Ef::Key(k)) => Ok(k),
                None if self.df == Some(Df::Jpki) && p2 == 0x9A => Err(StatusWord::FILE_NOT_FOUND),
                _ => Err(StatusWord::INCORRECT_P1P2),
            },
            _ => Err(StatusWord::INCORRECT_P1P2),
        }
    }

    /// COMPUTE DIGITAL SIGNATURE. Gap: the signature password stays verified after a signature
    /// until reset or re-SELECT of the AP (OpenSC re-VERIFYs before each signature anyway).
    fn compute_signature(&mut self, c: &ParsedCommand<'_>) -> Reply {
        if c.p1 > 0x05 {
            return Err(StatusWord::INCORRECT_P1P2);
        }
        let key = self.key_for(c.p2)?;
        if !self.is_verified(key.pin()) {
            return Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let data = c.data;
        let length_ok = match c.p1 {
            0x00 => (1..=MAX_DIGEST_INFO).contains(&data.len()),
            0x02 | 0x04 => data.len() == 32,
            _ => !data.is_empty(),
        };
        if !length_ok {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let private = match key {
            Key::Auth => self.auth_key.as_ref(),
            Key::Sign => self.sign_key.as_ref(),
        }
        .ok_or(StatusWord::NO_PRECISE_DIAGNOSIS)?;
        let rng = &mut self.rng;
        let hashed = || Sha256::digest(data).to_vec();
        let result = match c.p1 {
            0x00 => private.sign_with_rng(rng, Pkcs1v15Sign::new_unprefixed(), data),
            // Card hashes, signs the bare hash (no DigestInfo).
            0x01 => private.sign_with_rng(rng, Pkcs1v15Sign::new_unprefixed(), &hashed()),
            // Hash given, card wraps the SHA-256 DigestInfo.
            0x02 => private.sign_with_rng(rng, Pkcs1v15Sign::new::<Sha256>(), data),
            0x03 => private.sign_with_rng(rng, Pkcs1v15Sign::new::<Sha256>(), &hashed()),
            0x04 => private.sign_with_rng(rng, Pss::new::<Sha256>(), data),
            _ => private.sign_with_rng(rng, Pss::new::<Sha256>(), &hashed()),
        };
        result.map_err(|_| StatusWord::NO_PRECISE_DIAGNOSIS)
    }

    // ---- misc ----

    /// GET CHALLENGE. The answer becomes the one outstanding challenge when it is 8 bytes long
    /// (the only length RESET RETRY COUNTER takes). Gap: every GET CHALLENGE that reaches here
    /// drops the earlier challenge, a refused one too.
    fn get_challenge(&mut self, c: &ParsedCommand<'_>) -> Reply {
        self.challenge = None;
        if c.p1 != 0 || c.p2 != 0 {
            return Err(StatusWord::INCORRECT_P1P2);
        }
        if c.extended {
            return Err(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        if !c.data.is_empty() {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let ne = c.ne.ok_or(StatusWord::WRONG_LENGTH)? as usize;
        let mut out = vec![0u8; ne];
        self.rng.fill_bytes(&mut out);
        self.challenge = <[u8; CHALLENGE_LEN]>::try_from(out.as_slice()).ok();
        Ok(out)
    }

    /// GET DATA 5F51: the contact ATR without TS (jpki.md §1). Gap: phones have no contact ATR,
    /// so they answer 6A86 like any other tag.
    fn get_data(&mut self, c: &ParsedCommand<'_>) -> Reply {
        if (c.p1, c.p2) != (0x5F, 0x51) || self.token != TokenKind::Card {
            return Err(StatusWord::INCORRECT_P1P2);
        }
        if !c.data.is_empty() {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let ne = c.ne.ok_or(StatusWord::WRONG_LENGTH)? as usize;
        let atr = &ATR_CONTACT[1..];
        Ok(atr[..atr.len().min(ne)].to_vec())
    }

    /// `80 FC 00 00`: the iPhone profile's "last command"; a card answers 6700 (jpki.md §8).
    fn last_command(&mut self, c: &ParsedCommand<'_>) -> Reply {
        if self.token != TokenKind::Iphone {
            return Err(StatusWord::WRONG_LENGTH);
        }
        if (c.p1, c.p2) != (0, 0) {
            return Err(StatusWord::INCORRECT_P1P2);
        }
        Ok(Vec::new())
    }
}

/// VERIFY data length rule; outside it the card answers 6700 and keeps the try.
fn length_ok(pin: Pin, len: usize) -> bool {
    match pin {
        Pin::Auth | Pin::Text => len == 4,
        Pin::Sign => (6..=16).contains(&len),
    }
}

/// The full rule for a new value set by CHANGE REFERENCE DATA (jpki.md §4).
fn new_value_ok(pin: Pin, v: &[u8]) -> bool {
    match pin {
        Pin::Auth | Pin::Text => v.len() == 4 && v.iter().all(u8::is_ascii_digit),
        Pin::Sign => {
            (6..=16).contains(&v.len())
                && v.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && v.iter().any(u8::is_ascii_uppercase)
                && v.iter().any(u8::is_ascii_digit)
        }
    }
}

/// Compares without an early exit on the first differing byte (habit; the length is public).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// EF 0006: a 160-byte CK_TOKEN_INFO with 32-bit big-endian ulongs, label first (jpki.md §3).
fn token_info(token: TokenKind) -> Vec<u8> {
    fn padded(out: &mut Vec<u8>, s: &str, n: usize) {
        let b = s.as_bytes();
        let b = &b[..b.len().min(n)];
        out.extend_from_slice(b);
        out.resize(out.len() + (n - b.len()), b' ');
    }
    let mut v = Vec::with_capacity(160);
    padded(&mut v, token.label(), 32); // label
    padded(&mut v, "J-LIS", 32); // manufacturerID
    padded(&mut v, "JPKIAP", 16); // model
    padded(&mut v, "0000000000000000", 16); // serialNumber
    const UNAVAILABLE: u32 = 0xFFFF_FFFF;
    for ulong in [
        0x0000_040D, // flags: RNG | LOGIN_REQUIRED | USER_PIN_INITIALIZED | TOKEN_INITIALIZED
        0,           // ulMaxSessionCount (effectively infinite)
        0,           // ulSessionCount
        0,           // ulMaxRwSessionCount
        0,           // ulRwSessionCount
        16,          // ulMaxPinLen
        6,           // ulMinPinLen
        UNAVAILABLE, // ulTotalPublicMemory
        UNAVAILABLE, // ulFreePublicMemory
        UNAVAILABLE, // ulTotalPrivateMemory
        UNAVAILABLE, // ulFreePrivateMemory
    ] {
        v.extend_from_slice(&u32::to_be_bytes(ulong));
    }
    v.extend_from_slice(&[1, 0, 1, 0]); // hardwareVersion, firmwareVersion
    padded(&mut v, "", 16); // utcTime: no clock on the token
    v
}

/// BER definite length: short form below 128, else `81 LL` / `82 LL LL`.
fn ber_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x7F => vec![n as u8],
        0x80..=0xFF => vec![0x81, n as u8],
        _ => {
            let n = n.min(0xFFFF) as u16;
            let [hi, lo] = n.to_be_bytes();
            vec![0x82, hi, lo]
        }
    }
}

fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut v = tag.to_vec();
    v.extend(ber_len(value.len()));
    v.extend_from_slice(value);
    v
}

/// Text AP EF 0001: `FF 10 0C <12 digits>` and two bytes of `FF` filler (jpki.md §7).
fn my_number_ef(my_number: &str) -> Vec<u8> {
    let mut v = tlv(&[0xFF, 0x10], my_number.as_bytes());
    v.extend_from_slice(&[0xFF, 0xFF]);
    v
}

/// Text AP EF 0002: `FF 20 len { DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex }`,
/// offsets counted from the start of the file to each field's tag.
fn basic4_ef(t: &crate::profile::TextApplet) -> Vec<u8> {
    let fields = [
        tlv(&[0xDF, 0x22], t.name.as_bytes()),
        tlv(&[0xDF, 0x23], t.address.as_bytes()),
        tlv(&[0xDF, 0x24], t.birth_date.as_bytes()),
        tlv(&[0xDF, 0x25], t.sex.as_bytes()),
    ];
    const OFFSETS_TLV: usize = 3 + 8;
    let inner_len = OFFSETS_TLV + fields.iter().map(Vec::len).sum::<usize>();
    let header_len = 2 + ber_len(inner_len).len();
    let mut offsets = Vec::with_capacity(8);
    let mut at = header_len + OFFSETS_TLV;
    for f in &fields {
        offsets.extend_from_slice(&(at.min(0xFFFF) as u16).to_be_bytes());
        at += f.len();
    }
    let mut inner = tlv(&[0xDF, 0x21], &offsets);
    for f in &fields {
        inner.extend_from_slice(f);
    }
    tlv(&[0xFF, 0x20], &inner)
}

/// One line for the APDU log: header, lengths and status word only. The command data (which
/// may be a PIN) and the response data never appear.
pub fn describe_exchange(command: &[u8], response: &[u8]) -> String {
    use std::fmt::Write;
    let sw = match response {
        [.., a, b] => format!("{a:02X}{b:02X}"),
        _ => "----".to_string(),
    };
    let mut s = String::from("C:");
    match ParsedCommand::parse(command) {
        Ok(c) => {
            let _ = write!(s, " {:02X} {:02X} {:02X} {:02X}", c.cla, c.ins, c.p1, c.p2);
            if !c.data.is_empty() {
                let _ = write!(s, " Lc={}", c.data.len());
            }
            if let Some(ne) = c.ne {
                let _ = write!(s, " Le={ne}");
            }
            if c.extended {
                s.push_str(" ext");
            }
        }
        Err(_) => {
            for b in command.iter().take(4) {
                let _ = write!(s, " {b:02X}");
            }
            let _ = write!(s, " malformed ({} B)", command.len());
        }
    }
    let _ = write!(s, " -> {sw}");
    let data_len = response.len().saturating_sub(2);
    if data_len > 0 {
        let _ = write!(s, " ({data_len} B)");
    }
    s
}

#[cfg(test)]
pub(crate) mod tests;
