//! JPKI validity rules. Dates are civil dates in Japan (JST, UTC+9, no daylight saving), since
//! that is what the resident, the card face and J-LIS count in.

use crate::cert::JpkiCertificate;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Japan Standard Time.
pub const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// How long before expiry the renewal window opens (calendar months).
pub const RENEWAL_WINDOW_MONTHS: i32 = 3;

/// `date` moved by whole calendar months, clamped to the month's last day (Civil Code art. 143:
/// 1月31日 + 1 month = 2月28/29日).
pub fn add_months(date: Date, months: i32) -> Date {
    let m0 = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months;
    let (year, month0) = (m0.div_euclid(12), m0.rem_euclid(12));
    let month = u8::try_from(month0 + 1).ok().and_then(|m| Month::try_from(m).ok()).unwrap_or(Month::January);
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

pub fn add_years(date: Date, years: i32) -> Date {
    add_months(date, years * 12)
}

/// The resident's birthday in `year`: Feb 29 birthdays fall on Feb 28 in common years (the
/// corresponding-day rule of Civil Code art. 143, which J-LIS also uses for card expiry).
pub fn birthday_in_year(birth: Date, year: i32) -> Date {
    add_years(birth, year - birth.year())
}

/// The `n`-th birthday strictly after `issued` (a birthday on the issue day does not count).
pub fn nth_birthday_after(issued: Date, birth: Date, n: u32) -> Date {
    let this_year = birthday_in_year(birth, issued.year());
    let first_year = if this_year > issued { issued.year() } else { issued.year() + 1 };
    let n = i32::try_from(n.max(1)).unwrap_or(i32::MAX) - 1;
    birthday_in_year(birth, first_year.saturating_add(n))
}

/// Expiry of JPKI certificates issued on `issued`: the 5th birthday after issuance, or for a
/// foreign resident without permanent status the end of the period of stay if that is earlier.
pub fn expiry_date(issued: Date, birth: Date, period_of_stay_end: Option<Date>) -> Date {
    let fifth = nth_birthday_after(issued, birth, 5);
    match period_of_stay_end {
        Some(end) if end < fifth => end,
        _ => fifth,
    }
}

/// The first day of the renewal window for a certificate expiring on `expiry`.
pub fn renewal_window_start(expiry: Date) -> Date {
    add_months(expiry, -RENEWAL_WINDOW_MONTHS)
}

/// 00:00:00 JST on `date`: what notBefore of a certificate issued that day says at the earliest.
pub fn start_of_day_jst(date: Date) -> OffsetDateTime {
    PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_offset(JST)
}

/// 23:59:59 JST on `date`: the notAfter of a certificate that expires that day.
pub fn end_of_day_jst(date: Date) -> OffsetDateTime {
    PrimitiveDateTime::new(date, Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT)).assume_offset(JST)
}

/// The civil date in Japan of an instant (`Date::MAX` past the end of the calendar, where
/// `to_offset` would panic: certificates may say 9999-12-31T23:59:59Z).
pub fn jst_date(t: OffsetDateTime) -> Date {
    t.checked_to_offset(JST).map_or(Date::MAX, |t| t.date())
}

/// What the kiosk tells the resident about their certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityStatus {
    pub expired: bool,
    pub not_yet_valid: bool,
    /// Days from today (JST) to the expiry date: 0 on the last day, negative once expired.
    pub expires_in_days: i64,
    /// Within the 3 calendar months before expiry and not yet expired: time to renew.
    pub renewal_window_open: bool,
    /// The last day of validity (JST).
    pub expiry_date: Date,
}

pub fn status(cert: &JpkiCertificate, now: OffsetDateTime) -> ValidityStatus {
    let expiry = jst_date(cert.not_after());
    let today = jst_date(now);
    let expired = now > cert.not_after();
    ValidityStatus {
        expired,
        not_yet_valid: now < cert.not_before(),
        expires_in_days: (expiry - today).whole_days(),
        renewal_window_open: !expired && today >= renewal_window_start(expiry),
        expiry_date: expiry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn fifth_birthday_after_issuance() {
        // The test card of jpki.md §6: issued 2025-10-27, born 02-17, valid to 2030-02-17.
        assert_eq!(expiry_date(date!(2025 - 10 - 27), date!(1990 - 02 - 17), None), date!(2030 - 02 - 17));
        // Issued on the birthday itself: that birthday does not count.
        assert_eq!(expiry_date(date!(2025 - 02 - 17), date!(1990 - 02 - 17), None), date!(2030 - 02 - 17));
        assert_eq!(expiry_date(date!(2025 - 02 - 18), date!(1990 - 02 - 17), None), date!(2030 - 02 - 17));
        assert_eq!(expiry_date(date!(2025 - 02 - 16), date!(1990 - 02 - 17), None), date!(2029 - 02 - 17));
    }

    #[test]
    fn leap_day_birthdays() {
        // Born 02-29, issued in a common year before the "birthday": Feb 28 counts.
        assert_eq!(expiry_date(date!(2023 - 01 - 10), date!(1964 - 02 - 29), None), date!(2027 - 02 - 28));
        // Issued on 02-28 of a common year: that is the birthday, it does not count.
        assert_eq!(expiry_date(date!(2023 - 02 - 28), date!(1964 - 02 - 29), None), date!(2028 - 02 - 29));
        assert_eq!(expiry_date(date!(2024 - 02 - 29), date!(1964 - 02 - 29), None), date!(2029 - 02 - 28));
    }

    #[test]
    fn period_of_stay_caps_expiry() {
        let issued = date!(2024 - 04 - 01);
        let birth = date!(1996 - 07 - 21);
        assert_eq!(expiry_date(issued, birth, Some(date!(2026 - 03 - 31))), date!(2026 - 03 - 31));
        assert_eq!(expiry_date(issued, birth, Some(date!(2035 - 03 - 31))), date!(2028 - 07 - 21));
    }

    #[test]
    fn months_clamp() {
        assert_eq!(add_months(date!(2030 - 05 - 31), -3), date!(2030 - 02 - 28));
        assert_eq!(add_months(date!(2030 - 01 - 15), -3), date!(2029 - 10 - 15));
        assert_eq!(add_years(date!(2024 - 02 - 29), 1), date!(2025 - 02 - 28));
        assert_eq!(renewal_window_start(date!(2030 - 02 - 17)), date!(2029 - 11 - 17));
    }

    #[test]
    fn end_of_calendar_does_not_panic() {
        let last = datetime!(9999-12-31 23:59:59 UTC);
        assert_eq!(jst_date(last), Date::MAX);
    }

    #[test]
    fn jst_day_boundaries() {
        let end = end_of_day_jst(date!(2030 - 02 - 17));
        assert_eq!(end, datetime!(2030-02-17 14:59:59 UTC));
        assert_eq!(jst_date(datetime!(2030-02-17 15:00 UTC)), date!(2030 - 02 - 18));
    }
}
