//! The PIN as the resident types it, and the parsed action ids.
//!
//! The digits live in one fixed array that is zeroed on clear and on drop, as numbers 0–9 (not
//! ASCII: a stale copy of the pad is no PIN to a text search); they leave it only as a [`Pin`]
//! (ASCII in a wiped heap buffer) inside `CardCommand::Verify`. Neither this buffer nor
//! [`Action`] can print a digit through `Debug`.

use core::fmt;
use madoguchi_drivers::jpki::{Pin, PinKind};
use zeroize::Zeroize;

/// The user-authentication PIN is exactly 4 digits.
pub const PIN_LEN: usize = 4;

/// Digits typed so far, as numbers 0–9.
pub struct PinBuffer {
    digits: [u8; PIN_LEN],
    len: usize,
}

impl PinBuffer {
    pub const fn new() -> PinBuffer {
        PinBuffer { digits: [0; PIN_LEN], len: 0 }
    }

    /// Adds a digit; ignored when full (the pad disables its keys then anyway).
    pub fn push(&mut self, digit: u8) {
        if self.len < PIN_LEN && digit <= 9 {
            self.digits[self.len] = digit;
            self.len += 1;
        }
    }

    pub fn backspace(&mut self) {
        if self.len > 0 {
            self.len -= 1;
            self.digits[self.len].zeroize();
        }
    }

    pub fn clear(&mut self) {
        self.digits.zeroize();
        self.len = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_complete(&self) -> bool {
        self.len == PIN_LEN
    }

    /// Moves the PIN into a [`Pin`] for the card and clears the buffer.
    pub fn take(&mut self) -> Option<Pin> {
        if !self.is_complete() {
            return None;
        }
        let pin = Pin::user_auth_from_digits(&self.digits);
        self.clear();
        pin
    }

    /// All bytes zero (tests check the wipe).
    #[cfg(test)]
    pub fn is_wiped(&self) -> bool {
        self.len == 0 && self.digits.iter().all(|&b| b == 0)
    }
}

impl Default for PinBuffer {
    fn default() -> Self {
        PinBuffer::new()
    }
}

impl Drop for PinBuffer {
    fn drop(&mut self) {
        self.digits.zeroize();
    }
}

impl fmt::Debug for PinBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PinBuffer({} typed)", self.len)
    }
}

/// A PIN or signature password typed on the PIN-reset screens: up to 16 characters (digits,
/// and capital letters for the password) in one fixed array zeroed on clear and on drop. Like
/// [`PinBuffer`] it leaves only as a [`Pin`], and `Debug` shows the count only.
pub struct SecretPad {
    kind: PinKind,
    chars: [u8; 16],
    len: usize,
}

impl SecretPad {
    pub const fn new(kind: PinKind) -> SecretPad {
        SecretPad { kind, chars: [0; 16], len: 0 }
    }

    pub fn kind(&self) -> PinKind {
        self.kind
    }

    /// Fewest characters "ok" accepts.
    pub const fn min_len(&self) -> usize {
        match self.kind {
            PinKind::UserAuth => 4,
            PinKind::Signature => 6,
        }
    }

    /// Most characters (keys do nothing beyond).
    pub const fn max_len(&self) -> usize {
        match self.kind {
            PinKind::UserAuth => 4,
            PinKind::Signature => 16,
        }
    }

    /// A digit, or for the password a capital letter; anything else is ignored.
    pub fn push(&mut self, c: u8) {
        let allowed = c.is_ascii_digit() || (self.kind == PinKind::Signature && c.is_ascii_uppercase());
        if allowed && self.len < self.max_len() {
            self.chars[self.len] = c;
            self.len += 1;
        }
    }

    pub fn backspace(&mut self) {
        if self.len > 0 {
            self.len -= 1;
            self.chars[self.len].zeroize();
        }
    }

    pub fn clear(&mut self) {
        self.chars.zeroize();
        self.len = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Long enough for "ok".
    pub fn is_complete(&self) -> bool {
        self.len >= self.min_len()
    }

    /// Keeps the rule of a *new* value (jpki.md §4: the password needs a letter and a digit),
    /// checked before the card is touched.
    pub fn allowed_as_new(&self) -> bool {
        let credential = match self.kind {
            PinKind::UserAuth => madoguchi_api::ResetCredential::AuthPin,
            PinKind::Signature => madoguchi_api::ResetCredential::SignPassword,
        };
        madoguchi_api::pin_reset::new_value_allowed(credential, &self.chars[..self.len])
    }

    /// The same characters as `other` (compared without an early exit).
    pub fn same_as(&self, other: &SecretPad) -> bool {
        self.len == other.len
            && self.chars[..self.len].iter().zip(&other.chars[..other.len]).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    /// Moves the value into a [`Pin`] for the card and clears the pad; `None` (cleared too)
    /// when it breaks the format.
    pub fn take(&mut self) -> Option<Pin> {
        let pin = core::str::from_utf8(&self.chars[..self.len]).ok().and_then(|s| Pin::new(self.kind, s).ok());
        self.clear();
        pin
    }

    /// All bytes zero (tests check the wipe).
    #[cfg(test)]
    pub fn is_wiped(&self) -> bool {
        self.len == 0 && self.chars.iter().all(|&b| b == 0)
    }
}

impl Drop for SecretPad {
    fn drop(&mut self) {
        self.chars.zeroize();
    }
}

impl fmt::Debug for SecretPad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretPad({:?}, {} typed)", self.kind, self.len)
    }
}

/// A touch's action id, parsed.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    Start,
    Language(String),
    Service(String),
    Digit(u8),
    Backspace,
    Clear,
    Ok,
    Back,
    Cancel,
    MoreTime,
    Municipality(String),
    Document(String),
    Option(String),
    Year(i32),
    CopiesUp,
    CopiesDown,
    Confirm,
    LargeText,
    HighContrast,
    Finish,
    /// Letters of the signature-password pad (PIN reset flows, not issuance).
    Key(char),
    /// `reset:auth-pin` / `reset:sign-password` on pin-reset-choose.
    Reset(String),
    /// `person:<id>` on document-options: that household member on the document, or not.
    Person(String),
    /// `persons:self` (the resident alone) or `persons:household` (everyone offered).
    Persons(String),
    Unknown,
}

impl Action {
    pub fn parse(id: &str) -> Action {
        match id {
            "start" => return Action::Start,
            "backspace" => return Action::Backspace,
            "clear" => return Action::Clear,
            "ok" => return Action::Ok,
            "back" => return Action::Back,
            "cancel" => return Action::Cancel,
            "more-time" => return Action::MoreTime,
            "copies:+" => return Action::CopiesUp,
            "copies:-" => return Action::CopiesDown,
            "confirm" => return Action::Confirm,
            "large-text" => return Action::LargeText,
            "high-contrast" => return Action::HighContrast,
            "finish" => return Action::Finish,
            "delete" => return Action::Backspace,
            _ => {}
        }
        let Some((prefix, rest)) = id.split_once(':') else { return Action::Unknown };
        if rest.is_empty() {
            return Action::Unknown;
        }
        match prefix {
            "language" => Action::Language(rest.to_string()),
            "service" => Action::Service(rest.to_string()),
            "reset" => Action::Reset(rest.to_string()),
            "person" => Action::Person(rest.to_string()),
            "persons" => Action::Persons(rest.to_string()),
            "digit" => match rest.as_bytes() {
                [d @ b'0'..=b'9'] => Action::Digit(d - b'0'),
                _ => Action::Unknown,
            },
            "key" => match rest.as_bytes() {
                [c] if c.is_ascii_uppercase() => Action::Key(*c as char),
                _ => Action::Unknown,
            },
            "municipality" => Action::Municipality(rest.to_string()),
            "document" => Action::Document(rest.to_string()),
            "option" => Action::Option(rest.to_string()),
            "year" => rest.parse().map_or(Action::Unknown, Action::Year),
            _ => Action::Unknown,
        }
    }
}

/// Never shows which digit or key.
impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Digit(_) => f.write_str("Digit(*)"),
            Action::Key(_) => f.write_str("Key(*)"),
            Action::Language(l) => write!(f, "Language({l})"),
            Action::Service(s) => write!(f, "Service({s})"),
            Action::Reset(s) => write!(f, "Reset({s})"),
            Action::Person(_) => f.write_str("Person(..)"),
            Action::Persons(s) => write!(f, "Persons({s})"),
            Action::Municipality(s) => write!(f, "Municipality({s})"),
            Action::Document(s) => write!(f, "Document({s})"),
            Action::Option(s) => write!(f, "Option({s})"),
            Action::Year(y) => write!(f, "Year({y})"),
            other => {
                let name = match other {
                    Action::Start => "Start",
                    Action::Backspace => "Backspace",
                    Action::Clear => "Clear",
                    Action::Ok => "Ok",
                    Action::Back => "Back",
                    Action::Cancel => "Cancel",
                    Action::MoreTime => "MoreTime",
                    Action::CopiesUp => "CopiesUp",
                    Action::CopiesDown => "CopiesDown",
                    Action::Confirm => "Confirm",
                    Action::LargeText => "LargeText",
                    Action::HighContrast => "HighContrast",
                    Action::Finish => "Finish",
                    _ => "Unknown",
                };
                f.write_str(name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_takes_exactly_four_digits_and_wipes() {
        let mut b = PinBuffer::new();
        for d in [8, 5, 7, 3, 1] {
            b.push(d);
        }
        assert_eq!(b.len(), 4);
        b.backspace();
        assert_eq!(b.len(), 3);
        assert!(b.take().is_none(), "incomplete PINs never leave the buffer");
        b.push(6);
        let pin = b.take().unwrap();
        assert!(b.is_wiped());
        assert!(!format!("{pin:?}").contains("8576"));
        b.push(1);
        b.clear();
        assert!(b.is_wiped());
    }

    #[test]
    fn actions_parse_and_hide_digits() {
        assert_eq!(Action::parse("digit:7"), Action::Digit(7));
        assert_eq!(Action::parse("digit:x"), Action::Unknown);
        assert_eq!(Action::parse("digit:"), Action::Unknown);
        assert_eq!(Action::parse("document:juminhyo"), Action::Document("juminhyo".into()));
        assert_eq!(Action::parse("year:2024"), Action::Year(2024));
        assert_eq!(Action::parse("copies:+"), Action::CopiesUp);
        assert_eq!(Action::parse("language:zh-Hans"), Action::Language("zh-Hans".into()));
        assert_eq!(Action::parse("nonsense"), Action::Unknown);
        assert_eq!(format!("{:?}", Action::Digit(7)), "Digit(*)");
        let mut b = PinBuffer::new();
        b.push(9);
        assert_eq!(format!("{b:?}"), "PinBuffer(1 typed)");
    }
}
