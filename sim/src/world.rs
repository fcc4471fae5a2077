//! The demo world: municipalities, households, residents with their cards and phones, the test
//! JPKI hierarchy with CRLs, and a registry the backend imports. **Test material**: all keys,
//! PINs and My Numbers are generated and stored in clear.
//!
//! Layout of the output directory:
//! ```text
//! manifest.json             who is who (ids, PINs, tags from reference/scenarios.md, paths)
//! registry.json             resident register, 本籍, seals, tax records (backend import)
//! anchors/{auth,sign}-ca-{1,2}.der   both CA generations (test anchors)
//! crl/{auth,sign}.crl       CRLs of the current generation; crl/{auth,sign}-1.crl the previous
//! cards/R0001.json          card profiles; cards/R0001-android.json, -iphone.json phone tokens
//! ```
//!
//! Output is a pure function of (seed, today): keys depend on the seed only (one ChaCha20
//! stream per key label), dates are relative to `today` so "expired" and "expiring within three
//! months" hold whenever the world is generated.

use crate::profile::{
    CardProfile, EmptyVerifyAfterSuccess, JpkiApplet, PinRecord, TextApplet, TokenKind, PROFILE_FORMAT,
};
use madoguchi_certs::testpki::{derive_rng, generate_keys, CaKind, Generation, SignSubject, TestPki, TestRevocation};
use madoguchi_certs::validity::{self, add_years, end_of_day_jst, nth_birthday_after, start_of_day_jst};
use madoguchi_certs::{Basic4Info, CertError, JpkiCertificate, RevocationReason, Sex as CertSex};
use rand_core::RngCore;
use rsa::pkcs8::EncodePrivateKey;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use time::{Date, Duration, OffsetDateTime};

pub const MANIFEST_FORMAT: u32 = 1;
pub const REGISTRY_FORMAT: u32 = 1;

/// Why the world could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("certificate: {0}")]
    Cert(#[from] CertError),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("private key encoding: {0}")]
    Key(String),
    /// A generated fact does not hold (e.g. a tag no resident carries): a generator bug.
    #[error("world invariant broken: {0}")]
    Invariant(String),
}

// ---------------------------------------------------------------------------------------------
// Output types: manifest.json and registry.json

/// Resident tags, the vocabulary of reference/scenarios.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tag {
    Adult,
    HouseholdHead,
    HouseholdMember,
    #[serde(rename = "under-15")]
    Under15,
    ForeignResident,
    SealRegistered,
    KosekiElsewhere,
    CertsExpired,
    CertsExpiringSoon,
    SignRevoked,
    PinBlocked,
    PhoneAndroid,
    PhoneIphone,
    PhoneSuspended,
    VariantKanjiName,
    MovedAbroad,
}

impl Tag {
    pub const ALL: [Tag; 16] = [
        Tag::Adult,
        Tag::HouseholdHead,
        Tag::HouseholdMember,
        Tag::Under15,
        Tag::ForeignResident,
        Tag::SealRegistered,
        Tag::KosekiElsewhere,
        Tag::CertsExpired,
        Tag::CertsExpiringSoon,
        Tag::SignRevoked,
        Tag::PinBlocked,
        Tag::PhoneAndroid,
        Tag::PhoneIphone,
        Tag::PhoneSuspended,
        Tag::VariantKanjiName,
        Tag::MovedAbroad,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    fn cert(self) -> CertSex {
        match self {
            Sex::Male => CertSex::Male,
            Sex::Female => CertSex::Female,
        }
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub seed: u64,
    #[serde(with = "iso_date")]
    pub today: Date,
    pub notice: String,
    /// Relative to the world directory.
    pub registry: String,
    pub anchors: Vec<AnchorFile>,
    pub crls: Vec<CrlFile>,
    pub residents: Vec<ManifestResident>,
    pub municipalities: Vec<Municipality>,
    pub households: Vec<ManifestHousehold>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorFile {
    pub path: String,
    /// `auth` or `sign`.
    pub ca: String,
    pub generation: u8,
    /// SHA-256 of the DER, upper-case hex.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrlFile {
    pub path: String,
    pub ca: String,
    pub generation: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PhoneProfiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iphone: Option<String>,
}

impl PhoneProfiles {
    pub fn is_empty(&self) -> bool {
        self.android.is_none() && self.iphone.is_none()
    }
}

/// The phone's own credentials (jpki.md §8: set on the phone, not the card's). Only Android
/// has any at the kiosk; an iPhone is unlocked by Face ID before it is tapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneSecrets {
    pub auth_pin: String,
    pub sign_password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PhoneSecretsByKind {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android: Option<PhoneSecrets>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestResident {
    pub id: String,
    /// As in the resident register (may hold variant kanji such as 髙).
    pub name: String,
    pub name_kana: String,
    pub card_profile: String,
    #[serde(default, skip_serializing_if = "PhoneProfiles::is_empty")]
    pub phone_profiles: PhoneProfiles,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_secrets: Option<PhoneSecretsByKind>,
    /// User-authentication PIN of the card (4 digits, never starting with 0 or 9).
    pub auth_pin: String,
    /// Signature password of the card; `null` for residents under 15.
    pub sign_password: Option<String>,
    /// PIN of the 券面事項入力補助AP.
    pub text_pin: String,
    pub my_number: String,
    pub notes: String,
    pub tags: Vec<Tag>,
    /// Residence municipality; for a resident abroad, the municipality of the 本籍 (戸籍の附票).
    pub municipality: String,
    /// `null` for a resident abroad.
    pub household: Option<String>,
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    pub sex: Sex,
    pub address: Option<String>,
    /// Last day of validity of the card's certificates (JST).
    #[serde(with = "iso_date")]
    pub cert_expiry: Date,
    pub auth_cert_serial: String,
    pub sign_cert_serial: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestHousehold {
    pub id: String,
    pub municipality: String,
    pub head: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Municipality {
    /// 全国地方公共団体コード, 6 digits with check digit.
    pub code: String,
    pub prefecture: String,
    pub name: String,
    pub name_kana: String,
    pub prefecture_romaji: String,
    pub city_romaji: String,
    /// 証明者の職名 printed under each certificate (e.g. 清瀬市長).
    #[serde(default)]
    pub issuer_title: String,
    /// 証明者の氏名 (fictional; with the variant kanji 𠮷 and 﨑 that printing must handle).
    #[serde(default)]
    pub issuer_name: String,
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
    pub seal_registrations: Vec<SealRegistration>,
    pub tax_records: Vec<TaxRecord>,
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
    pub name_kana: String,
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    pub sex: Sex,
    pub my_number: String,
    /// `None` once moved abroad.
    pub residence: Option<Residence>,
    /// `None` for foreign residents (no 戸籍).
    pub honseki: Option<Honseki>,
    pub foreign: Option<ForeignStatus>,
    pub emigration: Option<Emigration>,
    pub card: CardRecord,
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
    pub previous_address: Option<String>,
    pub previous_municipality: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Honseki {
    pub municipality: String,
    /// 本籍.
    pub address: String,
    /// 筆頭者.
    pub hittosha: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignStatus {
    pub nationality: String,
    /// 在留資格.
    pub residence_status: String,
    /// 在留期間の満了日; `None` for permanent residents.
    #[serde(with = "iso_date_opt")]
    pub period_of_stay_end: Option<Date>,
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
    pub previous_certs: Vec<CertRecord>,
    pub phones: Vec<PhoneRecord>,
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
    /// `auth` or `sign`.
    pub kind: String,
    pub serial: String,
    /// SHA-256 of the DER, upper-case hex: how the backend links a certificate to a resident.
    pub sha256: String,
    pub issuer_generation: u8,
    #[serde(with = "iso_date")]
    pub not_before: Date,
    #[serde(with = "iso_date")]
    pub expiry: Date,
    pub status: CertStatus,
    #[serde(with = "iso_date_opt")]
    pub status_since: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneRecord {
    pub token: TokenKind,
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
    #[serde(with = "iso_date_opt")]
    pub abolished_on: Option<Date>,
    /// The characters engraved on the seal (the backend renders the impression).
    pub impression: String,
    pub diameter_mm: u8,
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

mod iso_date {
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

mod iso_date_opt {
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

// ---------------------------------------------------------------------------------------------
// The cast

const KIYOSE: &str = "132217";
const TOKOROZAWA: &str = "112089";

fn municipalities() -> Vec<Municipality> {
    let m = |code: &str, pref: &str, name: &str, kana: &str, pr: &str, cr: &str, mayor: &str| Municipality {
        code: code.into(),
        prefecture: pref.into(),
        name: name.into(),
        name_kana: kana.into(),
        prefecture_romaji: pr.into(),
        city_romaji: cr.into(),
        issuer_title: format!("{name}長"),
        issuer_name: mayor.into(),
    };
    vec![
        m(KIYOSE, "東京都", "清瀬市", "きよせし", "Tokyo-to", "Kiyose-shi", "𠮷田　正和"),
        m(TOKOROZAWA, "埼玉県", "所沢市", "ところざわし", "Saitama-ken", "Tokorozawa-shi", "山﨑　登美子"),
    ]
}

/// A household as written (ASCII digits and hyphens become full width on output).
struct HouseholdSpec {
    id: &'static str,
    municipality: &'static str,
    address: &'static str,
}

const HOUSEHOLDS: [HouseholdSpec; 6] = [
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
];

#[derive(Clone, Copy)]
enum Birth {
    Fixed(i32, u8, u8),
    /// `years` old, the birthday `days` after today (negative: before).
    Relative {
        years: i32,
        days: i64,
    },
}

#[derive(Clone, Copy)]
struct HonsekiSpec {
    municipality: &'static str,
    address: &'static str,
    hittosha: &'static str,
}

const HONSEKI_SATO: HonsekiSpec =
    HonsekiSpec {
        municipality: KIYOSE, address: "東京都清瀬市中里五丁目842番地", hittosha: "佐藤　健一"
    };
const HONSEKI_TAKAHASHI: HonsekiSpec =
    HonsekiSpec { municipality: TOKOROZAWA, address: "埼玉県所沢市東町5番地", hittosha: "髙橋　誠" };
const HONSEKI_NAKAMURA: HonsekiSpec =
    HonsekiSpec {
        municipality: KIYOSE, address: "東京都清瀬市野塩三丁目7番地", hittosha: "中村　大樹"
    };
const HONSEKI_TANAKA: HonsekiSpec =
    HonsekiSpec { municipality: KIYOSE, address: "東京都清瀬市竹丘二丁目3番地", hittosha: "田中　正" };
const HONSEKI_SUZUKI: HonsekiSpec =
    HonsekiSpec {
        municipality: KIYOSE, address: "東京都清瀬市梅園一丁目2番地", hittosha: "鈴木　大輔"
    };
const HONSEKI_YAMAGUCHI: HonsekiSpec =
    HonsekiSpec {
        municipality: TOKOROZAWA, address: "埼玉県所沢市小手指町三丁目10番地", hittosha: "山口　正雄"
    };

/// A move into this household from another municipality `days_ago` (the signature certificate
/// issued before it is revoked that day, jpki.md §6).
#[derive(Clone, Copy)]
struct MoveIn {
    days_ago: i64,
    from_municipality: &'static str,
    from_address: &'static str,
    /// Whether a new signature certificate was issued after the move (else the card still
    /// holds the revoked one).
    sign_reissued: bool,
}

#[derive(Clone, Copy)]
struct Emigrated {
    days_ago: i64,
    destination: &'static str,
    from_municipality: &'static str,
    from_address: &'static str,
}

#[derive(Clone, Copy)]
struct Foreign {
    nationality: &'static str,
    status: &'static str,
    stay_ends_in_days: i64,
    arrived_days_ago: i64,
}

#[derive(Clone, Copy)]
enum Phone {
    None,
    Android { issued_days_ago: i64, suspended_days_ago: Option<i64> },
    Iphone { issued_days_ago: i64 },
}

#[derive(Clone, Copy)]
enum Income {
    None,
    Salary(u64),
    Pension(u64),
}

#[derive(Clone, Copy)]
struct Spec {
    id: &'static str,
    family: &'static str,
    given: &'static str,
    family_kana: &'static str,
    given_kana: &'static str,
    /// The family name in the signature certificate when the register's uses a variant kanji
    /// outside the certificate's character set (marked in 氏名代替文字位置).
    cert_family: Option<&'static str>,
    sex: Sex,
    birth: Birth,
    household: Option<(&'static str, &'static str)>,
    honseki: Option<HonsekiSpec>,
    /// Certificates (and card) issued this many days before today.
    issued_days_ago: i64,
    resident_since_days_ago: i64,
    move_in: Option<MoveIn>,
    emigrated: Option<Emigrated>,
    foreign: Option<Foreign>,
    phone: Phone,
    pin_blocked: bool,
    seal: Option<(&'static str, u8)>,
    income: Income,
    empty_verify_ok: bool,
    notes: &'static str,
}

const BASE: Spec = Spec {
    id: "",
    family: "",
    given: "",
    family_kana: "",
    given_kana: "",
    cert_family: None,
    sex: Sex::Male,
    birth: Birth::Fixed(1980, 1, 1),
    household: None,
    honseki: None,
    issued_days_ago: 500,
    resident_since_days_ago: 3650,
    move_in: None,
    emigrated: None,
    foreign: None,
    phone: Phone::None,
    pin_blocked: false,
    seal: None,
    income: Income::None,
    empty_verify_ok: false,
    notes: "",
};

/// Five years and a bit: issued so long ago that the 5th birthday after issuance has passed.
const EXPIRED_ISSUE_DAYS_AGO: i64 = 5 * 365 + 200;

fn cast() -> Vec<Spec> {
    vec![
        Spec {
            id: "R0001",
            family: "佐藤",
            given: "健一",
            family_kana: "サトウ",
            given_kana: "ケンイチ",
            birth: Birth::Fixed(1978, 5, 14),
            household: Some(("H01", "世帯主")),
            honseki: Some(HONSEKI_SATO),
            issued_days_ago: 800,
            phone: Phone::Android { issued_days_ago: 300, suspended_days_ago: None },
            seal: Some(("佐藤", 15)),
            income: Income::Salary(6_200_000),
            notes: "Ordinary adult, household head with a registered seal; also has an Android phone token with its own PIN and password.",
            ..BASE
        },
        Spec {
            id: "R0002",
            family: "佐藤",
            given: "美和",
            family_kana: "サトウ",
            given_kana: "ミワ",
            sex: Sex::Female,
            birth: Birth::Fixed(1981, 8, 3),
            household: Some(("H01", "妻")),
            honseki: Some(HONSEKI_SATO),
            phone: Phone::Iphone { issued_days_ago: 60 },
            income: Income::Salary(1_000_000),
            empty_verify_ok: true,
            notes: "Adult household member with an iPhone token (no PIN at the kiosk); her card answers an empty VERIFY after success with 9000.",
            ..BASE
        },
        Spec {
            id: "R0003",
            family: "佐藤",
            given: "陽翔",
            family_kana: "サトウ",
            given_kana: "ハルト",
            birth: Birth::Relative { years: 9, days: -100 },
            household: Some(("H01", "子")),
            honseki: Some(HONSEKI_SATO),
            issued_days_ago: 400,
            resident_since_days_ago: 3000,
            notes: "Under 15: user-authentication certificate only, no signature certificate or password (EF 0001 absent).",
            ..BASE
        },
        Spec {
            id: "R0004",
            family: "髙橋",
            given: "誠",
            family_kana: "タカハシ",
            given_kana: "マコト",
            cert_family: Some("高橋"),
            birth: Birth::Fixed(1960, 11, 2),
            household: Some(("H02", "世帯主")),
            honseki: Some(HONSEKI_TAKAHASHI),
            issued_days_ago: 700,
            pin_blocked: true,
            income: Income::Salary(4_800_000),
            notes: "Variant kanji 髙 (the signature certificate carries 高 with the substitution flagged); 本籍 in 所沢市; user-authentication PIN blocked (0 tries left), signature password intact for a PIN reset.",
            ..BASE
        },
        Spec {
            id: "R0005",
            family: "髙橋",
            given: "恵子",
            family_kana: "タカハシ",
            given_kana: "ケイコ",
            cert_family: Some("高橋"),
            sex: Sex::Female,
            birth: Birth::Fixed(1964, 2, 29),
            household: Some(("H02", "妻")),
            honseki: Some(HONSEKI_TAKAHASHI),
            issued_days_ago: EXPIRED_ISSUE_DAYS_AGO,
            income: Income::Salary(2_400_000),
            notes: "Certificates expired (5th birthday after issuance has passed; born on 29 February), the card itself is still valid.",
            ..BASE
        },
        Spec {
            id: "R0006",
            family: "NGUYEN",
            given: "VAN AN",
            family_kana: "グエン",
            given_kana: "ヴァン　アン",
            birth: Birth::Fixed(1996, 7, 21),
            household: Some(("H03", "世帯主")),
            resident_since_days_ago: 560,
            foreign: Some(Foreign {
                nationality: "ベトナム",
                status: "技術・人文知識・国際業務",
                stay_ends_in_days: 200,
                arrived_days_ago: 560,
            }),
            income: Income::Salary(3_300_000),
            notes: "Foreign resident: certificates end with the period of stay, earlier than the 5th birthday after issuance.",
            ..BASE
        },
        Spec {
            id: "R0007",
            family: "中村",
            given: "大樹",
            family_kana: "ナカムラ",
            given_kana: "ダイキ",
            birth: Birth::Relative { years: 37, days: 40 },
            household: Some(("H04", "世帯主")),
            honseki: Some(HONSEKI_NAKAMURA),
            issued_days_ago: 5 * 365 - 100,
            income: Income::Salary(5_500_000),
            notes: "Certificates expire in about 40 days (5th birthday after issuance): the kiosk should suggest renewal.",
            ..BASE
        },
        Spec {
            id: "R0008",
            family: "中村",
            given: "葵",
            family_kana: "ナカムラ",
            given_kana: "アオイ",
            sex: Sex::Female,
            birth: Birth::Fixed(1990, 6, 6),
            household: Some(("H04", "妻")),
            honseki: Some(HONSEKI_NAKAMURA),
            issued_days_ago: 900,
            phone: Phone::Android { issued_days_ago: 200, suspended_days_ago: Some(12) },
            income: Income::Salary(3_900_000),
            notes: "Lost her Android phone: its certificates are on hold (一時利用停止, certificateHold on both CRLs); her card works.",
            ..BASE
        },
        Spec {
            id: "R0009",
            family: "田中",
            given: "裕子",
            family_kana: "タナカ",
            given_kana: "ユウコ",
            sex: Sex::Female,
            birth: Birth::Fixed(1985, 3, 7),
            honseki: Some(HONSEKI_TANAKA),
            issued_days_ago: 380,
            emigrated: Some(Emigrated {
                days_ago: 400,
                destination: "アメリカ合衆国",
                from_municipality: KIYOSE,
                from_address: "東京都清瀬市竹丘二丁目3番1号",
            }),
            income: Income::Salary(4_100_000),
            notes: "Moved abroad: card and certificates still valid (reissued for residents abroad, address field = 本籍), no residence record; 戸籍 and 附票 in 清瀬市.",
            ..BASE
        },
        Spec {
            id: "R0010",
            family: "鈴木",
            given: "大輔",
            family_kana: "スズキ",
            given_kana: "ダイスケ",
            birth: Birth::Fixed(1983, 12, 1),
            household: Some(("H05", "世帯主")),
            honseki: Some(HONSEKI_SUZUKI),
            issued_days_ago: 300,
            resident_since_days_ago: 60,
            move_in: Some(MoveIn {
                days_ago: 60,
                from_municipality: KIYOSE,
                from_address: "東京都清瀬市梅園一丁目2番3号",
                sign_reissued: false,
            }),
            seal: Some(("鈴木", 15)),
            income: Income::Salary(7_300_000),
            notes: "Moved from 清瀬市 to 所沢市 60 days ago: the signature certificate on the card was revoked that day (on the sign CRL); user-authentication certificate still valid. Seal re-registered in 所沢市 (the 清瀬市 registration was abolished).",
            ..BASE
        },
        Spec {
            id: "R0011",
            family: "鈴木",
            given: "さくら",
            family_kana: "スズキ",
            given_kana: "サクラ",
            sex: Sex::Female,
            birth: Birth::Fixed(1986, 4, 3),
            household: Some(("H05", "妻")),
            honseki: Some(HONSEKI_SUZUKI),
            issued_days_ago: 300,
            resident_since_days_ago: 60,
            move_in: Some(MoveIn {
                days_ago: 60,
                from_municipality: KIYOSE,
                from_address: "東京都清瀬市梅園一丁目2番3号",
                sign_reissued: true,
            }),
            income: Income::Salary(2_900_000),
            notes: "Moved with her husband; her old signature certificate is on the sign CRL, the card holds a new one with the 所沢市 address.",
            ..BASE
        },
        Spec {
            id: "R0012",
            family: "鈴木",
            given: "蓮",
            family_kana: "スズキ",
            given_kana: "レン",
            birth: Birth::Relative { years: 16, days: -50 },
            household: Some(("H05", "子")),
            honseki: Some(HONSEKI_SUZUKI),
            issued_days_ago: 40,
            resident_since_days_ago: 60,
            move_in: Some(MoveIn {
                days_ago: 60,
                from_municipality: KIYOSE,
                from_address: "東京都清瀬市梅園一丁目2番3号",
                sign_reissued: true,
            }),
            notes: "16 years old: not an adult, not under 15; has a signature certificate (card issued after the move).",
            ..BASE
        },
        Spec {
            id: "R0013",
            family: "山口",
            given: "和子",
            family_kana: "ヤマグチ",
            given_kana: "カズコ",
            sex: Sex::Female,
            birth: Birth::Fixed(1944, 9, 15),
            household: Some(("H06", "世帯主")),
            honseki: Some(HONSEKI_YAMAGUCHI),
            issued_days_ago: 1000,
            seal: Some(("山口", 12)),
            income: Income::Pension(2_100_000),
            empty_verify_ok: true,
            notes: "Elderly resident (born 昭和19年), household head with a registered seal, pension income.",
            ..BASE
        },
    ]
}

/// Characters that mark a name as using variant (異体字) kanji.
const VARIANT_KANJI: [char; 3] = ['髙', '﨑', '𠮷'];

// ---------------------------------------------------------------------------------------------
// Generation

/// Key labels (for `derive_rng`) of every key the world needs; independent of `today`.
fn key_labels(cast: &[Spec]) -> Vec<String> {
    let mut labels: Vec<String> = TestPki::KEY_LABELS.iter().map(|s| s.to_string()).collect();
    for s in cast {
        labels.push(format!("{}/card/auth", s.id));
        labels.push(format!("{}/card/sign", s.id));
        if s.move_in.is_some_and(|m| m.sign_reissued) {
            labels.push(format!("{}/card/sign-before-move", s.id));
        }
        match s.phone {
            Phone::Android { .. } => {
                labels.push(format!("{}/android/auth", s.id));
                labels.push(format!("{}/android/sign", s.id));
            }
            Phone::Iphone { .. } => {
                labels.push(format!("{}/iphone/auth", s.id));
                labels.push(format!("{}/iphone/sign", s.id));
            }
            Phone::None => {}
        }
    }
    labels
}

/// Generates the world into `out` (created if missing; files are overwritten).
pub fn generate_world(out: &Path, seed: u64, today: Date) -> Result<Manifest, WorldError> {
    let world = build(seed, today, &world_keys(seed)?)?;
    world.write(out)?;
    Ok(world.manifest)
}

/// Every key of the world by label, generated on all cores; depends on `seed` only.
fn world_keys(seed: u64) -> Result<HashMap<String, RsaPrivateKey>, WorldError> {
    let labels = key_labels(&cast());
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    Ok(labels.iter().cloned().zip(generate_keys(seed, &refs)?).collect())
}

/// A generated world, in memory.
struct World {
    manifest: Manifest,
    /// Relative path → bytes, written in path order.
    files: BTreeMap<String, Vec<u8>>,
}

impl World {
    fn write(&self, out: &Path) -> Result<(), WorldError> {
        for (rel, bytes) in &self.files {
            let path = out.join(rel);
            let io = |source| WorldError::Io { path: path.display().to_string(), source };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::write(&path, bytes).map_err(io)?;
        }
        Ok(())
    }
}

/// Per-resident random choices, each from its own stream so adding a resident changes nobody
/// else.
struct Dice(rand_chacha::ChaCha20Rng);

impl Dice {
    fn new(seed: u64, label: &str) -> Self {
        Dice(derive_rng(seed, label))
    }

    fn below(&mut self, n: u32) -> u32 {
        // Rejection sampling keeps the distribution exact (and the code obviously correct).
        let zone = u32::MAX - u32::MAX % n;
        loop {
            let v = self.0.next_u32();
            if v < zone {
                return v % n;
            }
        }
    }

    fn digit(&mut self) -> char {
        char::from(b'0' + self.below(10) as u8)
    }

    /// 4 digits, never starting with 0 or 9 (scenarios type 0000 / 9999 as surely wrong).
    fn pin(&mut self) -> String {
        let mut s = String::new();
        s.push(char::from(b'1' + self.below(8) as u8));
        for _ in 0..3 {
            s.push(self.digit());
        }
        s
    }

    /// 6–16 of A–Z0–9 with at least one letter and one digit (jpki.md §4); we use 8–10.
    fn password(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        loop {
            let len = 8 + self.below(3) as usize;
            let s: String =
                (0..len).map(|_| char::from(ALPHABET[self.below(ALPHABET.len() as u32) as usize])).collect();
            if s.chars().any(|c| c.is_ascii_alphabetic()) && s.chars().any(|c| c.is_ascii_digit()) {
                return s;
            }
        }
    }

    fn upper(&mut self) -> char {
        char::from(b'A' + self.below(26) as u8)
    }

    fn hex(&mut self) -> char {
        char::from(b"0123456789ABCDEF"[self.below(16) as usize])
    }
}

/// A valid 12-digit 個人番号: 11 digits and the check digit of the official algorithm
/// (行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条).
pub fn my_number_check_digit(first11: &[u8; 11]) -> u8 {
    // P_n counts from the rightmost of the 11 digits; Q_n = n + 1 (n ≤ 6), n − 5 (n ≥ 7).
    let sum: u32 = first11
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &p)| {
            let n = i as u32 + 1;
            let q = if n <= 6 { n + 1 } else { n - 5 };
            u32::from(p) * q
        })
        .sum();
    let r = sum % 11;
    if r <= 1 {
        0
    } else {
        (11 - r) as u8
    }
}

pub fn is_valid_my_number(s: &str) -> bool {
    let digits: Vec<u8> = s.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    if digits.len() != 12 || digits.iter().any(|&d| d > 9) {
        return false;
    }
    let mut first = [0u8; 11];
    first.copy_from_slice(&digits[..11]);
    my_number_check_digit(&first) == digits[11]
}

fn my_number(dice: &mut Dice) -> String {
    let mut d = [0u8; 11];
    for (i, x) in d.iter_mut().enumerate() {
        *x = if i == 0 { 1 + dice.below(9) as u8 } else { dice.below(10) as u8 };
    }
    let mut s: String = d.iter().map(|&x| char::from(b'0' + x)).collect();
    s.push(char::from(b'0' + my_number_check_digit(&d)));
    s
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn age_on(birth: Date, on: Date) -> i32 {
    let had_birthday = validity::birthday_in_year(birth, on.year()) <= on;
    on.year() - birth.year() - if had_birthday { 0 } else { 1 }
}

fn pkcs8(key: &RsaPrivateKey) -> Result<Vec<u8>, WorldError> {
    Ok(key.to_pkcs8_der().map_err(|e| WorldError::Key(e.to_string()))?.as_bytes().to_vec())
}

fn fullwidth(s: &str) -> String {
    madoguchi_certs::to_fullwidth(s)
}

/// Issued certificates per (hierarchy, generation) that must appear on that generation's CRL.
type CrlPlan = BTreeMap<(u8, u8), Vec<TestRevocation>>;

fn ca_slot(kind: CaKind, generation: Generation) -> (u8, u8) {
    (if kind == CaKind::Auth { 0 } else { 1 }, generation.number())
}

/// Everything the world needs to issue one resident's certificates.
struct Issuer<'a> {
    pki: &'a TestPki,
    keys: &'a HashMap<String, RsaPrivateKey>,
    today: Date,
    serials: BTreeSet<u64>,
    crl: CrlPlan,
}

/// One issued certificate with what the registry wants to know about it.
struct Issued {
    cert: JpkiCertificate,
    generation: Generation,
    key: RsaPrivateKey,
}

impl Issuer<'_> {
    fn key(&self, label: &str) -> Result<RsaPrivateKey, WorldError> {
        self.keys.get(label).cloned().ok_or_else(|| WorldError::Invariant(format!("no key generated for {label}")))
    }

    fn serial(&mut self, dice: &mut Dice) -> u64 {
        loop {
            let s = madoguchi_certs::testpki::random_serial(&mut dice.0);
            if self.serials.insert(s) {
                return s;
            }
        }
    }

    /// Issuance instant: office hours of that day, JST.
    fn when(dice: &mut Dice, day: Date) -> OffsetDateTime {
        start_of_day_jst(day) + Duration::minutes(i64::from(9 * 60 + dice.below(8 * 60)))
    }

    fn auth(
        &mut self,
        dice: &mut Dice,
        label: &str,
        issued: Date,
        expiry: Date,
        muni: &str,
    ) -> Result<Issued, WorldError> {
        let key = self.key(label)?;
        let serial = self.serial(dice);
        let nb = Self::when(dice, issued);
        // Opaque subject ID shaped like a test card's (`997794E9AGCIEG13221003A`).
        let mut cn: String = (0..8).map(|_| dice.hex()).collect();
        cn.extend((0..6).map(|_| dice.upper()));
        cn.push_str(muni.get(..5).unwrap_or(muni));
        cn.extend((0..3).map(|_| dice.digit()));
        cn.push(dice.upper());
        let cert = self.pki.issue_auth_cert(&key.to_public_key(), serial, nb, end_of_day_jst(expiry), &cn)?;
        let generation = self.pki.ca_for(CaKind::Auth, nb).generation();
        Ok(Issued { cert, generation, key })
    }

    fn sign(
        &mut self,
        dice: &mut Dice,
        label: &str,
        issued: Date,
        expiry: Date,
        basic4: &Basic4Info,
        muni: &Municipality,
    ) -> Result<Issued, WorldError> {
        let key = self.key(label)?;
        let serial = self.serial(dice);
        let nb = Self::when(dice, issued);
        let local = nb.to_offset(validity::JST);
        let cn = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}{:04}{}",
            local.year(),
            u8::from(local.month()),
            local.day(),
            local.hour(),
            local.minute(),
            local.second(),
            dice.below(10_000),
            muni.code
        );
        let subject =
            SignSubject { prefecture_romaji: &muni.prefecture_romaji, city_romaji: &muni.city_romaji, cn: &cn };
        let cert =
            self.pki.issue_sign_cert(&key.to_public_key(), serial, nb, end_of_day_jst(expiry), basic4, &subject)?;
        let generation = self.pki.ca_for(CaKind::Sign, nb).generation();
        Ok(Issued { cert, generation, key })
    }

    fn list(
        &mut self,
        kind: CaKind,
        issued: &Issued,
        since: OffsetDateTime,
        reason: RevocationReason,
    ) -> Result<(), WorldError> {
        let serial = issued
            .cert
            .serial_bytes()
            .iter()
            .try_fold(0u64, |acc, &b| acc.checked_mul(256).map(|a| a + u64::from(b)))
            .ok_or_else(|| WorldError::Invariant("serial longer than 8 bytes".into()))?;
        self.crl.entry(ca_slot(kind, issued.generation)).or_default().push(TestRevocation { serial, since, reason });
        Ok(())
    }

    fn record(&self, kind: CaKind, issued: &Issued, status: CertStatus, since: Option<Date>) -> CertRecord {
        let c = &issued.cert;
        CertRecord {
            kind: kind.as_str().into(),
            serial: c.serial_hex(),
            sha256: hex(&c.fingerprint_sha256()),
            issuer_generation: issued.generation.number(),
            not_before: validity::jst_date(c.not_before()),
            expiry: validity::jst_date(c.not_after()),
            status: if status == CertStatus::Valid && c.not_after() < start_of_day_jst(self.today) {
                CertStatus::Expired
            } else {
                status
            },
            status_since: since,
        }
    }
}

fn pin(value: String, max: u8) -> PinRecord {
    PinRecord { value, max_tries: max, tries_left: max }
}

/// What follows from a resident's spec and `today`.
struct Facts<'s> {
    spec: &'s Spec,
    birth: Date,
    /// As registered (may contain variant kanji).
    name: String,
    name_kana: String,
    /// As the signature certificate carries it (variant kanji substituted).
    cert_name: String,
    issued: Date,
    stay_end: Option<Date>,
    /// Expiry of the card's certificates.
    expiry: Date,
    card_expiry: Date,
    age_at_issue: i32,
    /// Residence (`None` abroad).
    address: Option<String>,
    /// Residence municipality, or the 本籍 one for a resident abroad (戸籍の附票).
    municipality: &'static str,
    /// The address in the signature certificate and the text AP: the residence, or for a
    /// resident abroad the 本籍 (our assumption for 国外転出者向け certificates).
    cert_address: String,
}

impl<'s> Facts<'s> {
    fn of(spec: &'s Spec, today: Date) -> Result<Self, WorldError> {
        let bad = |what: &str| WorldError::Invariant(format!("{}: {what}", spec.id));
        let birth = match spec.birth {
            Birth::Fixed(y, m, d) => time::Month::try_from(m)
                .ok()
                .and_then(|m| Date::from_calendar_date(y, m, d).ok())
                .ok_or_else(|| bad("bad birth date"))?,
            Birth::Relative { years, days } => add_years(today + Duration::days(days), -years),
        };
        // Foreign residents are registered in the alphabet, separated by ASCII spaces.
        let sep = if spec.foreign.is_some() { " " } else { "\u{3000}" };
        let issued = today - Duration::days(spec.issued_days_ago);
        let stay_end = spec.foreign.map(|f| today + Duration::days(f.stay_ends_in_days));
        let age_at_issue = age_on(birth, issued);
        // Cards: 10 years for adults, 5 under 18, capped by the period of stay.
        let card_expiry = nth_birthday_after(issued, birth, if age_at_issue >= 18 { 10 } else { 5 });
        let (address, municipality) = match (spec.household, spec.emigrated, spec.honseki) {
            (Some((h, _)), _, _) => {
                let h = household(h).ok_or_else(|| bad("unknown household"))?;
                (Some(fullwidth(h.address)), h.municipality)
            }
            (None, Some(_), Some(hs)) => (None, hs.municipality),
            _ => return Err(bad("neither a household nor 本籍 abroad")),
        };
        let cert_address = match (&address, spec.honseki) {
            (Some(a), _) => a.clone(),
            (None, Some(hs)) => fullwidth(hs.address),
            (None, None) => return Err(bad("no address")),
        };
        Ok(Facts {
            spec,
            birth,
            name: format!("{}{sep}{}", spec.family, spec.given),
            name_kana: format!("{}\u{3000}{}", spec.family_kana, spec.given_kana),
            cert_name: format!("{}{sep}{}", spec.cert_family.unwrap_or(spec.family), spec.given),
            issued,
            stay_end,
            expiry: validity::expiry_date(issued, birth, stay_end),
            card_expiry: stay_end.map_or(card_expiry, |s| s.min(card_expiry)),
            age_at_issue,
            address,
            municipality,
            cert_address,
        })
    }

    /// The basic 4 information with `address`, substituted characters flagged.
    fn basic4(&self, address: &str) -> Result<Basic4Info, WorldError> {
        let b = Basic4Info::new(&self.cert_name, self.birth, self.spec.sex.cert(), address)?;
        if self.cert_name == self.name {
            return Ok(b);
        }
        let flags: String =
            self.cert_name.chars().zip(self.name.chars()).map(|(c, r)| if c == r { '0' } else { '1' }).collect();
        Ok(b.with_name_alt_positions(&flags)?)
    }
}

fn household(id: &str) -> Option<&'static HouseholdSpec> {
    HOUSEHOLDS.iter().find(|h| h.id == id)
}

/// The certificates on a resident's card.
struct CardCerts {
    auth: Issued,
    sign: Option<Issued>,
    sign_record: Option<CertRecord>,
    /// Certificates issued earlier and since replaced (revoked at a move).
    previous: Vec<CertRecord>,
    /// The card still holds a revoked signature certificate.
    sign_revoked: bool,
}

/// A phone token's profile path, credentials and register entry.
struct PhoneOut {
    token: TokenKind,
    path: String,
    secrets: Option<PhoneSecrets>,
    record: PhoneRecord,
    suspended: bool,
}

/// The world under construction: what is shared between residents.
struct Builder<'a> {
    seed: u64,
    today: Date,
    munis: &'a [Municipality],
    issuer: Issuer<'a>,
    files: BTreeMap<String, Vec<u8>>,
    seals: Vec<SealRegistration>,
    taxes: Vec<TaxRecord>,
}

impl<'a> Builder<'a> {
    fn days_ago(&self, days: i64) -> Date {
        self.today - Duration::days(days)
    }

    fn muni(&self, code: &str) -> Result<&'a Municipality, WorldError> {
        self.munis
            .iter()
            .find(|m| m.code == code)
            .ok_or_else(|| WorldError::Invariant(format!("no municipality {code}")))
    }

    fn put_json(&mut self, path: &str, value: &impl Serialize) -> Result<(), WorldError> {
        self.files.insert(path.to_owned(), serde_json::to_vec_pretty(value)?);
        Ok(())
    }

    /// One resident: certificates, card and phone profiles, seals, taxes, manifest entry.
    fn resident(&mut self, spec: &Spec) -> Result<(ManifestResident, ResidentRecord), WorldError> {
        let f = Facts::of(spec, self.today)?;
        let mut dice = Dice::new(self.seed, &format!("{}/facts", spec.id));
        let home = self.muni(f.municipality)?;
        let certs = self.card_certs(&f, home, &mut dice)?;

        let auth_pin = dice.pin();
        let text_pin = dice.pin();
        let sign_password = certs.sign.as_ref().map(|_| dice.password());
        let my_no = my_number(&mut dice);

        let pki = self.issuer.pki;
        let sign_ca_generation = certs.sign.as_ref().map_or(Generation::Current, |s| s.generation);
        let card = CardProfile {
            format: PROFILE_FORMAT,
            holder: spec.id.into(),
            token: TokenKind::Card,
            jpki: JpkiApplet {
                auth_cert: certs.auth.cert.der().to_vec(),
                auth_ca_cert: pki.ca(CaKind::Auth, certs.auth.generation).der().to_vec(),
                auth_key_pkcs8: pkcs8(&certs.auth.key)?,
                auth_pin: PinRecord { tries_left: if spec.pin_blocked { 0 } else { 3 }, ..pin(auth_pin.clone(), 3) },
                sign_cert: certs.sign.as_ref().map(|s| s.cert.der().to_vec()),
                sign_ca_cert: pki.ca(CaKind::Sign, sign_ca_generation).der().to_vec(),
                sign_key_pkcs8: certs.sign.as_ref().map(|s| pkcs8(&s.key)).transpose()?,
                sign_password: sign_password.clone().map(|p| pin(p, 5)),
                empty_verify_after_success: if spec.empty_verify_ok {
                    EmptyVerifyAfterSuccess::Ok
                } else {
                    EmptyVerifyAfterSuccess::Counter
                },
            },
            text_ap: Some(TextApplet {
                my_number: my_no.clone(),
                name: f.name.clone(),
                address: f.cert_address.clone(),
                birth_date: format!("{:04}{:02}{:02}", f.birth.year(), u8::from(f.birth.month()), f.birth.day()),
                sex: spec.sex.cert().code().to_string(),
                pin: pin(text_pin.clone(), 3),
            }),
        };
        let card_path = format!("cards/{}.json", spec.id);
        self.put_json(&card_path, &card)?;

        let phone = self.phone(&f, home, &mut dice)?;
        let seal_registered = self.seals(&f, &mut dice);
        self.taxes(&f, &mut dice)?;

        let residence = spec.household.map(|(h, rel)| Residence {
            municipality: f.municipality.into(),
            household: h.into(),
            address: f.cert_address.clone(),
            relationship: rel.into(),
            since: self.days_ago(spec.resident_since_days_ago),
            previous_address: spec.move_in.map(|mv| fullwidth(mv.from_address)),
            previous_municipality: spec.move_in.map(|mv| mv.from_municipality.to_string()),
        });
        let honseki = spec.honseki.map(|h| Honseki {
            municipality: h.municipality.into(),
            address: fullwidth(h.address),
            hittosha: h.hittosha.into(),
        });

        // Tags, from the facts as generated.
        let mut tags = BTreeSet::new();
        let age = age_on(f.birth, self.today);
        let status = validity::status(&certs.auth.cert, start_of_day_jst(self.today) + Duration::hours(12));
        let facts = [
            (Tag::Adult, age >= 18),
            (Tag::Under15, age < 15),
            (Tag::HouseholdHead, spec.household.is_some_and(|(_, rel)| rel == HEAD)),
            (Tag::HouseholdMember, spec.household.is_some_and(|(_, rel)| rel != HEAD)),
            (Tag::ForeignResident, spec.foreign.is_some()),
            (Tag::SealRegistered, seal_registered),
            (
                Tag::KosekiElsewhere,
                matches!((&residence, &honseki), (Some(r), Some(h)) if r.municipality != h.municipality),
            ),
            (Tag::CertsExpired, status.expired),
            (Tag::CertsExpiringSoon, status.renewal_window_open),
            (Tag::SignRevoked, certs.sign_revoked),
            (Tag::PinBlocked, spec.pin_blocked),
            (Tag::PhoneAndroid, phone.as_ref().is_some_and(|p| p.token == TokenKind::Android)),
            (Tag::PhoneIphone, phone.as_ref().is_some_and(|p| p.token == TokenKind::Iphone)),
            (Tag::PhoneSuspended, phone.as_ref().is_some_and(|p| p.suspended)),
            (Tag::VariantKanjiName, f.name.chars().any(|c| VARIANT_KANJI.contains(&c))),
            (Tag::MovedAbroad, spec.emigrated.is_some()),
        ];
        tags.extend(facts.into_iter().filter(|(_, holds)| *holds).map(|(tag, _)| tag));

        let mut phone_profiles = PhoneProfiles::default();
        let mut phone_secrets = None;
        let mut phones = Vec::new();
        if let Some(p) = phone {
            match p.token {
                TokenKind::Android => phone_profiles.android = Some(p.path),
                _ => phone_profiles.iphone = Some(p.path),
            }
            if let Some(s) = p.secrets {
                phone_secrets = Some(PhoneSecretsByKind { android: Some(s) });
            }
            phones.push(p.record);
        }

        let manifest = ManifestResident {
            id: spec.id.into(),
            name: f.name.clone(),
            name_kana: f.name_kana.clone(),
            card_profile: card_path,
            phone_profiles,
            phone_secrets,
            auth_pin,
            sign_password,
            text_pin,
            my_number: my_no.clone(),
            notes: spec.notes.into(),
            tags: tags.into_iter().collect(),
            municipality: f.municipality.into(),
            household: spec.household.map(|(h, _)| h.to_string()),
            birth_date: f.birth,
            sex: spec.sex,
            address: f.address.clone(),
            cert_expiry: f.expiry,
            auth_cert_serial: certs.auth.cert.serial_hex(),
            sign_cert_serial: certs.sign.as_ref().map(|s| s.cert.serial_hex()),
        };
        let record = ResidentRecord {
            id: spec.id.into(),
            name: f.name,
            name_kana: f.name_kana,
            birth_date: f.birth,
            sex: spec.sex,
            my_number: my_no,
            residence,
            honseki,
            foreign: spec.foreign.map(|x| ForeignStatus {
                nationality: x.nationality.into(),
                residence_status: x.status.into(),
                period_of_stay_end: f.stay_end,
            }),
            emigration: spec.emigrated.map(|e| Emigration {
                date: self.days_ago(e.days_ago),
                destination: e.destination.into(),
                previous_municipality: e.from_municipality.into(),
                previous_address: fullwidth(e.from_address),
            }),
            card: CardRecord {
                issued: f.issued,
                card_expiry: f.card_expiry,
                auth_cert: self.issuer.record(CaKind::Auth, &certs.auth, CertStatus::Valid, None),
                sign_cert: certs.sign_record,
                previous_certs: certs.previous,
                phones,
            },
        };
        Ok((manifest, record))
    }

    /// The card's certificates. Under 15 there is no signature certificate. A move revokes the
    /// signature certificate issued before it (jpki.md §6); it is either still on the card or
    /// replaced by one with the new address.
    fn card_certs(&mut self, f: &Facts, home: &Municipality, dice: &mut Dice) -> Result<CardCerts, WorldError> {
        let id = f.spec.id;
        let auth = self.issuer.auth(dice, &format!("{id}/card/auth"), f.issued, f.expiry, &home.code)?;
        let mut certs = CardCerts { auth, sign: None, sign_record: None, previous: Vec::new(), sign_revoked: false };
        if f.age_at_issue < 15 {
            return Ok(certs);
        }
        let label = format!("{id}/card/sign");
        let current = match f.spec.move_in {
            Some(mv) if f.issued < self.days_ago(mv.days_ago) => {
                let moved = self.days_ago(mv.days_ago);
                let moved_at = Issuer::when(dice, moved);
                let old_label = if mv.sign_reissued { format!("{id}/card/sign-before-move") } else { label.clone() };
                let from = self.muni(mv.from_municipality)?;
                let before = f.basic4(&fullwidth(mv.from_address))?;
                let old = self.issuer.sign(dice, &old_label, f.issued, f.expiry, &before, from)?;
                self.issuer.list(CaKind::Sign, &old, moved_at, RevocationReason::Revoked)?;
                let record = self.issuer.record(CaKind::Sign, &old, CertStatus::Revoked, Some(moved));
                if !mv.sign_reissued {
                    certs.sign_revoked = true;
                    certs.sign_record = Some(record);
                    certs.sign = Some(old);
                    return Ok(certs);
                }
                certs.previous.push(record);
                let reissued = moved + Duration::days(2);
                self.issuer.sign(dice, &label, reissued, f.expiry, &f.basic4(&f.cert_address)?, home)?
            }
            _ => self.issuer.sign(dice, &label, f.issued, f.expiry, &f.basic4(&f.cert_address)?, home)?,
        };
        certs.sign_record = Some(self.issuer.record(CaKind::Sign, &current, CertStatus::Valid, None));
        certs.sign = Some(current);
        Ok(certs)
    }

    /// A phone token with its own keys, certificates and credentials; validity follows the
    /// card (jpki.md §8). A lost phone's certificates are on hold on both CRLs.
    fn phone(&mut self, f: &Facts, home: &Municipality, dice: &mut Dice) -> Result<Option<PhoneOut>, WorldError> {
        let (token, kind, issued_days_ago, suspended) = match f.spec.phone {
            Phone::Android { issued_days_ago, suspended_days_ago } => {
                (TokenKind::Android, "android", issued_days_ago, suspended_days_ago)
            }
            Phone::Iphone { issued_days_ago } => (TokenKind::Iphone, "iphone", issued_days_ago, None),
            Phone::None => return Ok(None),
        };
        let id = f.spec.id;
        let issued = self.days_ago(issued_days_ago);
        let auth = self.issuer.auth(dice, &format!("{id}/{kind}/auth"), issued, f.expiry, &home.code)?;
        let basic4 = f.basic4(&f.cert_address)?;
        let sign = self.issuer.sign(dice, &format!("{id}/{kind}/sign"), issued, f.expiry, &basic4, home)?;
        let (status, since) = match suspended {
            Some(days) => {
                let at = Issuer::when(dice, self.days_ago(days));
                self.issuer.list(CaKind::Auth, &auth, at, RevocationReason::Hold)?;
                self.issuer.list(CaKind::Sign, &sign, at, RevocationReason::Hold)?;
                (CertStatus::Suspended, Some(self.days_ago(days)))
            }
            None => (CertStatus::Valid, None),
        };
        let (auth_pin, password) = (dice.pin(), dice.password());
        let pki = self.issuer.pki;
        let profile = CardProfile {
            format: PROFILE_FORMAT,
            holder: id.into(),
            token,
            jpki: JpkiApplet {
                auth_cert: auth.cert.der().to_vec(),
                auth_ca_cert: pki.ca(CaKind::Auth, auth.generation).der().to_vec(),
                auth_key_pkcs8: pkcs8(&auth.key)?,
                auth_pin: pin(auth_pin.clone(), 3),
                sign_cert: Some(sign.cert.der().to_vec()),
                sign_ca_cert: pki.ca(CaKind::Sign, sign.generation).der().to_vec(),
                sign_key_pkcs8: Some(pkcs8(&sign.key)?),
                // An iPhone is unlocked by Face ID; the kiosk never sends it a password.
                sign_password: (token == TokenKind::Android).then(|| pin(password.clone(), 5)),
                empty_verify_after_success: EmptyVerifyAfterSuccess::Counter,
            },
            text_ap: None,
        };
        let path = format!("cards/{id}-{kind}.json");
        self.put_json(&path, &profile)?;
        Ok(Some(PhoneOut {
            token,
            secrets: (token == TokenKind::Android).then_some(PhoneSecrets { auth_pin, sign_password: password }),
            record: PhoneRecord {
                token,
                profile: path.clone(),
                auth_cert: self.issuer.record(CaKind::Auth, &auth, status, since),
                sign_cert: self.issuer.record(CaKind::Sign, &sign, status, since),
            },
            path,
            suspended: suspended.is_some(),
        }))
    }

    /// Seal registrations; a move abolished the one in the old municipality. Returns whether
    /// one is active.
    fn seals(&mut self, f: &Facts, dice: &mut Dice) -> bool {
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

    /// Adults' 住民税 for the two latest 年度 already assessed (from June), levied by the
    /// municipality of residence on 1 January of the 年度.
    fn taxes(&mut self, f: &Facts, dice: &mut Dice) -> Result<(), WorldError> {
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

/// 続柄 of the household head.
const HEAD: &str = "世帯主";

/// Builds the whole world in memory from pre-generated keys (so tests can build twice cheaply).
fn build(seed: u64, today: Date, keys: &HashMap<String, RsaPrivateKey>) -> Result<World, WorldError> {
    let cast = cast();
    let munis = municipalities();
    let ca_keys = TestPki::KEY_LABELS
        .iter()
        .map(|l| keys.get(*l).cloned().ok_or_else(|| WorldError::Invariant(format!("no key {l}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let pki = TestPki::with_keys(seed, today, ca_keys)?;
    let mut b = Builder {
        seed,
        today,
        munis: &munis,
        issuer: Issuer { pki: &pki, keys, today, serials: BTreeSet::new(), crl: CrlPlan::new() },
        files: BTreeMap::new(),
        seals: Vec::new(),
        taxes: Vec::new(),
    };
    let mut residents = Vec::new();
    let mut records = Vec::new();
    for spec in &cast {
        let (manifest, record) = b.resident(spec)?;
        residents.push(manifest);
        records.push(record);
    }

    // Anchors, and one CRL per CA generation with what that generation issued.
    let mut anchors = Vec::new();
    let mut crls = Vec::new();
    let this_update = start_of_day_jst(today);
    let next_update = this_update + Duration::days(30);
    for ca in pki.cas() {
        let path = format!("anchors/{}.der", ca.file_stem());
        b.files.insert(path.clone(), ca.der().to_vec());
        let kind = ca.kind().as_str();
        let generation = ca.generation().number();
        anchors.push(AnchorFile { path, ca: kind.into(), generation, sha256: hex(&ca.cert().fingerprint_sha256()) });
        let entries = b.issuer.crl.get(&ca_slot(ca.kind(), ca.generation())).cloned().unwrap_or_default();
        let crl = ca.issue_crl(&entries, this_update, next_update)?;
        let path = match ca.generation() {
            Generation::Current => format!("crl/{kind}.crl"),
            Generation::Previous => format!("crl/{kind}-{generation}.crl"),
        };
        b.files.insert(path.clone(), crl.der().to_vec());
        crls.push(CrlFile { path, ca: kind.into(), generation });
    }

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

    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        seed,
        today,
        notice: "TEST MATERIAL: generated demo world. Keys, PINs and My Numbers are fake and stored in clear; \
                 the anchors are JPKI TEST anchors that a production kiosk refuses."
            .into(),
        registry: "registry.json".into(),
        anchors,
        crls,
        residents,
        municipalities: munis.clone(),
        households: households
            .iter()
            .map(|h| ManifestHousehold {
                id: h.id.clone(),
                municipality: h.municipality.clone(),
                head: h.head.clone(),
                members: h.members.iter().map(|m| m.resident.clone()).collect(),
            })
            .collect(),
    };
    for tag in Tag::ALL {
        if !manifest.residents.iter().any(|r| r.tags.contains(&tag)) {
            return Err(WorldError::Invariant(format!("no resident is tagged {tag:?}")));
        }
    }
    let registry = Registry {
        format: REGISTRY_FORMAT,
        today,
        municipalities: munis.clone(),
        households,
        residents: records,
        seal_registrations: std::mem::take(&mut b.seals),
        tax_records: std::mem::take(&mut b.taxes),
    };
    b.put_json("registry.json", &registry)?;
    b.put_json("manifest.json", &manifest)?;
    Ok(World { manifest, files: b.files })
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

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_certs::{CertErrorKind, CertProfile, Crl, TrustAnchors};
    use std::sync::OnceLock;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 03 - 15);

    struct Fixture {
        dir: tempfile::TempDir,
        manifest: Manifest,
        keys: HashMap<String, RsaPrivateKey>,
    }

    /// One world per test binary, made as `generate_world` makes it; the keys are kept so other
    /// tests can rebuild cheaply (key generation is nearly all of the cost).
    fn world() -> &'static Fixture {
        static W: OnceLock<Fixture> = OnceLock::new();
        W.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let t = std::time::Instant::now();
            let keys = world_keys(7).unwrap();
            let keygen = t.elapsed();
            let w = build(7, TODAY, &keys).unwrap();
            w.write(dir.path()).unwrap();
            eprintln!("world: {} keys in {keygen:.2?}, whole world in {:.2?}", keys.len(), t.elapsed());
            Fixture { dir, manifest: w.manifest, keys }
        })
    }

    fn read(rel: &str) -> Vec<u8> {
        std::fs::read(world().dir.path().join(rel)).unwrap()
    }

    fn now() -> OffsetDateTime {
        start_of_day_jst(TODAY) + Duration::hours(12)
    }

    fn with_tag(tag: Tag) -> &'static ManifestResident {
        world().manifest.residents.iter().find(|r| r.tags.contains(&tag)).unwrap()
    }

    fn card(r: &ManifestResident) -> CardProfile {
        CardProfile::load(&world().dir.path().join(&r.card_profile)).unwrap()
    }

    fn anchors() -> TrustAnchors {
        TrustAnchors::from_dir(&world().dir.path().join("anchors"), true).unwrap()
    }

    fn crl(rel: &str) -> Crl {
        let crl = Crl::from_der(&read(rel)).unwrap();
        anchors().crl_issuer(&crl).unwrap();
        crl
    }

    #[test]
    fn manifest_invariants() {
        let m = &world().manifest;
        assert!(m.residents.len() >= 8);
        assert!(m.households.len() >= 3);
        assert!(m.municipalities.len() >= 2);
        for tag in Tag::ALL {
            assert!(m.residents.iter().any(|r| r.tags.contains(&tag)), "{tag:?}");
        }
        let on_disk: Manifest = serde_json::from_slice(&read("manifest.json")).unwrap();
        assert_eq!(&on_disk, m);
        let json: serde_json::Value = serde_json::from_slice(&read("manifest.json")).unwrap();
        assert_eq!(json["today"], "2026-03-15");
        assert_eq!(json["residents"][0]["tags"][0], "adult");
        assert!(json["residents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["tags"].as_array().unwrap().contains(&"under-15".into())));

        let ids: BTreeSet<_> = m.residents.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), m.residents.len());
        for r in &m.residents {
            let pin_ok = |p: &str| p.len() == 4 && p.bytes().all(|b| b.is_ascii_digit()) && !p.starts_with(['0', '9']);
            assert!(pin_ok(&r.auth_pin) && pin_ok(&r.text_pin), "{}", r.id);
            if let Some(pw) = &r.sign_password {
                assert!((6..=16).contains(&pw.len()));
                assert!(pw.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
                assert!(pw.bytes().any(|b| b.is_ascii_uppercase()) && pw.bytes().any(|b| b.is_ascii_digit()));
            }
            assert!(is_valid_my_number(&r.my_number), "{}", r.my_number);
            assert!(m.municipalities.iter().any(|x| x.code == r.municipality));
            if let Some(h) = &r.household {
                let h = m.households.iter().find(|x| &x.id == h).unwrap();
                assert!(h.members.contains(&r.id) && h.municipality == r.municipality);
            }
            if let Some(a) = &r.address {
                madoguchi_certs::check_fullwidth(a).unwrap();
            }
            let variant = r.name.chars().any(|c| VARIANT_KANJI.contains(&c));
            assert_eq!(variant, r.tags.contains(&Tag::VariantKanjiName));
        }
        assert!(with_tag(Tag::Under15).sign_password.is_none());
        assert!(with_tag(Tag::MovedAbroad).household.is_none() && with_tag(Tag::MovedAbroad).address.is_none());
        let koseki = with_tag(Tag::KosekiElsewhere);
        assert!(m.municipalities.iter().any(|x| x.code != koseki.municipality));
    }

    #[test]
    fn profiles_load_and_certs_parse_with_the_right_profiles() {
        let m = &world().manifest;
        let anchors = anchors();
        assert_eq!(anchors.len(), 4);
        for r in &m.residents {
            let p = card(r);
            assert_eq!((p.holder.as_str(), p.token), (r.id.as_str(), TokenKind::Card));
            assert_eq!(p.jpki.auth_pin.value, r.auth_pin);
            let auth = JpkiCertificate::from_der(&p.jpki.auth_cert).unwrap();
            assert_eq!(auth.profile(), CertProfile::UserAuthentication);
            assert_eq!(auth.serial_hex(), r.auth_cert_serial);
            assert_eq!(validity::jst_date(auth.not_after()), r.cert_expiry);
            assert_eq!(JpkiCertificate::from_der(&p.jpki.auth_ca_cert).unwrap().profile(), CertProfile::AuthCa);
            assert_eq!(JpkiCertificate::from_der(&p.jpki.sign_ca_cert).unwrap().profile(), CertProfile::SignCa);
            let text = p.text_ap.as_ref().unwrap();
            assert_eq!((text.my_number.as_str(), text.pin.value.as_str()), (r.my_number.as_str(), r.text_pin.as_str()));
            match &p.jpki.sign_cert {
                Some(der) => {
                    let sign = JpkiCertificate::from_der(der).unwrap();
                    assert_eq!(sign.profile(), CertProfile::DigitalSignature);
                    let b4 = sign.basic4().unwrap().unwrap();
                    assert_eq!(b4.birth_date.date, r.birth_date);
                    assert_eq!(p.jpki.sign_password.as_ref().map(|x| x.value.clone()), r.sign_password);
                    assert_eq!(Some(sign.serial_hex()), r.sign_cert_serial);
                    if r.tags.contains(&Tag::VariantKanjiName) {
                        assert!(b4.name_alt_positions.starts_with('1') && b4.name != r.name);
                    } else {
                        assert_eq!(b4.name, r.name);
                    }
                    if !r.tags.contains(&Tag::SignRevoked) && !r.tags.contains(&Tag::CertsExpired) {
                        anchors.verify_chain(&sign, now()).unwrap();
                        assert_eq!(Some(b4.address.clone()), r.address.clone().or(Some(text.address.clone())));
                    }
                }
                None => assert!(r.tags.contains(&Tag::Under15) && p.jpki.sign_key_pkcs8.is_none()),
            }
            let chain = anchors.verify_chain(&auth, now());
            if r.tags.contains(&Tag::CertsExpired) {
                assert_eq!(chain.unwrap_err().kind(), CertErrorKind::Expired);
            } else {
                let a = chain.unwrap();
                assert_eq!(a.cert().der(), p.jpki.auth_ca_cert.as_slice(), "{}: EF 000B is the issuing CA", r.id);
            }
            assert_eq!(p.jpki.auth_pin.tries_left, if r.tags.contains(&Tag::PinBlocked) { 0 } else { 3 });
            crate::card::check_profile(&p).unwrap();
        }
    }

    #[test]
    fn phones_have_their_own_keys_and_credentials() {
        let dir = world().dir.path();
        let android = with_tag(Tag::PhoneAndroid);
        let phone = CardProfile::load(&dir.join(android.phone_profiles.android.as_ref().unwrap())).unwrap();
        let card = card(android);
        assert_eq!(phone.token, TokenKind::Android);
        assert!(phone.text_ap.is_none());
        assert_ne!(phone.jpki.auth_key_pkcs8, card.jpki.auth_key_pkcs8);
        assert_ne!(phone.jpki.auth_cert, card.jpki.auth_cert);
        let secrets = android.phone_secrets.as_ref().unwrap().android.as_ref().unwrap();
        assert_eq!(phone.jpki.auth_pin.value, secrets.auth_pin);
        assert_eq!(phone.jpki.sign_password.as_ref().unwrap().value, secrets.sign_password);
        let p_auth = JpkiCertificate::from_der(&phone.jpki.auth_cert).unwrap();
        let c_auth = JpkiCertificate::from_der(&card.jpki.auth_cert).unwrap();
        assert_eq!(p_auth.not_after(), c_auth.not_after(), "validity follows the card");

        let iphone = with_tag(Tag::PhoneIphone);
        let phone = CardProfile::load(&dir.join(iphone.phone_profiles.iphone.as_ref().unwrap())).unwrap();
        assert_eq!(phone.token, TokenKind::Iphone);
        assert!(phone.jpki.sign_password.is_none() && phone.jpki.sign_cert.is_some());
        crate::card::check_profile(&phone).unwrap();
    }

    #[test]
    fn crls_list_the_revoked_and_the_held() {
        let auth_crl = crl("crl/auth.crl");
        let sign_crl = crl("crl/sign.crl");
        for rel in ["crl/auth-1.crl", "crl/sign-1.crl"] {
            assert!(crl(rel).is_current(now()));
        }
        assert!(sign_crl.is_current(now()) && auth_crl.is_current(now()));

        let revoked = with_tag(Tag::SignRevoked);
        let sign = JpkiCertificate::from_der(card(revoked).jpki.sign_cert.as_ref().unwrap()).unwrap();
        assert!(sign_crl.revoked_since(sign.serial_bytes()).unwrap() < now());
        assert_eq!(sign_crl.check(&sign, now()).unwrap_err().kind(), CertErrorKind::Revoked);
        let auth = JpkiCertificate::from_der(&card(revoked).jpki.auth_cert).unwrap();
        assert!(auth_crl.check(&auth, now()).is_ok(), "the auth certificate survives a move");

        let held = with_tag(Tag::PhoneSuspended);
        let phone = CardProfile::load(&world().dir.path().join(held.phone_profiles.android.as_ref().unwrap())).unwrap();
        let p_auth = JpkiCertificate::from_der(&phone.jpki.auth_cert).unwrap();
        assert_eq!(auth_crl.check(&p_auth, now()).unwrap_err().kind(), CertErrorKind::Suspended);
        let c_auth = JpkiCertificate::from_der(&card(held).jpki.auth_cert).unwrap();
        assert!(auth_crl.check(&c_auth, now()).is_ok(), "only the phone is suspended");

        // Nobody else is listed.
        let listed: usize = ["crl/auth.crl", "crl/sign.crl", "crl/auth-1.crl", "crl/sign-1.crl"]
            .iter()
            .map(|p| crl(p).entries().len())
            .sum();
        assert_eq!(listed, 2 + 2, "the old sign certs of R0010 and R0011, R0008's phone (auth + sign)");
    }

    #[test]
    fn validity_rules_hold() {
        let m = &world().manifest;
        let expiring = with_tag(Tag::CertsExpiringSoon);
        let days = (expiring.cert_expiry - TODAY).whole_days();
        assert!((0..=92).contains(&days), "{days}");
        assert!(with_tag(Tag::CertsExpired).cert_expiry < TODAY);
        for r in m
            .residents
            .iter()
            .filter(|r| !r.tags.contains(&Tag::CertsExpiringSoon) && !r.tags.contains(&Tag::CertsExpired))
        {
            assert!(r.cert_expiry - TODAY > Duration::days(92), "{}", r.id);
        }
        let registry: Registry = serde_json::from_slice(&read("registry.json")).unwrap();
        let foreign = with_tag(Tag::ForeignResident);
        let rec = registry.residents.iter().find(|x| x.id == foreign.id).unwrap();
        let stay_end = rec.foreign.as_ref().unwrap().period_of_stay_end.unwrap();
        assert_eq!(foreign.cert_expiry, stay_end);
        assert!(stay_end < nth_birthday_after(rec.card.issued, rec.birth_date, 5));
        for rec in &registry.residents {
            let expect = validity::expiry_date(
                rec.card.issued,
                rec.birth_date,
                rec.foreign.as_ref().and_then(|f| f.period_of_stay_end),
            );
            assert_eq!(rec.card.auth_cert.expiry, expect, "{}", rec.id);
        }
    }

    #[test]
    fn registry_is_consistent() {
        let registry: Registry = serde_json::from_slice(&read("registry.json")).unwrap();
        let m = &world().manifest;
        assert_eq!(registry.residents.len(), m.residents.len());
        for h in &registry.households {
            assert_eq!(h.members.iter().filter(|x| x.relationship == "世帯主").count(), 1);
            madoguchi_certs::check_fullwidth(&h.address).unwrap();
        }
        let abroad = registry.residents.iter().find(|r| r.emigration.is_some()).unwrap();
        assert!(abroad.residence.is_none() && abroad.honseki.is_some());
        let elsewhere = with_tag(Tag::KosekiElsewhere);
        let rec = registry.residents.iter().find(|r| r.id == elsewhere.id).unwrap();
        assert_ne!(rec.honseki.as_ref().unwrap().municipality, rec.residence.as_ref().unwrap().municipality);
        for r in m.residents.iter().filter(|r| r.tags.contains(&Tag::SealRegistered)) {
            assert!(registry
                .seal_registrations
                .iter()
                .any(|s| s.resident == r.id && s.status == SealStatus::Active && s.municipality == r.municipality));
        }
        for r in m.residents.iter().filter(|r| r.tags.contains(&Tag::Adult)) {
            assert!(registry.tax_records.iter().filter(|t| t.resident == r.id).count() >= 1, "{}", r.id);
        }
        // A fingerprint links every certificate on a card to its resident.
        for r in &m.residents {
            let rec = registry.residents.iter().find(|x| x.id == r.id).unwrap();
            let auth = JpkiCertificate::from_der(&card(r).jpki.auth_cert).unwrap();
            assert_eq!(rec.card.auth_cert.sha256, hex(&auth.fingerprint_sha256()));
        }
    }

    #[test]
    fn deterministic_and_true_whatever_the_day() {
        let f = world();
        // Same keys, same seed, same day: byte-identical files.
        let again = build(7, TODAY, &f.keys).unwrap();
        for (rel, bytes) in &again.files {
            assert_eq!(&read(rel), bytes, "{rel}");
        }
        // Keys depend on the seed only: regenerate a few and compare.
        let labels = ["auth-ca-1", "R0001/card/auth", "R0008/android/sign"];
        for (label, key) in labels.iter().zip(generate_keys(7, &labels).unwrap()) {
            assert_eq!(&f.keys[*label], &key, "{label}");
        }
        // The tags stay true on awkward days (leap day, year end, before June's tax roll).
        for day in [date!(2028 - 02 - 29), date!(2026 - 12 - 31), date!(2027 - 01 - 01), date!(2030 - 05 - 31)] {
            let w = build(7, day, &f.keys).unwrap_or_else(|e| panic!("{day}: {e}"));
            let expiring = w.manifest.residents.iter().find(|r| r.tags.contains(&Tag::CertsExpiringSoon)).unwrap();
            assert!(expiring.cert_expiry >= day);
        }
    }

    #[test]
    fn my_number_check_digit_matches_the_official_example() {
        assert!(is_valid_my_number("123456789018"));
        assert!(!is_valid_my_number("123456789012"));
        assert!(!is_valid_my_number("12345678901"));
        assert!(!is_valid_my_number("12345678901a"));
        assert_eq!(my_number_check_digit(&[0; 11]), 0);
    }
}
