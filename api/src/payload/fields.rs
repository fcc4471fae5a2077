//! The checks on a payload's single fields, each naming the field and never its value. The
//! validation uses them, and so does the paper that turns a valid payload into its models (the
//! typed values come from here, parsed one way).

use super::{PayloadError, MAX_SEAL_PNG};
use base64::Engine;
use time::Date;

/// Text limits (characters), generous for what the layout's boxes can take.
pub const NAME_MAX: usize = 40;
pub const KANA_MAX: usize = 80;
pub const ADDRESS_MAX: usize = 120;
pub const SHORT_MAX: usize = 40;

/// Printable text: `1..=max` characters (none if not `required` and empty), no control characters.
pub fn text(field: &str, s: &str, max: usize, required: bool) -> Result<(), PayloadError> {
    if s.trim().is_empty() {
        return if required { Err(PayloadError::missing(field)) } else { Ok(()) };
    }
    if s.chars().count() > max {
        return Err(PayloadError::invalid(field, "is longer than a certificate can hold"));
    }
    if s.chars().any(char::is_control) {
        return Err(PayloadError::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// `1..=max` characters of ASCII letters, digits, `-` and `_` (numbers, codes, ids).
pub fn token(field: &str, s: &str, max: usize) -> Result<(), PayloadError> {
    if s.is_empty() {
        return Err(PayloadError::missing(field));
    }
    if s.len() > max || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(PayloadError::invalid(field, "is not a short code of letters, digits and hyphens"));
    }
    Ok(())
}

/// Optional text: `None` when absent or blank, else checked as [`text`].
pub fn opt_text(field: &str, s: &Option<String>, max: usize) -> Result<Option<String>, PayloadError> {
    match s {
        Some(v) if !v.trim().is_empty() => {
            text(field, v, max, true)?;
            Ok(Some(v.clone()))
        }
        _ => Ok(None),
    }
}

/// A `YYYY-MM-DD` date between the Meiji era and 2200.
pub fn date(field: &str, s: &str) -> Result<Date, PayloadError> {
    if s.is_empty() {
        return Err(PayloadError::missing(field));
    }
    let d = Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| PayloadError::invalid(field, "is not a date (YYYY-MM-DD)"))?;
    if !(1868..=2200).contains(&d.year()) {
        return Err(PayloadError::invalid(field, "is not a plausible date"));
    }
    Ok(d)
}

/// An optional date: `None` when absent or empty, else checked as [`date`].
pub fn opt_date(field: &str, s: &Option<String>) -> Result<Option<Date>, PayloadError> {
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(v) => date(field, v).map(Some),
    }
}

/// Non-negative yen.
pub fn yen(field: &str, v: i64) -> Result<u64, PayloadError> {
    u64::try_from(v).map_err(|_| PayloadError::invalid(field, "is negative"))
}

/// 性別 as the registry writes it: whether it is 女 (else 男).
pub fn sex_is_female(field: &str, s: &str) -> Result<bool, PayloadError> {
    match s {
        "男" | "male" => Ok(false),
        "女" | "female" => Ok(true),
        "" => Err(PayloadError::missing(field)),
        _ => Err(PayloadError::invalid(field, "is neither 男 nor 女")),
    }
}

/// A 6-digit 地方公共団体コード.
pub fn municipality_code(field: &str, s: &str) -> Result<(), PayloadError> {
    if s.len() != 6 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(PayloadError::invalid(field, "is not a 6-digit 地方公共団体コード"));
    }
    Ok(())
}

/// A SHA-256 in hex.
pub fn sha256_hex(field: &str, s: &str, why: &'static str) -> Result<(), PayloadError> {
    if s.len() != 64 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(PayloadError::invalid(field, why));
    }
    Ok(())
}

/// A scanned 印影 (`body.seal_png`): base64 of a PNG of at most [`MAX_SEAL_PNG`] bytes.
pub fn seal_png(b64: &str) -> Result<Vec<u8>, PayloadError> {
    const FIELD: &str = "body.seal_png";
    if b64.len() > MAX_SEAL_PNG * 4 / 3 + 4 {
        return Err(PayloadError::invalid(FIELD, "is larger than 256 KiB"));
    }
    let png = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| PayloadError::invalid(FIELD, "is not base64"))?;
    if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(PayloadError::invalid(FIELD, "is not a PNG image"));
    }
    Ok(png)
}

/// The seal size of an engraved 印影 (`body.seal_diameter_mm`), 8 to 52 mm.
pub fn seal_diameter_mm(mm: i64) -> Result<u8, PayloadError> {
    u8::try_from(mm)
        .ok()
        .filter(|d| (8..=52).contains(d))
        .ok_or_else(|| PayloadError::invalid("body.seal_diameter_mm", "is not a seal size (8 to 52 mm)"))
}

/// The copies of a binding, 1 to 20.
pub fn copies(n: i64) -> Result<u8, PayloadError> {
    u8::try_from(n)
        .ok()
        .filter(|c| (1..=20).contains(c))
        .ok_or_else(|| PayloadError::invalid("binding.copies", "is not 1 to 20 copies"))
}

/// A person's given name on a 戸籍: the name without the 筆頭者's family name.
pub fn given_name<'a>(name: &'a str, hittousha: &str) -> &'a str {
    let family = hittousha.split(['　', ' ']).next().unwrap_or_default();
    name.strip_prefix(family).unwrap_or(name).trim_start_matches(['　', ' '])
}
