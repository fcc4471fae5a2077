//! The Japanese era calendar (元号, 和暦): the one copy for the whole tree. JPKI encodes birth
//! dates with an era code (basic 4 information); certificates print dates as 令和7年11月24日,
//! 令和元年5月1日, 昭和64年1月7日 / 平成元年1月8日.

use time::macros::date;
use time::{Date, Month};

/// Japanese era (元号) with the one-digit code JPKI puts in front of the birth date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Era {
    /// `0` 不明: before Meiji, or not known.
    Unknown,
    Meiji,
    Taisho,
    Showa,
    Heisei,
    Reiwa,
}

/// First days in the Gregorian calendar, newest first. Meiji counts from 1868-01-25 (明治元年
/// 1月1日 of the old calendar), as the era was applied retroactively to the whole year.
const ERA_STARTS: [(Era, Date); 5] = [
    (Era::Reiwa, date!(2019 - 05 - 01)),
    (Era::Heisei, date!(1989 - 01 - 08)),
    (Era::Showa, date!(1926 - 12 - 25)),
    (Era::Taisho, date!(1912 - 07 - 30)),
    (Era::Meiji, date!(1868 - 01 - 25)),
];

impl Era {
    /// The era a Gregorian date falls in; what the encoder must write before `YYYYMMDD`.
    pub fn of(date: Date) -> Era {
        ERA_STARTS.iter().find(|(_, start)| date >= *start).map_or(Era::Unknown, |(era, _)| *era)
    }

    /// The JPKI code digit: 1明治 2大正 3昭和 4平成 5令和, 0 不明.
    pub fn code(self) -> u8 {
        match self {
            Era::Unknown => 0,
            Era::Meiji => 1,
            Era::Taisho => 2,
            Era::Showa => 3,
            Era::Heisei => 4,
            Era::Reiwa => 5,
        }
    }

    pub fn from_code(code: u8) -> Option<Era> {
        Some(match code {
            0 => Era::Unknown,
            1 => Era::Meiji,
            2 => Era::Taisho,
            3 => Era::Showa,
            4 => Era::Heisei,
            5 => Era::Reiwa,
            _ => return None,
        })
    }

    /// The era's name in kanji (`不明` for [`Era::Unknown`]).
    pub fn name_ja(self) -> &'static str {
        match self {
            Era::Unknown => "不明",
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    pub fn first_day(self) -> Option<Date> {
        ERA_STARTS.iter().find(|(era, _)| *era == self).map(|(_, d)| *d)
    }

    /// The era year of `date` (1 = 元年), if `date` lies in this era.
    pub fn year_of(self, date: Date) -> Option<i32> {
        let start = self.first_day()?;
        (Era::of(date) == self).then(|| date.year() - start.year() + 1)
    }
}
/// `令和7年11月24日` (the first year is 元年). Dates before the Meiji era (which no living
/// resident's record holds) are written in the Western calendar.
pub fn wareki(date: Date) -> String {
    let era = Era::of(date);
    match era.year_of(date) {
        Some(year) => format!("{}{}年{}月{}日", era.name_ja(), era_year(year), u8::from(date.month()), date.day()),
        None => format!("{}年{}月{}日", date.year(), u8::from(date.month()), date.day()),
    }
}

/// `7` for a year within an era, `元` for the first.
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
    if year == 2019 {
        return format!("{}{}", Era::Reiwa.name_ja(), era_year(1));
    }
    Date::from_calendar_date(year, Month::April, 1).map_or_else(|_| year.to_string(), era_and_year)
}

/// `令和6` for the calendar year 2024 (the year as of 31 December).
pub fn calendar_year(year: i32) -> String {
    Date::from_calendar_date(year, Month::December, 31).map_or_else(|_| year.to_string(), era_and_year)
}

fn era_and_year(day: Date) -> String {
    let era = Era::of(day);
    match era.year_of(day) {
        Some(y) => format!("{}{}", era.name_ja(), era_year(y)),
        None => day.year().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
