//! 基本4情報 (name, birth date, sex, address) as the signature certificate carries them in its
//! subjectAltName (jpki.md §6): otherNames `1.2.392.200149.8.5.5.1`–`.6`, each value
//! `[0] EXPLICIT UTF8String`, in the card order 1, 4, 3, 5, 2, 6.

use crate::era::Era;
use crate::error::CertError;
use crate::oids;
use der::asn1::{ObjectIdentifier, Utf8StringRef};
use der::{Any, Decode, Tag};
use time::{Date, Month};
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::SubjectAltName;

/// 生年月日 as JPKI encodes it: era code + Gregorian `YYYYMMDD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BirthDate {
    pub era: Era,
    pub date: Date,
}

impl BirthDate {
    /// A birth date with its era computed, as an issuer would encode it.
    pub fn new(date: Date) -> Self {
        BirthDate { era: Era::of(date), date }
    }

    /// `EYYYYMMDD`.
    pub fn encode(&self) -> String {
        format!("{}{:04}{:02}{:02}", self.era.code(), self.date.year(), u8::from(self.date.month()), self.date.day())
    }

    /// Parses `EYYYYMMDD`; the era must agree with the date unless it is `0` (不明).
    pub fn parse(s: &str) -> Result<Self, CertError> {
        let b = s.as_bytes();
        if b.len() != 9 || !b.iter().all(u8::is_ascii_digit) {
            return Err(CertError::Basic4("birth date is not EYYYYMMDD"));
        }
        let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
        let (Some(e), Some(y), Some(m), Some(d)) = (num(0..1), num(1..5), num(5..7), num(7..9)) else {
            return Err(CertError::Basic4("birth date is not EYYYYMMDD"));
        };
        let era = u8::try_from(e).ok().and_then(Era::from_code).ok_or(CertError::Basic4("unknown era code"))?;
        let month = u8::try_from(m).ok().and_then(|m| Month::try_from(m).ok());
        let date = month
            .and_then(|month| Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok())
            .ok_or(CertError::Basic4("birth date is not a calendar date"))?;
        if era != Era::Unknown && era != Era::of(date) {
            return Err(CertError::Basic4("era code does not match the birth date"));
        }
        Ok(BirthDate { era, date })
    }

    /// `昭和55年3月7日`, `令和元年5月1日`; Gregorian (`1850年1月1日`) when the era is unknown.
    pub fn to_era_string(&self) -> String {
        let (m, d) = (u8::from(self.date.month()), self.date.day());
        match self.era.year_of(self.date) {
            Some(1) => format!("{}元年{m}月{d}日", self.era.name_ja()),
            Some(y) => format!("{}{y}年{m}月{d}日", self.era.name_ja()),
            None => format!("{}年{m}月{d}日", self.date.year()),
        }
    }
}

/// 性別. Sources differ on the code for "other" (3 or 9), so the code is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
    /// Code `3` or `9`.
    Other(u8),
}

impl Sex {
    pub fn code(self) -> char {
        match self {
            Sex::Male => '1',
            Sex::Female => '2',
            Sex::Other(3) => '3',
            Sex::Other(_) => '9',
        }
    }

    pub fn from_code(s: &str) -> Option<Sex> {
        Some(match s {
            "1" => Sex::Male,
            "2" => Sex::Female,
            "3" => Sex::Other(3),
            "9" => Sex::Other(9),
            _ => return None,
        })
    }

    pub fn name_ja(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::Other(_) => "",
        }
    }
}

/// Longest address JPKI stores (characters).
pub const MAX_ADDRESS_CHARS: usize = 200;

/// The basic 4 information of a signature certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basic4Info {
    /// 氏名, a full-width space between family and given name.
    pub name: String,
    /// 氏名代替文字位置: one `0`/`1` per character of `name`; `1` marks a character replaced by
    /// a substitute because the original (e.g. 髙) is outside the certificate's character set.
    pub name_alt_positions: String,
    pub birth_date: BirthDate,
    pub sex: Sex,
    /// 住所, without postcode, digits and hyphens full-width.
    pub address: String,
    /// 住所代替文字位置, as for the name.
    pub address_alt_positions: String,
}

impl Basic4Info {
    /// Builds the information an issuer would encode: era computed, no substituted characters,
    /// the address checked to be full-width (convert with [`to_fullwidth`] first).
    pub fn new(name: &str, birth: Date, sex: Sex, address: &str) -> Result<Self, CertError> {
        let info = Basic4Info {
            name: name.to_owned(),
            name_alt_positions: "0".repeat(name.chars().count()),
            birth_date: BirthDate::new(birth),
            sex,
            address: address.to_owned(),
            address_alt_positions: "0".repeat(address.chars().count()),
        };
        info.validate()?;
        Ok(info)
    }

    /// Marks substituted characters of the name (`"10000"` for 高橋　誠 standing for 髙橋　誠).
    pub fn with_name_alt_positions(mut self, positions: &str) -> Result<Self, CertError> {
        if positions.chars().count() != self.name.chars().count() {
            return Err(CertError::Basic4("name alt positions must have one digit per character"));
        }
        self.name_alt_positions = positions.to_owned();
        self.validate()?;
        Ok(self)
    }

    /// The birth date in the era form printed on documents, e.g. `昭和55年3月7日`.
    pub fn to_era_string(&self) -> String {
        self.birth_date.to_era_string()
    }

    /// Family and given name, split at the first full-width (or ASCII) space.
    pub fn family_and_given(&self) -> (&str, &str) {
        match self.name.split_once(['\u{3000}', ' ']) {
            Some((f, g)) => (f, g),
            None => (self.name.as_str(), ""),
        }
    }

    /// Whether any character of the name or address was substituted (代替文字).
    pub fn has_substituted_characters(&self) -> bool {
        self.name_alt_positions.contains('1') || self.address_alt_positions.contains('1')
    }

    fn validate(&self) -> Result<(), CertError> {
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            return Err(CertError::Basic4("empty or invalid name"));
        }
        for alt in [&self.name_alt_positions, &self.address_alt_positions] {
            if !alt.chars().all(|c| c == '0' || c == '1') {
                return Err(CertError::Basic4("alt positions must be 0 or 1"));
            }
        }
        if self.address.chars().count() > MAX_ADDRESS_CHARS {
            return Err(CertError::Basic4("address longer than 200 characters"));
        }
        check_fullwidth(&self.address)
    }

    /// Decodes the DER of a subjectAltName extension value.
    pub fn from_san_der(der: &[u8]) -> Result<Self, CertError> {
        Self::from_san(&SubjectAltName::from_der(der)?)
    }

    /// Decodes from a parsed subjectAltName: every field exactly once, other entries ignored.
    pub fn from_san(san: &SubjectAltName) -> Result<Self, CertError> {
        let mut fields: [Option<String>; 6] = Default::default();
        for gn in &san.0 {
            let GeneralName::OtherName(on) = gn else { continue };
            let Some(idx) = field_index(&on.type_id) else { continue };
            let text = Utf8StringRef::try_from(&on.value)
                .map_err(|_| CertError::Basic4("basic 4 value is not a UTF8String"))?
                .as_str()
                .to_owned();
            let slot = fields.get_mut(idx).ok_or(CertError::Basic4("unknown field"))?;
            if slot.replace(text).is_some() {
                return Err(CertError::Basic4("basic 4 field appears twice"));
            }
        }
        let [name, name_alt, sex, birth, address, address_alt] = fields;
        let missing = CertError::Basic4;
        let info = Basic4Info {
            name: name.ok_or(missing("name missing"))?,
            name_alt_positions: name_alt.ok_or(missing("name alt positions missing"))?,
            birth_date: BirthDate::parse(&birth.ok_or(missing("birth date missing"))?)?,
            sex: Sex::from_code(&sex.ok_or(missing("sex missing"))?).ok_or(missing("unknown sex code"))?,
            address: address.ok_or(missing("address missing"))?,
            address_alt_positions: address_alt.ok_or(missing("address alt positions missing"))?,
        };
        info.validate()?;
        Ok(info)
    }

    /// The otherNames in the order cards carry them: 1, 4, 3, 5, 2, 6.
    pub(crate) fn to_general_names(&self) -> Result<Vec<GeneralName>, CertError> {
        let birth = self.birth_date.encode();
        let sex = self.sex.code().to_string();
        let entries: [(ObjectIdentifier, &str); 6] = [
            (oids::BASIC4_NAME, &self.name),
            (oids::BASIC4_BIRTH, &birth),
            (oids::BASIC4_SEX, &sex),
            (oids::BASIC4_ADDRESS, &self.address),
            (oids::BASIC4_NAME_ALT, &self.name_alt_positions),
            (oids::BASIC4_ADDRESS_ALT, &self.address_alt_positions),
        ];
        entries
            .into_iter()
            .map(|(type_id, text)| {
                Ok(GeneralName::OtherName(OtherName { type_id, value: Any::new(Tag::Utf8String, text.as_bytes())? }))
            })
            .collect()
    }
}

/// Index into `[name, name_alt, sex, birth, address, address_alt]` (the OID's last arc − 1).
fn field_index(oid: &ObjectIdentifier) -> Option<usize> {
    [
        oids::BASIC4_NAME,
        oids::BASIC4_NAME_ALT,
        oids::BASIC4_SEX,
        oids::BASIC4_BIRTH,
        oids::BASIC4_ADDRESS,
        oids::BASIC4_ADDRESS_ALT,
    ]
    .iter()
    .position(|o| o == oid)
}

/// Whether a character is one that JPKI writes in full width but a careless writer would not:
/// ASCII (digits, letters, hyphen, space) or half-width katakana.
fn is_halfwidth(c: char) -> bool {
    c.is_ascii() || ('\u{FF61}'..='\u{FF9F}').contains(&c)
}

/// Checks an address is full width, as the resident register and JPKI write it.
pub fn check_fullwidth(address: &str) -> Result<(), CertError> {
    if address.trim().is_empty() {
        return Err(CertError::Basic4("empty address"));
    }
    if address.chars().any(is_halfwidth) {
        return Err(CertError::Basic4("address has half-width characters"));
    }
    Ok(())
}

/// Converts ASCII digits, letters, hyphen and space to their full-width forms (`1-2-3` →
/// `１－２－３`), leaving everything else as is. For writers of addresses, not for parsing.
pub fn to_fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' => '\u{3000}',
            '-' => '\u{FF0D}',
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;
    use time::macros::date;

    #[test]
    fn eras_change_on_their_first_day() {
        assert_eq!(Era::of(date!(1989 - 01 - 07)), Era::Showa);
        assert_eq!(Era::of(date!(1989 - 01 - 08)), Era::Heisei);
        assert_eq!(Era::of(date!(2019 - 04 - 30)), Era::Heisei);
        assert_eq!(Era::of(date!(2019 - 05 - 01)), Era::Reiwa);
        assert_eq!(Era::of(date!(1868 - 01 - 24)), Era::Unknown);
        assert_eq!(Era::of(date!(1912 - 07 - 30)), Era::Taisho);
    }

    #[test]
    fn era_strings() {
        assert_eq!(BirthDate::new(date!(1980 - 03 - 07)).to_era_string(), "昭和55年3月7日");
        assert_eq!(BirthDate::new(date!(2019 - 05 - 01)).to_era_string(), "令和元年5月1日");
        assert_eq!(BirthDate::new(date!(1989 - 01 - 08)).to_era_string(), "平成元年1月8日");
        assert_eq!(BirthDate { era: Era::Unknown, date: date!(1980 - 03 - 07) }.to_era_string(), "1980年3月7日");
    }

    #[test]
    fn birth_dates_parse_strictly() {
        assert_eq!(BirthDate::parse("319800307").unwrap(), BirthDate::new(date!(1980 - 03 - 07)));
        assert_eq!(BirthDate::new(date!(1980 - 03 - 07)).encode(), "319800307");
        assert_eq!(BirthDate::parse("019800307").unwrap().era, Era::Unknown);
        for bad in ["", "41980030", "419800307", "319800230", "619800307", "3198003O7", "３19800307"] {
            assert!(BirthDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fullwidth_checks() {
        assert_eq!(to_fullwidth("清瀬市中里5-8-12 A"), "清瀬市中里５－８－１２　Ａ");
        assert!(check_fullwidth("東京都清瀬市中里５－８－１２").is_ok());
        assert!(check_fullwidth("東京都清瀬市中里5-8-12").is_err());
        assert!(check_fullwidth("ｷﾖｾ").is_err());
    }

    #[test]
    fn san_round_trip_in_card_order() {
        let info = Basic4Info::new("高橋　誠", date!(1960 - 11 - 02), Sex::Male, "東京都清瀬市松山２－１５－８")
            .unwrap()
            .with_name_alt_positions("1000")
            .unwrap();
        let names = info.to_general_names().unwrap();
        let order: Vec<String> = names
            .iter()
            .map(|g| match g {
                GeneralName::OtherName(o) => o.type_id.to_string(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(order.iter().map(|o| o.rsplit('.').next().unwrap()).collect::<String>(), "143526");
        let der = SubjectAltName(names).to_der().unwrap();
        let back = Basic4Info::from_san_der(&der).unwrap();
        assert_eq!(back, info);
        assert!(back.has_substituted_characters());
        assert_eq!(back.family_and_given(), ("高橋", "誠"));
    }

    #[test]
    fn san_missing_or_duplicate_fields_fail() {
        let info = Basic4Info::new("佐藤　健一", date!(1978 - 05 - 14), Sex::Male, "東京都清瀬市").unwrap();
        let mut names = info.to_general_names().unwrap();
        names.pop();
        assert!(Basic4Info::from_san(&SubjectAltName(names.clone())).is_err());
        names.push(names[0].clone());
        names.push(names[0].clone());
        assert!(Basic4Info::from_san(&SubjectAltName(names)).is_err());
    }
}
