//! The generic ISO/IEC 7816-4 layer: command and response APDUs and status words.
//!
//! Only short APDUs are *sent* (Lc ≤ 255, Le ≤ 256), which is what every JPKI client uses; the
//! parser also accepts extended lengths so the card simulator can answer clients that send them.
//! Command data may carry a PIN, so every buffer that holds it is wiped on drop.

use core::fmt;
use zeroize::Zeroize;

/// Longest short command APDU: header (4) + Lc (1) + data (255) + Le (1).
pub const MAX_SHORT_COMMAND: usize = 261;
/// Longest short response APDU: data (256) + SW1 SW2.
pub const MAX_SHORT_RESPONSE: usize = 258;

/// A status word (SW1 SW2) with the values JPKI cards use.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    pub const OK: Self = Self(0x9000);
    pub const WRONG_LENGTH: Self = Self(0x6700);
    pub const LOGICAL_CHANNEL_NOT_SUPPORTED: Self = Self(0x6881);
    pub const SECURE_MESSAGING_NOT_SUPPORTED: Self = Self(0x6882);
    pub const SECURITY_STATUS_NOT_SATISFIED: Self = Self(0x6982);
    pub const AUTH_METHOD_BLOCKED: Self = Self(0x6983);
    pub const REFERENCE_DATA_NOT_USABLE: Self = Self(0x6984);
    pub const CONDITIONS_NOT_SATISFIED: Self = Self(0x6985);
    pub const COMMAND_NOT_ALLOWED_NO_EF: Self = Self(0x6986);
    pub const SM_DATA_OBJECTS_INCORRECT: Self = Self(0x69FC);
    /// Incorrect parameters in the data field (e.g. a new PIN that breaks its rule).
    pub const WRONG_DATA: Self = Self(0x6A80);
    pub const FILE_NOT_FOUND: Self = Self(0x6A82);
    pub const INCORRECT_P1P2: Self = Self(0x6A86);
    pub const WRONG_P1P2_OFFSET: Self = Self(0x6B00);
    pub const INS_NOT_SUPPORTED: Self = Self(0x6D00);
    pub const CLA_NOT_SUPPORTED: Self = Self(0x6E00);
    pub const NO_PRECISE_DIAGNOSIS: Self = Self(0x6F00);

    pub const fn new(sw1: u8, sw2: u8) -> Self {
        Self(((sw1 as u16) << 8) | sw2 as u16)
    }
    pub const fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }
    pub const fn sw2(self) -> u8 {
        self.0 as u8
    }
    pub const fn is_ok(self) -> bool {
        self.0 == 0x9000
    }
    /// `63Cx`: verification failed or queried, `x` tries remain.
    pub const fn retry_counter(self) -> Option<u8> {
        if self.0 & 0xFFF0 == 0x63C0 {
            Some((self.0 & 0x000F) as u8)
        } else {
            None
        }
    }
    /// `63Cx` for a counter value (values above 15 are clamped).
    pub const fn with_counter(tries: u8) -> Self {
        let x = if tries > 15 { 15 } else { tries };
        Self(0x63C0 | x as u16)
    }
    pub const fn to_bytes(self) -> [u8; 2] {
        [self.sw1(), self.sw2()]
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SW {:04X}", self.0)
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

/// Why a byte string is not a valid APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("APDU too short: {len} bytes")]
    TooShort { len: usize },
    #[error("APDU too long: {len} bytes")]
    TooLong { len: usize },
    #[error("command data too long for a short APDU: {len} bytes")]
    DataTooLong { len: usize },
    #[error("expected length {le} exceeds 256 for a short APDU")]
    LeTooLong { le: u16 },
    #[error("Lc {lc} disagrees with the {actual} data bytes present")]
    LengthMismatch { lc: usize, actual: usize },
}

/// A short command APDU to send. Its data is wiped when it is dropped (it may be a PIN).
#[derive(Clone, PartialEq, Eq)]
pub struct CommandApdu {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    data: heapless::Vec<u8, 255>,
    /// Expected response length, 1..=256 (256 is encoded as `00`).
    le: Option<u16>,
}

impl CommandApdu {
    /// Case 1 (no data, no Le).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self { cla, ins, p1, p2, data: heapless::Vec::new(), le: None }
    }

    /// Adds command data (case 3, or case 4 with [`Self::with_le`]).
    pub fn with_data(mut self, data: &[u8]) -> Result<Self, ApduError> {
        self.data.clear();
        self.data.extend_from_slice(data).map_err(|_| ApduError::DataTooLong { len: data.len() })?;
        Ok(self)
    }

    /// Sets the expected response length, 1..=256.
    pub fn with_le(mut self, le: u16) -> Result<Self, ApduError> {
        if le == 0 || le > 256 {
            return Err(ApduError::LeTooLong { le });
        }
        self.le = Some(le);
        Ok(self)
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn le(&self) -> Option<u16> {
        self.le
    }

    /// The wire encoding. The returned buffer is wiped on drop too.
    pub fn to_bytes(&self) -> ApduBytes {
        let mut out = heapless::Vec::<u8, MAX_SHORT_COMMAND>::new();
        // Capacity is 261 = 4 + 1 + 255 + 1, so none of these pushes can fail.
        let _ = out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            let _ = out.push(self.data.len() as u8);
            let _ = out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            let _ = out.push(if le == 256 { 0 } else { le as u8 });
        }
        ApduBytes(out)
    }
}

impl Drop for CommandApdu {
    fn drop(&mut self) {
        self.data.as_mut_slice().zeroize();
    }
}

/// Debug shows the header and the data length only: the data may be a PIN.
impl fmt::Debug for CommandApdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "C-APDU {:02X} {:02X} {:02X} {:02X} Lc={} Le={:?}",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

/// Encoded command bytes, wiped on drop.
pub struct ApduBytes(heapless::Vec<u8, MAX_SHORT_COMMAND>);

impl core::ops::Deref for ApduBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for ApduBytes {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
    }
}

impl fmt::Debug for ApduBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApduBytes({} bytes)", self.0.len())
    }
}

/// A command APDU as received (by the card simulator), short or extended, borrowing its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ParsedCommand<'a> {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: &'a [u8],
    /// Ne, the maximum response length (`00` = 256 short, `0000` = 65536 extended).
    pub ne: Option<u32>,
    pub extended: bool,
}

impl fmt::Debug for ParsedCommand<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "C-APDU {:02X} {:02X} {:02X} {:02X} Lc={} Ne={:?}{}",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.ne,
            if self.extended { " ext" } else { "" }
        )
    }
}

impl<'a> ParsedCommand<'a> {
    /// Parses the four ISO 7816-3 cases in short and extended form.
    pub fn parse(b: &'a [u8]) -> Result<Self, ApduError> {
        if b.len() < 4 {
            return Err(ApduError::TooShort { len: b.len() });
        }
        let (cla, ins, p1, p2) = (b[0], b[1], b[2], b[3]);
        let body = &b[4..];
        let mk = |data: &'a [u8], ne: Option<u32>, extended: bool| Self { cla, ins, p1, p2, data, ne, extended };
        match body.len() {
            0 => Ok(mk(&[], None, false)),
            1 => {
                let ne = if body[0] == 0 { 256 } else { body[0] as u32 };
                Ok(mk(&[], Some(ne), false))
            }
            _ if body[0] != 0 => {
                // Short case 3 or 4.
                let lc = body[0] as usize;
                let rest = &body[1..];
                if rest.len() == lc {
                    Ok(mk(rest, None, false))
                } else if rest.len() == lc + 1 {
                    let le = rest[lc];
                    let ne = if le == 0 { 256 } else { le as u32 };
                    Ok(mk(&rest[..lc], Some(ne), false))
                } else {
                    Err(ApduError::LengthMismatch { lc, actual: rest.len() })
                }
            }
            3 => {
                // Extended case 2: 00 LeHi LeLo.
                let le = u16::from_be_bytes([body[1], body[2]]);
                let ne = if le == 0 { 65536 } else { le as u32 };
                Ok(mk(&[], Some(ne), true))
            }
            n if n > 3 => {
                let lc = u16::from_be_bytes([body[1], body[2]]) as usize;
                let rest = &body[3..];
                if lc == 0 {
                    return Err(ApduError::LengthMismatch { lc, actual: rest.len() });
                }
                if rest.len() == lc {
                    Ok(mk(rest, None, true))
                } else if rest.len() == lc + 2 {
                    let le = u16::from_be_bytes([rest[lc], rest[lc + 1]]);
                    let ne = if le == 0 { 65536 } else { le as u32 };
                    Ok(mk(&rest[..lc], Some(ne), true))
                } else {
                    Err(ApduError::LengthMismatch { lc, actual: rest.len() })
                }
            }
            n => Err(ApduError::LengthMismatch { lc: 0, actual: n }),
        }
    }
}

/// A response APDU: at most 256 data bytes and a status word.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseApdu {
    data: heapless::Vec<u8, 256>,
    pub sw: StatusWord,
}

impl ResponseApdu {
    /// Parses a received response; anything shorter than a status word or longer than a short
    /// response is refused, so later code never indexes past the end.
    pub fn from_bytes(b: &[u8]) -> Result<Self, ApduError> {
        if b.len() < 2 {
            return Err(ApduError::TooShort { len: b.len() });
        }
        if b.len() > MAX_SHORT_RESPONSE {
            return Err(ApduError::TooLong { len: b.len() });
        }
        let (data, sw) = b.split_at(b.len() - 2);
        let mut v = heapless::Vec::new();
        // Bounded by the length check above.
        let _ = v.extend_from_slice(data);
        Ok(Self { data: v, sw: StatusWord::new(sw[0], sw[1]) })
    }

    /// A response with data (truncated to 256 bytes) and a status word, as a card builds one.
    pub fn new(data: &[u8], sw: StatusWord) -> Self {
        let mut v = heapless::Vec::new();
        let _ = v.extend_from_slice(&data[..data.len().min(256)]);
        Self { data: v, sw }
    }

    pub fn status(sw: StatusWord) -> Self {
        Self { data: heapless::Vec::new(), sw }
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.data.len() + 2);
        v.extend_from_slice(&self.data);
        v.extend_from_slice(&self.sw.to_bytes());
        v
    }
}

impl fmt::Debug for ResponseApdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R-APDU {} data bytes, {:?}", self.data.len(), self.sw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_four_short_cases() {
        let c1 = CommandApdu::new(0x00, 0x20, 0x00, 0x80);
        assert_eq!(&*c1.to_bytes(), &[0x00, 0x20, 0x00, 0x80]);
        let c2 = CommandApdu::new(0x00, 0xB0, 0x00, 0x00).with_le(256).unwrap();
        assert_eq!(&*c2.to_bytes(), &[0x00, 0xB0, 0x00, 0x00, 0x00]);
        let c3 = CommandApdu::new(0x00, 0xA4, 0x02, 0x0C).with_data(&[0x00, 0x06]).unwrap();
        assert_eq!(&*c3.to_bytes(), &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06]);
        let c4 = CommandApdu::new(0x80, 0x2A, 0x00, 0x80).with_data(&[1, 2, 3]).unwrap().with_le(256).unwrap();
        assert_eq!(&*c4.to_bytes(), &[0x80, 0x2A, 0x00, 0x80, 3, 1, 2, 3, 0]);
    }

    #[test]
    fn refuses_oversized_data_and_le() {
        assert!(matches!(
            CommandApdu::new(0, 0, 0, 0).with_data(&[0u8; 256]),
            Err(ApduError::DataTooLong { len: 256 })
        ));
        assert!(CommandApdu::new(0, 0, 0, 0).with_le(257).is_err());
        assert!(CommandApdu::new(0, 0, 0, 0).with_le(0).is_err());
    }

    #[test]
    fn debug_never_shows_command_data() {
        let c = CommandApdu::new(0x00, 0x20, 0x00, 0x80).with_data(b"1234").unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("1234") && !s.contains("31 32"), "{s}");
        assert!(s.contains("Lc=4"));
    }

    #[test]
    fn parses_what_it_encodes_and_extended_forms() {
        let c = CommandApdu::new(0x80, 0x2A, 0x00, 0x80).with_data(&[9; 51]).unwrap().with_le(256).unwrap();
        let bytes = c.to_bytes();
        let p = ParsedCommand::parse(&bytes).unwrap();
        assert_eq!(
            (p.cla, p.ins, p.p1, p.p2, p.data.len(), p.ne, p.extended),
            (0x80, 0x2A, 0, 0x80, 51, Some(256), false)
        );
        let ext = ParsedCommand::parse(&[0x00, 0xB0, 0x8A, 0x04, 0x00, 0x07, 0xD0]).unwrap();
        assert_eq!((ext.ne, ext.extended), (Some(2000), true));
        let ext4 = ParsedCommand::parse(&[0x00, 0x20, 0x00, 0x80, 0x00, 0x00, 0x02, 0x31, 0x32, 0x00, 0x00]).unwrap();
        assert_eq!((ext4.data, ext4.ne), (&[0x31, 0x32][..], Some(65536)));
        assert!(matches!(
            ParsedCommand::parse(&[0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32]),
            Err(ApduError::LengthMismatch { lc: 4, actual: 2 })
        ));
        assert!(matches!(ParsedCommand::parse(&[0x00, 0x20]), Err(ApduError::TooShort { len: 2 })));
    }

    #[test]
    fn response_parsing_is_bounded() {
        assert!(matches!(ResponseApdu::from_bytes(&[0x90]), Err(ApduError::TooShort { len: 1 })));
        assert!(matches!(ResponseApdu::from_bytes(&[0u8; 259]), Err(ApduError::TooLong { len: 259 })));
        let r = ResponseApdu::from_bytes(&[1, 2, 0x63, 0xC2]).unwrap();
        assert_eq!(r.data(), &[1, 2]);
        assert_eq!(r.sw.retry_counter(), Some(2));
        assert_eq!(StatusWord::OK.retry_counter(), None);
        assert_eq!(StatusWord::with_counter(5), StatusWord(0x63C5));
    }
}
