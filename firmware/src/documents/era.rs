//! Dates in the Japanese era calendar (和暦), as certificates print them: 令和7年11月24日,
//! 令和元年5月1日, 昭和64年1月7日 / 平成元年1月8日.

use time::{Date, Month};

/// The eras of the modern calendar, with their first day.
const ERAS: [(&str, i32, Month, u8); 5] = [
    ("令和", 2019, Month::May, 1),
    ("平成", 1989, Month::January, 8),
    ("昭和", 1926, Month::December, 25),
    ("大正", 1912, Month::July, 30),
    ("明治", 1868, Month::October, 23),
];

/// A date's era name and year within the era (1 = 元年).
pub fn era_of(date: Date) -> Option<(&'static str, i32)> {
    ERAS.iter().find_map(|&(name, y, m, d)| {
        let start = Date::from_calendar_date(y, m, d).ok()?;
        (date >= start).then_some((name, date.year() - y + 1))
    })
}

/// `令和7年11月24日` (the first year is 元年). Dates before the Meiji era (which no living
/// resident's record holds) are written in the Western calendar.
pub fn wareki(date: Date) -> String {
    match era_of(date) {
        Some((era, year)) => format!("{era}{}年{}月{}日", era_year(year), u8::from(date.month()), date.day()),
        None => format!("{}年{}月{}日", date.year(), u8::from(date.month()), date.day()),
    }
}

/// `令和7年` for a year within an era, `令和元年` for the first.
pub fn era_year(year: i32) -> String {
    if year == 1 {
        "元".to_string()
    } else {
        year.to_string()
    }
}

/// The name of a fiscal year (年度, April to March): `2025` → `令和7`. The year that began on
/// 2019-04-01 is 令和元年度 by municipal practice, although 令和 itself began on 1 May.
pub fn fiscal_year(year: i32) -> String {
    let april = Date::from_calendar_date(year, Month::April, 1).ok();
    let (era, y) = match year {
        2019 => ("令和", 1),
        _ => april.and_then(era_of).unwrap_or(("", year)),
    };
    format!("{era}{}", era_year(y))
}

/// `令和6` for the calendar year 2024 (the year as of 31 December).
pub fn calendar_year(year: i32) -> String {
    let dec = Date::from_calendar_date(year, Month::December, 31).ok();
    let (era, y) = dec.and_then(era_of).unwrap_or(("", year));
    format!("{era}{}", era_year(y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn era_boundaries() {
        assert_eq!(wareki(date!(2025 - 11 - 24)), "令和7年11月24日");
        assert_eq!(wareki(date!(2019 - 05 - 01)), "令和元年5月1日");
        assert_eq!(wareki(date!(2019 - 04 - 30)), "平成31年4月30日");
        assert_eq!(wareki(date!(1989 - 01 - 08)), "平成元年1月8日");
        assert_eq!(wareki(date!(1989 - 01 - 07)), "昭和64年1月7日");
        assert_eq!(wareki(date!(1926 - 12 - 25)), "昭和元年12月25日");
        assert_eq!(wareki(date!(1926 - 12 - 24)), "大正15年12月24日");
        assert_eq!(wareki(date!(1912 - 07 - 30)), "大正元年7月30日");
        assert_eq!(wareki(date!(1912 - 07 - 29)), "明治45年7月29日");
        assert_eq!(wareki(date!(1868 - 01 - 01)), "1868年1月1日");
    }

    #[test]
    fn fiscal_and_calendar_years() {
        assert_eq!(fiscal_year(2025), "令和7");
        assert_eq!(fiscal_year(2019), "令和元");
        assert_eq!(fiscal_year(2018), "平成30");
        assert_eq!(calendar_year(2024), "令和6");
        assert_eq!(calendar_year(2019), "令和元");
        assert_eq!(calendar_year(1988), "昭和63");
    }
}
