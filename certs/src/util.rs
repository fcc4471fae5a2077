//! Small helpers shared by the certificate and CRL code: names, times, hex.

use crate::error::CertError;
use crate::oids;
use der::asn1::{Ia5StringRef, ObjectIdentifier, PrintableStringRef, TeletexStringRef, Utf8StringRef};
use der::{Encode, Tag, Tagged};
use std::fmt::Write as _;
use time::OffsetDateTime;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;
use x509_cert::time::Time;

/// The text of a directory-string value, if it is one of the string types JPKI uses.
pub(crate) fn atv_text(atv: &AttributeTypeAndValue) -> Option<String> {
    let v = &atv.value;
    match v.tag() {
        Tag::Utf8String => Utf8StringRef::try_from(v).ok().map(|s| s.as_str().to_owned()),
        Tag::PrintableString => PrintableStringRef::try_from(v).ok().map(|s| s.as_str().to_owned()),
        Tag::Ia5String => Ia5StringRef::try_from(v).ok().map(|s| s.as_str().to_owned()),
        Tag::TeletexString => TeletexStringRef::try_from(v).ok().map(|s| s.as_str().to_owned()),
        Tag::BmpString => {
            let chunks = v.value().chunks_exact(2);
            if !chunks.remainder().is_empty() {
                return None;
            }
            let units: Vec<u16> = chunks.map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

fn short_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    Some(match *oid {
        oids::AT_COUNTRY => "C",
        oids::AT_ORGANIZATION => "O",
        oids::AT_ORG_UNIT => "OU",
        oids::AT_COMMON_NAME => "CN",
        oids::AT_LOCALITY => "L",
        oids::AT_STATE => "ST",
        oids::AT_SERIAL_NUMBER => "SERIALNUMBER",
        _ => return None,
    })
}

/// RFC 4514 string of a name (most specific RDN first). Written by hand instead of x509-cert's
/// `Display` because `to_string()` on a `Display` that errors panics, and names are untrusted.
pub(crate) fn display_name(name: &Name) -> String {
    let mut out = String::new();
    for (i, rdn) in name.0.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.0.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            match (short_name(&atv.oid), atv_text(atv)) {
                (Some(key), Some(text)) => {
                    out.push_str(key);
                    out.push('=');
                    escape_into(&mut out, &text);
                }
                _ => {
                    let _ = write!(out, "{}=#", atv.oid);
                    match atv.value.to_der() {
                        Ok(bytes) => out.push_str(&hex_upper(&bytes)),
                        Err(_) => out.push('?'),
                    }
                }
            }
        }
    }
    out
}

fn escape_into(out: &mut String, text: &str) {
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        match c {
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\u{0}'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(out, "\\{:02x}", c as u32);
            }
            _ => out.push(c),
        }
    }
}

/// All values of one attribute type in a name, in encoding order.
pub(crate) fn name_values(name: &Name, oid: ObjectIdentifier) -> Vec<String> {
    name.0.iter().flat_map(|rdn| rdn.0.iter()).filter(|atv| atv.oid == oid).filter_map(atv_text).collect()
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// Drops the sign-padding zeros of a DER INTEGER, so serials compare by value.
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

pub(crate) fn from_der_time(t: Time) -> Result<OffsetDateTime, CertError> {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).map_err(|_| CertError::Der(Tag::UtcTime.value_error()))?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| CertError::Der(Tag::UtcTime.value_error()))
}

/// UTCTime up to 2049, GeneralizedTime from 2050, as RFC 5280 §4.1.2.5 requires.
pub(crate) fn to_der_time(t: OffsetDateTime) -> Result<Time, CertError> {
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| CertError::Der(Tag::UtcTime.value_error()))?;
    let d = std::time::Duration::from_secs(secs);
    if t.checked_to_offset(time::UtcOffset::UTC).is_some_and(|t| t.year() < 2050) {
        Ok(Time::UtcTime(der::asn1::UtcTime::from_unix_duration(d)?))
    } else {
        Ok(Time::GeneralTime(der::asn1::GeneralizedTime::from_unix_duration(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn names_display_in_rfc4514_order_with_escapes() {
        let n = Name::from_str("CN=a\\,b,OU=JPKI for digital signature,O=JPKI,C=JP").unwrap();
        assert_eq!(display_name(&n), "CN=a\\,b,OU=JPKI for digital signature,O=JPKI,C=JP");
        assert_eq!(name_values(&n, oids::AT_ORG_UNIT), vec!["JPKI for digital signature"]);
    }

    #[test]
    fn times_round_trip_both_encodings() {
        for t in [time::macros::datetime!(2030-02-17 14:59:59 UTC), time::macros::datetime!(2051-01-01 0:00 UTC)] {
            assert_eq!(from_der_time(to_der_time(t).unwrap()).unwrap(), t);
        }
        assert!(to_der_time(time::macros::datetime!(1969-12-31 0:00 UTC)).is_err());
    }

    #[test]
    fn serial_zeros_are_stripped() {
        assert_eq!(strip_leading_zeros(&[0, 0, 0x86]), &[0x86]);
        assert_eq!(strip_leading_zeros(&[0]), &[] as &[u8]);
    }
}
