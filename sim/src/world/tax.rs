//! Tax records (住民税) for the 課税・所得証明書.

use super::cast::{Income, Spec};
use super::dice::Dice;
use super::residents::{age_on, Builder, Facts};
use super::WorldError;
use madoguchi_api::registry::TaxRecord;
use time::{Date, Duration};

impl Builder<'_> {
    /// Adults' 住民税 for the two latest 年度 already assessed (from June), levied by the
    /// municipality of residence on 1 January of the 年度.
    pub(super) fn taxes(&mut self, f: &Facts, dice: &mut Dice) -> Result<(), WorldError> {
        if age_on(f.birth, self.today) < 18 {
            return Ok(());
        }
        let latest = if u8::from(self.today.month()) >= 6 { self.today.year() } else { self.today.year() - 1 };
        for fiscal_year in [latest - 1, latest] {
            let jan1 = Date::from_calendar_date(fiscal_year, time::Month::January, 1)
                .map_err(|e| WorldError::Invariant(e.to_string()))?;
            let after_jan1 = |days: i64| self.today - Duration::days(days) > jan1;
            let spec = f.spec;
            let levying = if let Some(em) = spec.emigrated {
                after_jan1(em.days_ago).then_some(em.from_municipality)
            } else if spec.foreign.is_some_and(|x| after_jan1(x.arrived_days_ago)) {
                None
            } else if let Some(mv) = spec.move_in.filter(|mv| after_jan1(mv.days_ago)) {
                Some(mv.from_municipality)
            } else {
                Some(f.municipality)
            };
            if let Some(m) = levying {
                let record = tax_record(spec, m, fiscal_year, dice);
                self.taxes.push(record);
            }
        }
        Ok(())
    }
}

/// A plausible 住民税 assessment (simplified 2020s rules: employment / public-pension income
/// deductions, basic and social-insurance deductions, 6 % + 4 % 所得割, 均等割 3,000 + 1,000 yen;
/// non-taxable at 450,000 yen of income or less).
fn tax_record(spec: &Spec, municipality: &str, fiscal_year: i32, dice: &mut Dice) -> TaxRecord {
    // Income varies a little by year.
    let vary = |base: u64, dice: &mut Dice| base / 1000 * (970 + u64::from(dice.below(61))) / 1000 * 1000;
    let (salary, pension) = match spec.income {
        Income::Salary(s) => (vary(s, dice), 0),
        Income::Pension(p) => (0, vary(p, dice)),
        Income::None => (0, 0),
    };
    let salary_deduction = match salary {
        0 => 0,
        s if s <= 1_625_000 => 550_000.min(s),
        s if s <= 1_800_000 => s * 4 / 10 - 100_000,
        s if s <= 3_600_000 => s * 3 / 10 + 80_000,
        s if s <= 6_600_000 => s * 2 / 10 + 440_000,
        s if s <= 8_500_000 => s / 10 + 1_100_000,
        _ => 1_950_000,
    };
    let total_income = salary - salary_deduction + pension.saturating_sub(1_100_000);
    let deductions = 430_000 + salary * 14 / 100;
    let taxable_income = total_income.saturating_sub(deductions) / 1000 * 1000;
    let (municipal_tax, prefectural_tax) = if total_income <= 450_000 {
        (0, 0)
    } else {
        (taxable_income * 6 / 100 / 100 * 100 + 3_000, taxable_income * 4 / 100 / 100 * 100 + 1_000)
    };
    TaxRecord {
        resident: spec.id.into(),
        municipality: municipality.into(),
        fiscal_year,
        income_year: fiscal_year - 1,
        salary_income: salary,
        pension_income: pension,
        total_income,
        taxable_income,
        municipal_tax,
        prefectural_tax,
    }
}
