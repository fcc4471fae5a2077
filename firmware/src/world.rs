//! Documents from the demo world's `registry.json` (written by `madoguchi-sim world`), for
//! operator test prints and demos until the backend returns document data.
//!
//! The firmware does not link the simulator (see ARCHITECTURE §1): the registry file is the
//! interface, read with the one registry schema the generator writes and the backend imports
//! (`madoguchi_api::registry`; unknown fields are ignored). The `tests` crate checks this reader
//! against the generator's output. Items the registry does not hold (届出日, 在留カード番号,
//! parents in the 戸籍, …) are not printed, never invented.

use madoguchi_api::registry::{self, Registry, ResidentRecord, SealStatus, REGISTRY_FILE};
use madoguchi_paper::DocumentError;
use madoguchi_paper::*;
use std::path::Path;

/// The demo world's register.
pub struct DemoWorld {
    reg: Registry,
}

fn world_err(s: impl Into<String>) -> DocumentError {
    DocumentError::World(s.into())
}

/// The demo issuer's head, until the backend's municipality configuration supplies it.
pub const DEMO_MAYOR: &str = "髙橋　一郎";

impl DemoWorld {
    /// Reads `DIR/registry.json`.
    pub fn load(dir: &Path) -> Result<DemoWorld, DocumentError> {
        let reg = Registry::load(dir).map_err(|e| world_err(e.to_string()))?;
        Ok(DemoWorld { reg })
    }

    pub fn from_json(bytes: &[u8]) -> Result<DemoWorld, DocumentError> {
        let reg = Registry::from_json(bytes, REGISTRY_FILE).map_err(|e| world_err(e.to_string()))?;
        Ok(DemoWorld { reg })
    }

    fn resident(&self, id: &str) -> Result<&ResidentRecord, DocumentError> {
        self.reg.resident(id).ok_or_else(|| world_err(format!("no resident {id}")))
    }

    /// The issuer for a municipality code (demo: the mayor is [`DEMO_MAYOR`], the seal drawn).
    pub fn issuer(&self, code: &str) -> Result<Issuer, DocumentError> {
        let m = self.reg.municipality(code).ok_or_else(|| world_err(format!("no municipality {code}")))?;
        let head = match m.name.chars().last() {
            Some('区') => "区長",
            Some('町') => "町長",
            Some('村') => "村長",
            _ => "市長",
        };
        let stem = m.name.strip_suffix(['市', '区', '町', '村']).unwrap_or(&m.name);
        Ok(Issuer {
            prefecture: m.prefecture.clone(),
            municipality: m.name.clone(),
            title: format!("{stem}{head}"),
            name: DEMO_MAYOR.into(),
            seal: MunicipalSeal::Drawn,
            enabled: ResidentOptions {
                head_and_relationship: true,
                honseki: true,
                previous_address: true,
                my_number: true,
                resident_code: true,
            },
        })
    }

    /// A 住民票 of the household of `resident`: the first `members` members in register order
    /// (always including the resident).
    pub fn juminhyo(
        &self,
        resident: &str,
        members: usize,
        requested: ResidentOptions,
    ) -> Result<(Juminhyo, Issuer), DocumentError> {
        let r = self.resident(resident)?;
        let res = r
            .residence
            .as_ref()
            .ok_or_else(|| world_err(format!("{} has no residence record (moved abroad?)", r.id)))?;
        let h =
            self.reg.household(&res.household).ok_or_else(|| world_err(format!("no household {}", res.household)))?;
        let head = self.resident(&h.head)?;
        let mut chosen: Vec<&registry::HouseholdMember> = h.members.iter().take(members).collect();
        if members > 0 && !chosen.iter().any(|m| m.resident == r.id) {
            chosen.pop();
            if let Some(me) = h.members.iter().find(|m| m.resident == r.id) {
                chosen.push(me);
            }
        }
        let members = chosen
            .iter()
            .map(|m| self.resident_entry(&m.resident, &m.relationship, &res.municipality))
            .collect::<Result<Vec<_>, _>>()?;
        let j = Juminhyo {
            address: h.address.clone(),
            head: head.name.clone(),
            household_size: h.members.len(),
            members,
            requested,
        };
        Ok((j, self.issuer(&h.municipality)?))
    }

    fn resident_entry(&self, id: &str, relationship: &str, municipality: &str) -> Result<Resident, DocumentError> {
        let r = self.resident(id)?;
        let res = r.residence.as_ref().ok_or_else(|| world_err(format!("{id} has no residence record")))?;
        let since = res.since;
        // As the register says; else moved in from another municipality: a resident since the
        // move; otherwise unknown.
        let became = match (res.became_resident_on, &res.previous_municipality) {
            (Some(d), _) => Some(d),
            (None, Some(from)) if from != municipality => Some(since),
            _ => None,
        };
        let foreign = r.foreign.as_ref().map(|f| ForeignResident {
            nationality: f.nationality.clone(),
            category: f.category.clone(),
            status: f.residence_status.clone(),
            period: f.period_of_stay.clone(),
            period_ends: f.period_of_stay_end,
            card_number: f.card_number.clone(),
            alias: f.alias.clone(),
        });
        Ok(Resident {
            name: r.name.clone(),
            kana: Some(r.name_kana.clone()).filter(|k| !k.is_empty()),
            born: r.birth_date,
            sex: match r.sex {
                registry::Sex::Female => Sex::Female,
                registry::Sex::Male => Sex::Male,
            },
            relationship: relationship.into(),
            became_resident: became,
            address_since: since,
            notified_on: res.notified_on,
            previous_address: res.previous_address.clone(),
            honseki: r.honseki.as_ref().map(|h| Honseki { address: h.address.clone(), head: h.hittosha.clone() }),
            my_number: Some(r.my_number.clone()).filter(|n| !n.is_empty()),
            resident_code: r.resident_code.clone(),
            foreign,
        })
    }

    /// The 印鑑登録証明書 of `resident` (its active registration).
    pub fn inkan(&self, resident: &str) -> Result<(Inkan, Issuer), DocumentError> {
        let r = self.resident(resident)?;
        let res = r.residence.as_ref().ok_or_else(|| world_err(format!("{resident} has no residence record")))?;
        let seal = self.reg.seal_registrations.iter().find(|s| s.resident == r.id && s.status == SealStatus::Active);
        let inkan = Inkan {
            name: r.name.clone(),
            born: r.birth_date,
            sex: None,
            address: res.address.clone(),
            registration_number: seal.map(|s| s.registration_number.clone()).unwrap_or_default(),
            impression: seal
                .map(|s| SealImpression::Engraved { text: s.impression.clone(), diameter_mm: s.diameter_mm }),
        };
        if inkan.impression.is_none() {
            return Err(DocumentError::MissingSealImpression(r.name.clone()));
        }
        Ok((inkan, self.issuer(&res.municipality)?))
    }

    /// The 課税・所得証明書 of `resident` for `fiscal_year` (default: the latest on file).
    pub fn kazei(&self, resident: &str, fiscal_year: Option<i32>) -> Result<(Kazei, Issuer), DocumentError> {
        let r = self.resident(resident)?;
        let res = r.residence.as_ref().ok_or_else(|| world_err(format!("{resident} has no residence record")))?;
        let records: Vec<TaxRecord> = self
            .reg
            .tax_records
            .iter()
            .filter(|t| t.resident == r.id)
            .map(|t| {
                let mut incomes = Vec::new();
                if t.salary_income > 0 {
                    incomes.push((Income::Salary, t.salary_income));
                }
                if t.pension_income > 0 {
                    incomes.push((Income::Pension, t.pension_income));
                }
                TaxRecord {
                    fiscal_year: t.fiscal_year,
                    address: res.address.clone(),
                    address_on_jan_1: false,
                    incomes,
                    total_income: t.total_income,
                    deductions: Vec::new(),
                    total_deductions: None,
                    has_spouse: None,
                    dependents: None,
                    taxable_income: t.taxable_income,
                    municipal_tax: t.municipal_tax,
                    prefectural_tax: t.prefectural_tax,
                }
            })
            .collect();
        let year = match fiscal_year {
            Some(y) => y,
            None => records
                .iter()
                .map(|t| t.fiscal_year)
                .max()
                .ok_or(DocumentError::TaxYearNotOnFile { requested: 0, available: Vec::new() })?,
        };
        let k = Kazei::for_year(&r.name, r.birth_date, &records, year)?;
        Ok((k, self.issuer(&res.municipality)?))
    }

    /// The people sharing `resident`'s 本籍 and 筆頭者, the head first.
    fn koseki_members(&self, resident: &str) -> Result<(&registry::Honseki, Vec<&ResidentRecord>), DocumentError> {
        let r = self.resident(resident)?;
        let h = r.honseki.as_ref().ok_or_else(|| world_err(format!("{resident} has no 本籍 (foreign resident?)")))?;
        let mut people: Vec<&ResidentRecord> = self
            .reg
            .residents
            .iter()
            .filter(|o| o.honseki.as_ref().is_some_and(|oh| oh.address == h.address && oh.hittosha == h.hittosha))
            .collect();
        people.sort_by_key(|o| (o.name != h.hittosha, o.birth_date));
        Ok((h, people))
    }

    /// 戸籍全部事項 (or 個人事項 for `resident` alone) from the register: what it holds of a 戸籍
    /// (names, births, parents, 続柄 and 身分事項 as recorded).
    pub fn koseki(&self, resident: &str, members: usize, whole: bool) -> Result<(Koseki, Issuer), DocumentError> {
        let (h, people) = self.koseki_members(resident)?;
        let family = h.hittosha.split(['　', ' ']).next().unwrap_or("").to_string();
        let persons = people
            .iter()
            .take(members.max(1))
            .map(|p| {
                let born = p.birth_date;
                Ok(KosekiPerson {
                    given_name: p
                        .name
                        .strip_prefix(family.as_str())
                        .unwrap_or(&p.name)
                        .trim_start_matches(['　', ' '])
                        .to_string(),
                    born,
                    father: p.father.clone(),
                    mother: p.mother.clone(),
                    relationship: p.koseki_relationship.clone(),
                    spouse_role: None,
                    events: KosekiEvent::all_from(
                        &p.koseki_events.iter().map(|e| (e.kind.clone(), e.items.clone())).collect::<Vec<_>>(),
                        born,
                    ),
                    removed: false,
                })
            })
            .collect::<Result<Vec<_>, DocumentError>>()?;
        let me = people.iter().position(|p| p.id == resident).unwrap_or(0);
        if persons.is_empty() {
            return Err(DocumentError::EmptyHousehold);
        }
        let k = Koseki {
            honseki: h.address.clone(),
            head: h.hittosha.clone(),
            created: h.created,
            persons,
            scope: if whole { KosekiScope::All } else { KosekiScope::Persons(vec![me.min(members.max(1) - 1)]) },
        };
        Ok((k, self.issuer(&h.municipality)?))
    }

    /// 戸籍の附票 from the register: each person of the 戸籍 with the current address.
    pub fn fuhyo(&self, resident: &str, members: usize) -> Result<(Fuhyo, Issuer), DocumentError> {
        let (h, people) = self.koseki_members(resident)?;
        let persons = people
            .iter()
            .take(members.max(1))
            .map(|p| {
                let addresses = match &p.residence {
                    Some(res) => vec![FuhyoAddress { address: res.address.clone(), since: res.since }],
                    None => Vec::new(),
                };
                Ok(FuhyoPerson { name: p.name.clone(), born: p.birth_date, addresses })
            })
            .collect::<Result<Vec<_>, DocumentError>>()?;
        Ok((Fuhyo { honseki: h.address.clone(), head: h.hittosha.clone(), persons }, self.issuer(&h.municipality)?))
    }

    /// A document by kind for `resident` (default: the first resident it can be made for).
    pub fn document(
        &self,
        kind: &str,
        resident: Option<&str>,
        members: usize,
        options: ResidentOptions,
        year: Option<i32>,
    ) -> Result<(Document, Issuer), DocumentError> {
        let make = |id: &str| -> Result<(Document, Issuer), DocumentError> {
            Ok(match kind {
                "juminhyo" => {
                    let (j, i) = self.juminhyo(id, members, options)?;
                    (Document::Juminhyo(j), i)
                }
                "kisaijiko" => {
                    let (j, i) = self.juminhyo(id, members, options)?;
                    (Document::Kisaijiko(j), i)
                }
                "inkan" => {
                    let (d, i) = self.inkan(id)?;
                    (Document::Inkan(d), i)
                }
                "kazei" => {
                    let (d, i) = self.kazei(id, year)?;
                    (Document::Kazei(d), i)
                }
                "koseki" | "koseki-zenbu" => {
                    let (d, i) = self.koseki(id, members, true)?;
                    (Document::Koseki(d), i)
                }
                "koseki-kojin" => {
                    let (d, i) = self.koseki(id, members, false)?;
                    (Document::Koseki(d), i)
                }
                "fuhyo" => {
                    let (d, i) = self.fuhyo(id, members)?;
                    (Document::Fuhyo(d), i)
                }
                other => return Err(world_err(format!("unknown document kind {other}"))),
            })
        };
        if let Some(id) = resident {
            return make(id);
        }
        // The first resident the document fits, preferring households with enough members.
        let mut first_err = None;
        let mut candidates: Vec<&ResidentRecord> = self.reg.residents.iter().collect();
        candidates.sort_by_key(|r| {
            let size =
                r.residence.as_ref().and_then(|res| self.reg.household(&res.household)).map_or(0, |h| h.members.len());
            (size < members, r.id.clone())
        });
        for r in candidates {
            match make(&r.id) {
                Ok(d) => return Ok(d),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(|| world_err("the world has no residents")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn renderer() -> Renderer {
        Renderer::new(FontSet::load(&FontPaths::default()).expect("fonts-ipaexfont and fonts-ipamj-mincho"))
    }

    fn issuance() -> Issuance {
        sample::issuance("R7-000123", date!(2025 - 11 - 24))
    }

    #[test]
    fn the_demo_world_reader_takes_the_registry_format() {
        let json = r#"{
          "format": 1, "today": "2025-11-24",
          "municipalities": [{"code": "132250", "prefecture": "東京都", "name": "稲城市", "name_kana": "いなぎし",
                              "prefecture_romaji": "Tokyo", "city_romaji": "Inagi"}],
          "households": [{"id": "H01", "municipality": "132250", "address": "東京都稲城市東長沼２１１１番地",
                          "head": "R0001", "members": [{"resident": "R0001", "relationship": "世帯主"},
                                                       {"resident": "R0002", "relationship": "妻"}]}],
          "residents": [
            {"id": "R0001", "name": "稲城　太郎", "name_kana": "いなぎ　たろう", "birth_date": "1980-01-02", "sex": "male",
             "my_number": "123456789018",
             "residence": {"municipality": "132250", "household": "H01", "address": "東京都稲城市東長沼２１１１番地",
                           "relationship": "世帯主", "since": "2015-04-01", "previous_address": "神奈川県川崎市",
                           "previous_municipality": "141305"},
             "honseki": {"municipality": "132250", "address": "東京都稲城市東長沼２１１１番地", "hittosha": "稲城　太郎"},
             "foreign": null, "emigration": null, "card": {"issued": "2020-01-06", "card_expiry": "2030-01-02",
                      "auth_cert": {"kind": "auth", "serial": "01", "sha256": "AB", "issuer_generation": 2,
                                    "not_before": "2020-01-06", "expiry": "2025-01-02", "status": "valid",
                                    "status_since": null},
                      "sign_cert": null}},
            {"id": "R0002", "name": "稲城　花子", "name_kana": "いなぎ　はなこ", "birth_date": "1982-03-04", "sex": "female",
             "my_number": "234567890123",
             "residence": {"municipality": "132250", "household": "H01", "address": "東京都稲城市東長沼２１１１番地",
                           "relationship": "妻", "since": "2015-04-01", "previous_address": null, "previous_municipality": null},
             "honseki": {"municipality": "132250", "address": "東京都稲城市東長沼２１１１番地", "hittosha": "稲城　太郎"},
             "foreign": null, "emigration": null, "card": {"issued": "2020-01-06", "card_expiry": "2030-01-02",
                      "auth_cert": {"kind": "auth", "serial": "01", "sha256": "AB", "issuer_generation": 2,
                                    "not_before": "2020-01-06", "expiry": "2025-01-02", "status": "valid",
                                    "status_since": null},
                      "sign_cert": null}}],
          "seal_registrations": [{"resident": "R0001", "municipality": "132250", "registration_number": "1234",
                                  "registered_on": "2016-01-01", "status": "active", "abolished_on": null,
                                  "impression": "稲城", "diameter_mm": 15}],
          "tax_records": [{"resident": "R0001", "municipality": "132250", "fiscal_year": 2025, "income_year": 2024,
                           "salary_income": 4000000, "pension_income": 0, "total_income": 4000000,
                           "taxable_income": 2500000, "municipal_tax": 150000, "prefectural_tax": 100000}]
        }"#;
        let w = DemoWorld::from_json(json.as_bytes()).unwrap();
        let (j, issuer) =
            w.juminhyo("R0002", 2, ResidentOptions { head_and_relationship: true, ..Default::default() }).unwrap();
        assert_eq!(issuer.title, "稲城市長");
        assert_eq!(j.head, "稲城　太郎");
        assert_eq!(j.members.len(), 2);
        assert_eq!(j.members[0].became_resident, Some(date!(2015 - 04 - 01)));
        assert_eq!(j.members[1].became_resident, None);
        renderer().render(&Document::Juminhyo(j), &issuer, &issuance()).unwrap();
        let (k, _) = w.kazei("R0001", Some(2025)).unwrap();
        assert_eq!(k.record.total_income, 4_000_000);
        assert!(matches!(w.kazei("R0001", Some(2024)), Err(DocumentError::TaxYearNotOnFile { .. })));
        assert!(matches!(w.inkan("R0002"), Err(DocumentError::MissingSealImpression(_))));
        let (i, _) = w.inkan("R0001").unwrap();
        renderer().render(&Document::Inkan(i), &issuer, &issuance()).unwrap();
        let (ko, _) = w.koseki("R0002", 4, true).unwrap();
        assert_eq!(ko.persons.len(), 2);
        assert_eq!(ko.persons[0].given_name, "太郎");
        renderer().render(&Document::Koseki(ko), &issuer, &issuance()).unwrap();
    }
}
