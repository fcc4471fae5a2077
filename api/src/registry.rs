//! The registry import schema: `registry.json`, the municipality systems' records (households,
//! residents, addresses, 本籍, seal registrations, tax records, municipalities) as the demo world
//! generator writes them and the backend imports them. The kiosk's demo-world reader
//! (`madoguchi print-sample --world`) reads the same file.
//!
//! One definition for the writer and every reader, so a field renamed on one side cannot pass
//! unnoticed. Reading is lenient where a reader was lenient: unknown fields are ignored (the
//! generator may add some), lists and optional fields may be missing. Fields only an imported
//! registry carries (the 公印 image, 支援措置, a death, 戸籍 parents) are never written when
//! empty, so the generator's output does not change with them. What a reader needs beyond the
//! schema (a household that exists, an active seal) it checks itself.

use serde::{Deserialize, Serialize};
use std::path::Path;
use time::Date;

/// Format version in `registry.json`.
pub const REGISTRY_FORMAT: u32 = 1;

/// The file's name inside a world directory.
pub const REGISTRY_FILE: &str = "registry.json";

/// 続柄 of the household head.
pub const HEAD: &str = "世帯主";

/// Why a registry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("{path} has format {found}, this reader takes format {REGISTRY_FORMAT}")]
    Version { path: String, found: u32 },
}

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryErrorKind {
    Unreadable,
    Malformed,
    UnsupportedFormat,
}

impl RegistryError {
    pub fn kind(&self) -> RegistryErrorKind {
        match self {
            RegistryError::Io { .. } => RegistryErrorKind::Unreadable,
            RegistryError::Json { .. } => RegistryErrorKind::Malformed,
            RegistryError::Version { .. } => RegistryErrorKind::UnsupportedFormat,
        }
    }
}

/// `registry.json`: what the municipal backend imports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub format: u32,
    #[serde(with = "iso_date")]
    pub today: Date,
    pub municipalities: Vec<Municipality>,
    pub households: Vec<Household>,
    pub residents: Vec<ResidentRecord>,
    #[serde(default)]
    pub seal_registrations: Vec<SealRegistration>,
    #[serde(default)]
    pub tax_records: Vec<TaxRecord>,
}

impl Registry {
    /// Reads `DIR/registry.json`.
    pub fn load(world_dir: &Path) -> Result<Registry, RegistryError> {
        let path = world_dir.join(REGISTRY_FILE);
        let bytes =
            std::fs::read(&path).map_err(|source| RegistryError::Io { path: path.display().to_string(), source })?;
        Registry::from_json(&bytes, REGISTRY_FILE)
    }

    /// Parses a registry; `name` says where it came from in errors.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<Registry, RegistryError> {
        let registry: Registry =
            serde_json::from_slice(bytes).map_err(|source| RegistryError::Json { path: name.into(), source })?;
        if registry.format != REGISTRY_FORMAT {
            return Err(RegistryError::Version { path: name.into(), found: registry.format });
        }
        Ok(registry)
    }

    pub fn resident(&self, id: &str) -> Option<&ResidentRecord> {
        self.residents.iter().find(|r| r.id == id)
    }

    pub fn household(&self, id: &str) -> Option<&Household> {
        self.households.iter().find(|h| h.id == id)
    }

    pub fn municipality(&self, code: &str) -> Option<&Municipality> {
        self.municipalities.iter().find(|m| m.code == code)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Also read as ISO 5218 `1` and `男`, as other registry exports write it.
    #[serde(alias = "1", alias = "男")]
    Male,
    #[serde(alias = "2", alias = "女")]
    Female,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Municipality {
    /// 全国地方公共団体コード, 6 digits with check digit.
    pub code: String,
    pub prefecture: String,
    pub name: String,
    #[serde(default)]
    pub name_kana: String,
    #[serde(default)]
    pub prefecture_romaji: String,
    #[serde(default)]
    pub city_romaji: String,
    /// 証明者の職名 printed under each certificate (e.g. 清瀬市長).
    #[serde(default)]
    pub issuer_title: String,
    /// 証明者の氏名 (fictional; with the variant kanji 𠮷 and 﨑 that printing must handle).
    #[serde(default)]
    pub issuer_name: String,
    /// The 公印, base64 PNG (the generator draws none: the backend then draws one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_png: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Household {
    pub id: String,
    pub municipality: String,
    pub address: String,
    /// 世帯主.
    pub head: String,
    pub members: Vec<HouseholdMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdMember {
    pub resident: String,
    /// 続柄 as the 住民票 prints it: 世帯主, 妻, 子, …
    pub relationship: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentRecord {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub name_kana: String,
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    pub sex: Sex,
    #[serde(default)]
    pub my_number: String,
    /// `None` once moved abroad.
    pub residence: Option<Residence>,
    /// `None` for foreign residents (no 戸籍).
    pub honseki: Option<Honseki>,
    #[serde(default)]
    pub foreign: Option<ForeignStatus>,
    #[serde(default)]
    pub emigration: Option<Emigration>,
    pub card: CardRecord,
    /// 死亡 (the record stays, no document is issued from it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub deceased: bool,
    /// 支援措置 (DV, stalking): never on a kiosk document.
    #[serde(default, skip_serializing_if = "is_false")]
    pub support_measures: bool,
    /// 戸籍上の続柄 (長男, 妻 …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub koseki_relationship: Option<String>,
    /// 父 and 母 as in the 戸籍.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub father: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mother: Option<String>,
    /// 住民票コード (11 digits), absent for a resident abroad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_code: Option<String>,
    /// 身分事項 in the 戸籍 (出生, 婚姻, 入籍 …), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub koseki_events: Vec<KosekiEvent>,
}

/// One 身分事項 of a 戸籍: its kind and its items as the register words them
/// (`["出生日", "昭和53年5月14日"]`, `["届出人", "父"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KosekiEvent {
    pub kind: String,
    pub items: Vec<[String; 2]>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Residence {
    pub municipality: String,
    pub household: String,
    pub address: String,
    pub relationship: String,
    /// Became a resident at this address (住定日).
    #[serde(with = "iso_date")]
    pub since: Date,
    /// Where from, when moved in from another municipality (前住所).
    #[serde(default)]
    pub previous_address: Option<String>,
    #[serde(default)]
    pub previous_municipality: Option<String>,
    /// 住民となった年月日 (birth, or the move into the municipality); absent: `since`.
    #[serde(with = "iso_date_opt", default, skip_serializing_if = "Option::is_none")]
    pub became_resident_on: Option<Date>,
    /// 届出日 of the move to this address.
    #[serde(with = "iso_date_opt", default, skip_serializing_if = "Option::is_none")]
    pub notified_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Honseki {
    pub municipality: String,
    /// 本籍.
    pub address: String,
    /// 筆頭者.
    pub hittosha: String,
    /// 利用登録 done at the 本籍 municipality (absent: assumed done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiosk_registered: Option<bool>,
    /// 戸籍編製日.
    #[serde(with = "iso_date_opt", default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignStatus {
    pub nationality: String,
    /// 在留資格.
    pub residence_status: String,
    /// 在留期間の満了日; `None` for permanent residents.
    #[serde(with = "iso_date_opt", default)]
    pub period_of_stay_end: Option<Date>,
    /// 住民基本台帳法第30条の45に規定する区分 (中長期在留者, 特別永住者 …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// 在留期間 (`3年`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_of_stay: Option<String>,
    /// 在留カード等の番号 (`AB12345678CD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_number: Option<String>,
    /// 通称, where registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emigration {
    #[serde(with = "iso_date")]
    pub date: Date,
    pub destination: String,
    pub previous_municipality: String,
    pub previous_address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRecord {
    #[serde(with = "iso_date")]
    pub issued: Date,
    #[serde(with = "iso_date")]
    pub card_expiry: Date,
    pub auth_cert: CertRecord,
    pub sign_cert: Option<CertRecord>,
    /// Earlier certificates that are no longer on the card (e.g. revoked at a move).
    #[serde(default)]
    pub previous_certs: Vec<CertRecord>,
    #[serde(default)]
    pub phones: Vec<PhoneRecord>,
}

/// Which of the card's two certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertKind {
    /// 利用者証明用 (user authentication).
    Auth,
    /// 署名用 (digital signature).
    Sign,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertStatus {
    Valid,
    Expired,
    Revoked,
    Suspended,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRecord {
    pub kind: CertKind,
    pub serial: String,
    /// SHA-256 of the DER, upper-case hex: how the backend links a certificate to a resident.
    pub sha256: String,
    /// Which generation of the issuing CA (anchors/{auth,sign}-ca-N.der).
    pub issuer_generation: u8,
    #[serde(with = "iso_date")]
    pub not_before: Date,
    #[serde(with = "iso_date")]
    pub expiry: Date,
    pub status: CertStatus,
    #[serde(with = "iso_date_opt")]
    pub status_since: Option<Date>,
}

/// What carries the certificates: the card itself or a phone token (jpki.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Token {
    Card,
    Android,
    Iphone,
}

impl Token {
    pub fn as_str(self) -> &'static str {
        match self {
            Token::Card => "card",
            Token::Android => "android",
            Token::Iphone => "iphone",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneRecord {
    pub token: Token,
    /// The token's profile in the world directory.
    pub profile: String,
    pub auth_cert: CertRecord,
    pub sign_cert: CertRecord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SealStatus {
    Active,
    /// 廃止 (e.g. automatically on moving out of the municipality).
    Abolished,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRegistration {
    pub resident: String,
    pub municipality: String,
    pub registration_number: String,
    #[serde(with = "iso_date")]
    pub registered_on: Date,
    pub status: SealStatus,
    #[serde(with = "iso_date_opt", default)]
    pub abolished_on: Option<Date>,
    /// The characters engraved on the seal (the backend renders the impression).
    pub impression: String,
    pub diameter_mm: u8,
    /// A scanned impression, base64 PNG, printed instead of the engraved characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_png: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRecord {
    pub resident: String,
    /// The municipality that levied it (where the resident lived on 1 January of the 年度).
    pub municipality: String,
    /// 年度 (fiscal year of the tax).
    pub fiscal_year: i32,
    /// The calendar year of the income.
    pub income_year: i32,
    pub salary_income: u64,
    #[serde(default)]
    pub pension_income: u64,
    /// 合計所得金額.
    pub total_income: u64,
    /// 課税標準額 after deductions.
    pub taxable_income: u64,
    /// 市町村民税 (所得割 + 均等割).
    pub municipal_tax: u64,
    /// 道府県民税 (所得割 + 均等割).
    pub prefectural_tax: u64,
}

/// A date as `YYYY-MM-DD` (serde `with`), as the registry and the world's manifest write it.
pub mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn format(d: &Date) -> String {
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }

    pub fn parse(s: &str) -> Result<Date, time::error::Parse> {
        Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
    }

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An optional [`iso_date`]: `null` when absent.
pub mod iso_date_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::iso_date::format(d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| super::iso_date::parse(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn cert(kind: CertKind) -> CertRecord {
        CertRecord {
            kind,
            serial: "0A1B".into(),
            sha256: "AB".repeat(32),
            issuer_generation: 2,
            not_before: date!(2024 - 04 - 01),
            expiry: date!(2029 - 05 - 14),
            status: CertStatus::Valid,
            status_since: None,
        }
    }

    fn registry() -> Registry {
        Registry {
            format: REGISTRY_FORMAT,
            today: date!(2025 - 11 - 24),
            municipalities: vec![Municipality {
                code: "132217".into(),
                prefecture: "東京都".into(),
                name: "清瀬市".into(),
                name_kana: "きよせし".into(),
                prefecture_romaji: "Tokyo-to".into(),
                city_romaji: "Kiyose-shi".into(),
                issuer_title: "清瀬市長".into(),
                issuer_name: "𠮷田　正和".into(),
                seal_png: None,
            }],
            households: vec![Household {
                id: "H01".into(),
                municipality: "132217".into(),
                address: "東京都清瀬市中里五丁目８４２番地".into(),
                head: "R0001".into(),
                members: vec![HouseholdMember { resident: "R0001".into(), relationship: HEAD.into() }],
            }],
            residents: vec![ResidentRecord {
                id: "R0001".into(),
                name: "佐藤　健一".into(),
                name_kana: "サトウ　ケンイチ".into(),
                birth_date: date!(1978 - 05 - 14),
                sex: Sex::Male,
                my_number: "123456789018".into(),
                residence: Some(Residence {
                    municipality: "132217".into(),
                    household: "H01".into(),
                    address: "東京都清瀬市中里五丁目８４２番地".into(),
                    relationship: HEAD.into(),
                    since: date!(2015 - 04 - 01),
                    previous_address: None,
                    previous_municipality: None,
                    became_resident_on: None,
                    notified_on: Some(date!(2015 - 04 - 03)),
                }),
                honseki: None,
                foreign: None,
                emigration: None,
                card: CardRecord {
                    issued: date!(2024 - 04 - 01),
                    card_expiry: date!(2034 - 05 - 14),
                    auth_cert: cert(CertKind::Auth),
                    sign_cert: Some(cert(CertKind::Sign)),
                    previous_certs: vec![],
                    phones: vec![],
                },
                deceased: false,
                support_measures: false,
                koseki_relationship: None,
                father: None,
                mother: None,
                resident_code: Some("12345678901".into()),
                koseki_events: vec![],
            }],
            seal_registrations: vec![SealRegistration {
                resident: "R0001".into(),
                municipality: "132217".into(),
                registration_number: "132217-000123".into(),
                registered_on: date!(2016 - 01 - 01),
                status: SealStatus::Active,
                abolished_on: None,
                impression: "佐藤".into(),
                diameter_mm: 15,
                seal_png: None,
            }],
            tax_records: vec![],
        }
    }

    #[test]
    fn round_trips_and_writes_no_empty_import_only_fields() {
        let r = registry();
        let json = serde_json::to_vec_pretty(&r).unwrap();
        assert_eq!(Registry::from_json(&json, "t").unwrap(), r);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["today"], "2025-11-24");
        assert_eq!(v["residents"][0]["birth_date"], "1978-05-14");
        assert_eq!(v["residents"][0]["sex"], "male");
        assert_eq!(v["residents"][0]["card"]["auth_cert"]["kind"], "auth");
        assert_eq!(v["residents"][0]["card"]["auth_cert"]["status_since"], serde_json::Value::Null);
        assert_eq!(v["seal_registrations"][0]["abolished_on"], serde_json::Value::Null);
        for absent in ["deceased", "support_measures", "koseki_relationship", "father", "mother"] {
            assert!(v["residents"][0].get(absent).is_none(), "{absent}");
        }
        assert!(v["municipalities"][0].get("seal_png").is_none());
        assert!(v["seal_registrations"][0].get("seal_png").is_none());
    }

    #[test]
    fn reads_leniently_what_the_readers_took() {
        let mut v = serde_json::to_value(registry()).unwrap();
        v["unknown_addition"] = "ignored".into();
        v.as_object_mut().unwrap().remove("seal_registrations");
        v.as_object_mut().unwrap().remove("tax_records");
        let r = &mut v["residents"][0];
        r["sex"] = "女".into();
        r["support_measures"] = true.into();
        r["father"] = "佐藤　一郎".into();
        for optional in ["name_kana", "my_number", "foreign", "emigration"] {
            r.as_object_mut().unwrap().remove(optional);
        }
        r["card"].as_object_mut().unwrap().remove("phones");
        let read = Registry::from_json(&serde_json::to_vec(&v).unwrap(), "t").unwrap();
        let me = read.resident("R0001").unwrap();
        assert_eq!((me.sex, me.support_measures, me.father.as_deref()), (Sex::Female, true, Some("佐藤　一郎")));
        assert!(me.name_kana.is_empty() && me.my_number.is_empty() && me.card.phones.is_empty());
        assert!(read.seal_registrations.is_empty() && read.tax_records.is_empty());
        assert_eq!(read.household("H01").unwrap().head, "R0001");
        assert_eq!(read.municipality("132217").unwrap().name, "清瀬市");
        for (sex, expect) in [("1", Sex::Male), ("2", Sex::Female), ("男", Sex::Male), ("female", Sex::Female)] {
            assert_eq!(serde_json::from_value::<Sex>(sex.into()).unwrap(), expect);
        }
    }

    #[test]
    fn refuses_bad_dates_other_formats_and_unreadable_files() {
        let mut v = serde_json::to_value(registry()).unwrap();
        v["residents"][0]["birth_date"] = "1978/05/14".into();
        let e = Registry::from_json(&serde_json::to_vec(&v).unwrap(), "registry.json").unwrap_err();
        assert_eq!(e.kind(), RegistryErrorKind::Malformed);
        assert!(e.to_string().starts_with("registry.json: "), "{e}");
        let mut v = serde_json::to_value(registry()).unwrap();
        v["format"] = 2.into();
        let e = Registry::from_json(&serde_json::to_vec(&v).unwrap(), "registry.json").unwrap_err();
        assert_eq!(e.kind(), RegistryErrorKind::UnsupportedFormat);
        let e = Registry::load(Path::new("/nonexistent/world")).unwrap_err();
        assert_eq!(e.kind(), RegistryErrorKind::Unreadable);
    }
}
