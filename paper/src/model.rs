//! Typed document data: what the municipality's system returns for one issuance, and who
//! issues it. Rendering never invents a field: what is not here is not printed.

use super::DocumentError;
use time::Date;

/// 性別.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn label(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

/// 本籍 and 筆頭者 (Japanese nationals only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Honseki {
    pub address: String,
    pub head: String,
}

/// The foreign-resident items of a residence record (住民基本台帳法 第30条の45).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignResident {
    /// 国籍・地域.
    pub nationality: String,
    /// 第30条の45に規定する区分 (中長期在留者, 特別永住者, ...).
    pub category: Option<String>,
    /// 在留資格.
    pub status: String,
    /// 在留期間 ("3年"), and its end (在留期間の満了の日; `None` for permanent residents).
    pub period: Option<String>,
    pub period_ends: Option<Date>,
    /// 在留カード等の番号.
    pub card_number: Option<String>,
    /// 通称, where registered (printed on a grey ground).
    pub alias: Option<String>,
}

/// One person's residence record (住民票).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resident {
    /// 氏名 as registered (family and given name separated by a full-width space).
    pub name: String,
    /// ふりがな, if the municipality records it.
    pub kana: Option<String>,
    pub born: Date,
    pub sex: Sex,
    /// 続柄 to the head of household (世帯主, 妻, 子, 母, 同居人, ...).
    pub relationship: String,
    /// 住民となった年月日 (`None`: not in the data; the cell stays empty).
    pub became_resident: Option<Date>,
    /// 住所を定めた年月日 and its 届出日.
    pub address_since: Date,
    pub notified_on: Option<Date>,
    /// 前住所.
    pub previous_address: Option<String>,
    pub honseki: Option<Honseki>,
    /// 個人番号 (12 digits).
    pub my_number: Option<String>,
    /// 住民票コード (11 digits).
    pub resident_code: Option<String>,
    pub foreign: Option<ForeignResident>,
}

/// The optional items of a 住民票の写し. Each is printed only where the municipality enables
/// it *and* the resident asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResidentOptions {
    /// 世帯主の氏名及び続柄.
    pub head_and_relationship: bool,
    /// 本籍及び筆頭者 (Japanese nationals).
    pub honseki: bool,
    /// 前住所.
    pub previous_address: bool,
    /// 個人番号 (sensitive: the kiosk warns on screen).
    pub my_number: bool,
    /// 住民票コード (sensitive).
    pub resident_code: bool,
}

impl ResidentOptions {
    /// The options as names, for error messages and screens.
    pub fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.head_and_relationship {
            v.push("世帯主・続柄");
        }
        if self.honseki {
            v.push("本籍・筆頭者");
        }
        if self.previous_address {
            v.push("前住所");
        }
        if self.my_number {
            v.push("個人番号");
        }
        if self.resident_code {
            v.push("住民票コード");
        }
        v
    }

    /// The options that are requested but not enabled.
    pub fn not_in(self, enabled: ResidentOptions) -> Vec<&'static str> {
        let refused = ResidentOptions {
            head_and_relationship: self.head_and_relationship && !enabled.head_and_relationship,
            honseki: self.honseki && !enabled.honseki,
            previous_address: self.previous_address && !enabled.previous_address,
            my_number: self.my_number && !enabled.my_number,
            resident_code: self.resident_code && !enabled.resident_code,
        };
        refused.names()
    }
}

/// 住民票の写し (or the data of a 住民票記載事項証明書): a household, or chosen members of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Juminhyo {
    /// 住所.
    pub address: String,
    /// 世帯主.
    pub head: String,
    /// How many people the household has (to say 世帯全員 or 世帯の一部).
    pub household_size: usize,
    /// The members to print, in the register's order.
    pub members: Vec<Resident>,
    /// What the resident asked for.
    pub requested: ResidentOptions,
}

/// 印鑑登録証明書.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inkan {
    pub name: String,
    pub born: Date,
    pub sex: Option<Sex>,
    pub address: String,
    /// 印鑑登録番号.
    pub registration_number: String,
    /// The registered impression (印影); `None` when the register has none on file.
    pub impression: Option<SealImpression>,
}

/// A registered seal impression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealImpression {
    /// The scanned impression (PNG).
    Image(Vec<u8>),
    /// Drawn from the engraved text (e.g. the family name), in a round seal of this diameter.
    Engraved { text: String, diameter_mm: u8 },
}

/// Kinds of income on a tax certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Income {
    SalaryRevenue,
    Salary,
    Business,
    Pension,
    Other,
}

impl Income {
    pub fn label(self) -> &'static str {
        match self {
            Income::SalaryRevenue => "給与収入",
            Income::Salary => "給与所得",
            Income::Business => "事業所得",
            Income::Pension => "公的年金等所得",
            Income::Other => "その他の所得",
        }
    }
}

/// Kinds of income deduction (所得控除).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deduction {
    SocialInsurance,
    LifeInsurance,
    Spouse,
    Dependents,
    Basic,
}

impl Deduction {
    pub fn label(self) -> &'static str {
        match self {
            Deduction::SocialInsurance => "社会保険料控除",
            Deduction::LifeInsurance => "生命保険料控除",
            Deduction::Spouse => "配偶者控除",
            Deduction::Dependents => "扶養控除",
            Deduction::Basic => "基礎控除",
        }
    }
}

/// One year's tax record (課税・所得証明書). Amounts in yen; items the municipality did not
/// return are absent and not printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRecord {
    /// 年度 (the fiscal year of the tax; the income is of the calendar year before).
    pub fiscal_year: i32,
    /// The address printed, and whether it is the one on 1 January of the fiscal year.
    pub address: String,
    pub address_on_jan_1: bool,
    pub incomes: Vec<(Income, u64)>,
    /// 合計所得金額.
    pub total_income: u64,
    pub deductions: Vec<(Deduction, u64)>,
    pub total_deductions: Option<u64>,
    /// 控除対象配偶者 and 扶養親族の数, if returned.
    pub has_spouse: Option<bool>,
    pub dependents: Option<u32>,
    /// 課税標準額.
    pub taxable_income: u64,
    /// 市町村民税 and 道府県民税 (所得割 + 均等割).
    pub municipal_tax: u64,
    pub prefectural_tax: u64,
}

/// 課税・所得証明書 for one fiscal year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kazei {
    pub name: String,
    pub born: Date,
    pub record: TaxRecord,
}

impl Kazei {
    /// Picks the record of `fiscal_year` from those on file.
    pub fn for_year(name: &str, born: Date, records: &[TaxRecord], fiscal_year: i32) -> Result<Kazei, DocumentError> {
        match records.iter().find(|r| r.fiscal_year == fiscal_year) {
            Some(r) => Ok(Kazei { name: name.to_string(), born, record: r.clone() }),
            None => {
                let mut available: Vec<i32> = records.iter().map(|r| r.fiscal_year).collect();
                available.sort_unstable();
                Err(DocumentError::TaxYearNotOnFile { requested: fiscal_year, available })
            }
        }
    }
}

/// An event in a person's 身分事項 (出生, 婚姻, ...), as label/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KosekiEvent {
    /// 出生, 婚姻, 養子縁組, ...
    pub kind: String,
    /// 【出生日】令和… etc.: (label, value).
    pub items: Vec<(String, String)>,
}

impl KosekiEvent {
    /// The 身分事項 as the register and the payload carry them (`[label, value]` items); a
    /// register that sends none gets the birth, from the birth date.
    pub fn all_from(events: &[(String, Vec<[String; 2]>)], born: Date) -> Vec<KosekiEvent> {
        if events.is_empty() {
            let items = vec![("出生日".to_string(), madoguchi_certs::era::wareki(born))];
            return vec![KosekiEvent { kind: "出生".into(), items }];
        }
        events
            .iter()
            .map(|(kind, items)| KosekiEvent {
                kind: kind.clone(),
                items: items.iter().map(|[l, v]| (l.clone(), v.clone())).collect(),
            })
            .collect()
    }
}

/// A person recorded in a 戸籍.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KosekiPerson {
    /// 名 (the family name is the 戸籍's).
    pub given_name: String,
    pub born: Date,
    pub father: Option<String>,
    pub mother: Option<String>,
    /// 続柄 (長男, 二女, ...), if recorded in the data.
    pub relationship: Option<String>,
    /// 配偶者区分 (夫, 妻).
    pub spouse_role: Option<String>,
    pub events: Vec<KosekiEvent>,
    /// 除籍 (left the 戸籍 by marriage, death, ...).
    pub removed: bool,
}

/// 全部事項 (everyone) or 個人事項 (chosen people).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KosekiScope {
    All,
    /// Indexes into `persons`.
    Persons(Vec<usize>),
}

/// 戸籍全部事項証明書 / 戸籍個人事項証明書.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Koseki {
    /// 本籍.
    pub honseki: String,
    /// 筆頭者 (full name).
    pub head: String,
    /// 戸籍編製日, if the data has it.
    pub created: Option<Date>,
    pub persons: Vec<KosekiPerson>,
    pub scope: KosekiScope,
}

impl Koseki {
    pub fn family_name(&self) -> &str {
        self.head.split(['　', ' ']).next().unwrap_or(&self.head)
    }
}

/// One address in a 戸籍の附票.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuhyoAddress {
    pub address: String,
    pub since: Date,
}

/// A person in a 戸籍の附票.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuhyoPerson {
    pub name: String,
    pub born: Date,
    pub addresses: Vec<FuhyoAddress>,
}

/// 戸籍の附票の写し.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fuhyo {
    pub honseki: String,
    pub head: String,
    pub persons: Vec<FuhyoPerson>,
}

/// A document to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// 住民票の写し.
    Juminhyo(Juminhyo),
    /// 住民票記載事項証明書.
    Kisaijiko(Juminhyo),
    /// 印鑑登録証明書.
    Inkan(Inkan),
    /// 課税・所得証明書.
    Kazei(Kazei),
    /// 戸籍全部事項証明書 / 戸籍個人事項証明書.
    Koseki(Koseki),
    /// 戸籍の附票の写し.
    Fuhyo(Fuhyo),
}

impl Document {
    /// The document's title as printed.
    pub fn title(&self) -> &'static str {
        match self {
            Document::Juminhyo(_) => "住民票の写し",
            Document::Kisaijiko(_) => "住民票記載事項証明書",
            Document::Inkan(_) => "印鑑登録証明書",
            Document::Kazei(_) => "課税・所得証明書",
            Document::Koseki(k) => match k.scope {
                KosekiScope::All => "戸籍全部事項証明書",
                KosekiScope::Persons(_) => "戸籍個人事項証明書",
            },
            Document::Fuhyo(_) => "戸籍の附票の写し",
        }
    }

    /// The wording of a municipality that set none of its own (the configuration's default,
    /// `madoguchi_api::wording`), for this document as asked.
    pub fn standard_wording(&self) -> Wording {
        self.wording_in(&madoguchi_api::wording::Wording::default())
    }

    /// This document's words in a municipality's configured wording (as the backend resolves
    /// them into the payload), for samples printed before anything is issued.
    pub fn wording_in(&self, configured: &madoguchi_api::wording::Wording) -> Wording {
        let kind = madoguchi_api::DocumentKind::parse(self.kind()).unwrap_or(madoguchi_api::DocumentKind::Juminhyo);
        let (whole, asked) = match self {
            Document::Juminhyo(j) => {
                let o = j.requested;
                let asked = [
                    (o.head_and_relationship, "setainushi"),
                    (o.honseki, "honseki"),
                    (o.my_number, "kojin_bango"),
                    (o.resident_code, "juminhyo_code"),
                ];
                let asked = asked.iter().filter(|(on, _)| *on).map(|(_, id)| id.to_string()).collect();
                (j.members.len() >= j.household_size, asked)
            }
            Document::Koseki(k) => (matches!(k.scope, KosekiScope::All), Vec::new()),
            _ => (true, Vec::new()),
        };
        configured.printed(kind, whole, &asked)
    }

    /// The document kind as the kiosk's action ids name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Document::Juminhyo(_) => "juminhyo",
            Document::Kisaijiko(_) => "kisaijiko",
            Document::Inkan(_) => "inkan",
            Document::Kazei(_) => "kazei",
            Document::Koseki(k) => match k.scope {
                KosekiScope::All => "koseki-zenbu",
                KosekiScope::Persons(_) => "koseki-kojin",
            },
            Document::Fuhyo(_) => "fuhyo",
        }
    }
}

/// The municipal seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MunicipalSeal {
    /// Drawn as vectors from the issuer's title (e.g. 稲城市長之印).
    Drawn,
    /// The municipality's seal image (PNG, ideally red on transparent).
    Image(Vec<u8>),
}

/// Who issues: the municipality and its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// 東京都.
    pub prefecture: String,
    /// 稲城市.
    pub municipality: String,
    /// 稲城市長.
    pub title: String,
    /// The mayor's name.
    pub name: String,
    pub seal: MunicipalSeal,
    /// The 住民票 options this municipality offers at kiosks.
    pub enabled: ResidentOptions,
}

/// This issuance: its number, date and verification reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    /// 交付番号: printed on every page, the PJL job name and the verification key.
    pub number: String,
    pub issued_on: Date,
    /// Host of the verification service (`/v1/verify/{number}?code=…`).
    pub verify_host: String,
    /// The one-time code that goes with the number (printed and in the QR code).
    pub verify_code: String,
    /// The municipality's words on this document (title, certification, 以下余白, the
    /// omitted-options line) as its signed payload carries them. `None` (sample prints
    /// only): the standard wording of a municipality that set none ([`Document::standard_wording`]).
    pub wording: Option<Wording>,
}

/// The municipality's words on one document.
pub use madoguchi_api::wording::Printed as Wording;

/// The issuance number of sample pages (operator test prints, the console's preview): the
/// renderer stamps them 見本, and no issuance of that number exists to verify.
pub const SAMPLE_NUMBER: &str = "MIHON-SAMPLE";

impl Issuance {
    /// A sample page (see [`SAMPLE_NUMBER`]): stamped 見本 by the renderer.
    pub fn is_sample(&self) -> bool {
        self.number == SAMPLE_NUMBER
    }

    /// The verification reference the QR code carries.
    pub fn verify_url(&self) -> String {
        format!("https://{}/v1/verify/{}?code={}", self.verify_host, self.number, self.verify_code)
    }

    /// Number and code must be short printable ASCII (they go into a URL, a PJL job name
    /// and a file name); the host a plain host name.
    pub fn validate(&self) -> Result<(), DocumentError> {
        let token =
            |s: &str| !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let host = !self.verify_host.is_empty()
            && self.verify_host.len() <= 100
            && self.verify_host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b));
        if !token(&self.number) {
            return Err(DocumentError::InvalidIssuance(format!("issuance number {:?}", self.number)));
        }
        if !token(&self.verify_code) {
            return Err(DocumentError::InvalidIssuance(format!("verification code {:?}", self.verify_code)));
        }
        if !host {
            return Err(DocumentError::InvalidIssuance(format!("verification host {:?}", self.verify_host)));
        }
        Ok(())
    }
}
