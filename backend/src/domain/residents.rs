//! The registry's records as the offer and document functions read them: residents, households,
//! 戸籍, seals, and the views the flow assembles per session. The import schema is
//! `madoguchi_api::registry`; these are the backend's own stored forms.

use madoguchi_api::municipality::{parse_date, MunicipalityConfig};
use madoguchi_api::payload::TaxRecord;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Municipality {
    pub code: String,
    pub name: String,
    pub prefecture: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidentStatus {
    Active,
    MovedOut,
    MovedAbroad,
    Deceased,
}

impl ResidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResidentStatus::Active => "active",
            ResidentStatus::MovedOut => "moved_out",
            ResidentStatus::MovedAbroad => "moved_abroad",
            ResidentStatus::Deceased => "deceased",
        }
    }
    pub fn parse(s: &str) -> ResidentStatus {
        match s {
            "active" => ResidentStatus::Active,
            "moved_out" => ResidentStatus::MovedOut,
            "moved_abroad" => ResidentStatus::MovedAbroad,
            _ => ResidentStatus::Deceased,
        }
    }
}

/// Everything printed about a person that is not a column of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResidentDetails {
    /// 住民となった日.
    #[serde(default)]
    pub became_resident_on: Option<String>,
    /// 住所を定めた日.
    #[serde(default)]
    pub address_since: Option<String>,
    /// 前住所.
    #[serde(default)]
    pub previous_address: Option<String>,
    /// 戸籍上の続柄 (長男, 妻 …).
    #[serde(default)]
    pub koseki_relationship: Option<String>,
    /// 父 and 母 as in the 戸籍.
    #[serde(default)]
    pub father: Option<String>,
    #[serde(default)]
    pub mother: Option<String>,
    /// 個人番号 (printed only with the `kojin_bango` option).
    #[serde(default)]
    pub my_number: Option<String>,
    /// 国籍・地域 for foreign residents.
    #[serde(default)]
    pub nationality: Option<String>,
    /// 在留資格 and 在留期間の満了日 for foreign residents.
    #[serde(default)]
    pub residence_status: Option<String>,
    #[serde(default)]
    pub residence_period_end: Option<String>,
    /// 届出日 of the move to the current address.
    #[serde(default)]
    pub notified_on: Option<String>,
    /// 住民票コード (printed only with the `juminhyo_code` option).
    #[serde(default)]
    pub resident_code: Option<String>,
    /// Foreign residents: 第30条の45に規定する区分, 在留期間, 在留カード等の番号, 通称.
    #[serde(default)]
    pub residence_category: Option<String>,
    #[serde(default)]
    pub residence_period: Option<String>,
    #[serde(default)]
    pub residence_card_number: Option<String>,
    #[serde(default)]
    pub alias: Option<String>,
    /// 戸籍編製日 of the person's 戸籍, and the person's 身分事項 in it.
    #[serde(default)]
    pub koseki_created: Option<String>,
    #[serde(default)]
    pub koseki_events: Vec<madoguchi_api::payload::KosekiEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    pub id: String,
    pub household_id: Option<String>,
    /// Municipality of residence (none after moving out or abroad).
    pub municipality_code: Option<String>,
    pub koseki_id: Option<String>,
    pub name: String,
    pub name_kana: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// `男` / `女`.
    pub sex: String,
    /// 続柄 in the household (世帯主, 妻, 子 …).
    pub relationship: String,
    pub address: String,
    pub status: ResidentStatus,
    /// 支援措置 (DV, stalking): never on a kiosk document.
    pub restricted: bool,
    /// 利用登録 at the 本籍 municipality done (needed for 戸籍 from elsewhere).
    pub koseki_registered: bool,
    pub details: ResidentDetails,
}

impl Resident {
    pub fn age_on(&self, day: Date) -> Option<i32> {
        let b = parse_date(&self.birth_date)?;
        let mut age = day.year() - b.year();
        if (day.month() as u8, day.day()) < (b.month() as u8, b.day()) {
            age -= 1;
        }
        Some(age)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Household {
    pub id: String,
    pub municipality_code: String,
    pub address: String,
    pub head_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Koseki {
    pub id: String,
    pub municipality_code: String,
    /// 本籍.
    pub honseki: String,
    /// 筆頭者.
    pub hittousha: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRegistration {
    pub resident_id: String,
    /// The municipality where it is registered (abolished on moving out).
    pub municipality_code: String,
    pub registration_number: String,
    pub registered_on: String,
    /// The characters engraved on the seal (the 印影 is rendered from them).
    pub impression: String,
    pub diameter_mm: i64,
    /// A scanned 印影 as base64 PNG, where the register has one.
    #[serde(default)]
    pub seal_png: Option<String>,
}

/// What the offer and document functions need to know about one resident.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResidentView {
    pub resident: Resident,
    pub household: Option<Household>,
    /// All members of the household, the resident included.
    pub household_members: Vec<Resident>,
    pub koseki: Option<Koseki>,
    /// All people in the 戸籍, the resident included.
    pub koseki_members: Vec<Resident>,
    pub tax_records: Vec<TaxRecord>,
    pub seal: Option<SealRegistration>,
}

/// A municipality with its configuration.
#[derive(Debug, Clone)]
pub struct MunicipalityView {
    pub municipality: Municipality,
    pub config: MunicipalityConfig,
    pub config_version: i64,
}
