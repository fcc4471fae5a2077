//! The households: where they live, and the register's households built from the cast.

use super::cast::{Spec, KIYOSE, TOKOROZAWA};
use super::residents::fullwidth;
use super::WorldError;
use madoguchi_api::registry::{Household, HouseholdMember, HEAD};

/// A household as written (ASCII digits and hyphens become full width on output).
pub(super) struct HouseholdSpec {
    pub(super) id: &'static str,
    pub(super) municipality: &'static str,
    pub(super) address: &'static str,
}

pub(super) const HOUSEHOLDS: [HouseholdSpec; 8] = [
    HouseholdSpec { id: "H01", municipality: KIYOSE, address: "東京都清瀬市中里五丁目842番地" },
    HouseholdSpec { id: "H02", municipality: KIYOSE, address: "東京都清瀬市松山二丁目15番8号" },
    HouseholdSpec {
        id: "H03",
        municipality: KIYOSE,
        address: "東京都清瀬市元町一丁目4番22号 グリーンハイツ清瀬203号室",
    },
    HouseholdSpec { id: "H04", municipality: KIYOSE, address: "東京都清瀬市野塩三丁目7-11" },
    HouseholdSpec { id: "H05", municipality: TOKOROZAWA, address: "埼玉県所沢市並木六丁目2番5号" },
    HouseholdSpec { id: "H06", municipality: TOKOROZAWA, address: "埼玉県所沢市小手指町三丁目10番地3" },
    HouseholdSpec {
        id: "H07", municipality: KIYOSE, address: "東京都清瀬市松山一丁目9番12号 コーポ松山102号室"
    },
    HouseholdSpec { id: "H08", municipality: KIYOSE, address: "東京都清瀬市竹丘三丁目5番7号" },
];

pub(super) fn household(id: &str) -> Option<&'static HouseholdSpec> {
    HOUSEHOLDS.iter().find(|h| h.id == id)
}

/// The register's households: each with its members in cast order and its head.
pub(super) fn register(cast: &[Spec]) -> Result<Vec<Household>, WorldError> {
    let mut households = Vec::new();
    for h in &HOUSEHOLDS {
        let members: Vec<HouseholdMember> = cast
            .iter()
            .filter_map(|s| match s.household {
                Some((id, rel)) if id == h.id => {
                    Some(HouseholdMember { resident: s.id.into(), relationship: rel.into() })
                }
                _ => None,
            })
            .collect();
        let head = members
            .iter()
            .find(|m| m.relationship == HEAD)
            .map(|m| m.resident.clone())
            .ok_or_else(|| WorldError::Invariant(format!("household {} has no head", h.id)))?;
        households.push(Household {
            id: h.id.into(),
            municipality: h.municipality.into(),
            address: fullwidth(h.address),
            head,
            members,
        });
    }
    Ok(households)
}
