//! Seal registrations (印鑑登録).

use super::dice::Dice;
use super::residents::{Builder, Facts};
use madoguchi_api::registry::{SealRegistration, SealStatus};
use time::{Date, Duration};

impl Builder<'_> {
    /// Seal registrations; a move abolished the one in the old municipality. Returns whether
    /// one is active.
    pub(super) fn seals(&mut self, f: &Facts, dice: &mut Dice) -> bool {
        let Some((impression, diameter_mm)) = f.spec.seal else { return false };
        let mut reg = |municipality: &str, registered_on: Date, abolished_on: Option<Date>| SealRegistration {
            resident: f.spec.id.into(),
            municipality: municipality.into(),
            registration_number: format!("{municipality}-{:06}", 100 + dice.below(900_000)),
            registered_on,
            status: if abolished_on.is_some() { SealStatus::Abolished } else { SealStatus::Active },
            abolished_on,
            impression: impression.into(),
            diameter_mm,
            seal_png: None,
        };
        match f.spec.move_in {
            Some(mv) => {
                let moved = self.today - Duration::days(mv.days_ago);
                let old = reg(mv.from_municipality, self.today - Duration::days(3000), Some(moved));
                let new = reg(f.municipality, moved + Duration::days(5), None);
                self.seals.extend([old, new]);
            }
            None => {
                let reg = reg(f.municipality, self.today - Duration::days(2500), None);
                self.seals.push(reg);
            }
        }
        true
    }
}
