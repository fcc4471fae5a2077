//! `manifest.json`: who is who in the demo world (ids, PINs, tags, card profile paths). The
//! simulator's own file: tests, scenarios and the lab read it, the product never does.
//!
//! One definition for the generator and every reader ([`Manifest::load`]). The file holds every
//! resident's PINs and passwords in clear (test material), so a reader keeps them only in
//! zeroizing strings, wipes the bytes it read, and no `Debug` shows them.

use madoguchi_api::registry::{iso_date, Municipality, Sex};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use time::Date;
use zeroize::Zeroizing;

/// Format version in `manifest.json`.
pub const MANIFEST_FORMAT: u32 = 1;

/// The file's name inside a world directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("{path} has format {found}, this reader takes format {MANIFEST_FORMAT}")]
    Version { path: String, found: u32 },
}

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
    /// The tag as the manifest and scenarios spell it (`household-head`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Tag::Adult => "adult",
            Tag::HouseholdHead => "household-head",
            Tag::HouseholdMember => "household-member",
            Tag::Under15 => "under-15",
            Tag::ForeignResident => "foreign-resident",
            Tag::SealRegistered => "seal-registered",
            Tag::KosekiElsewhere => "koseki-elsewhere",
            Tag::CertsExpired => "certs-expired",
            Tag::CertsExpiringSoon => "certs-expiring-soon",
            Tag::SignRevoked => "sign-revoked",
            Tag::PinBlocked => "pin-blocked",
            Tag::PhoneAndroid => "phone-android",
            Tag::PhoneIphone => "phone-iphone",
            Tag::PhoneSuspended => "phone-suspended",
            Tag::VariantKanjiName => "variant-kanji-name",
            Tag::MovedAbroad => "moved-abroad",
        }
    }

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
    /// The card-management private key (Ed25519, PKCS#8 PEM, mode 0600), relative to the world
    /// directory: [`super::CARD_MANAGEMENT_KEY_FILE`]. Absent in worlds made before PIN reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_management_key: Option<String>,
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
/// has any at the kiosk; an iPhone is unlocked by Face ID before it is tapped. `Debug` shows
/// neither.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneSecrets {
    #[serde(with = "secret")]
    pub auth_pin: Zeroizing<String>,
    #[serde(with = "secret")]
    pub sign_password: Zeroizing<String>,
}

impl fmt::Debug for PhoneSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneSecrets").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PhoneSecretsByKind {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android: Option<PhoneSecrets>,
}

/// One resident. `Debug` shows neither the PINs nor the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(with = "secret")]
    pub auth_pin: Zeroizing<String>,
    /// Signature password of the card; `null` for residents under 15.
    #[serde(default, with = "optional_secret")]
    pub sign_password: Option<Zeroizing<String>>,
    /// PIN of the 券面事項入力補助AP.
    #[serde(with = "secret")]
    pub text_pin: Zeroizing<String>,
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

impl fmt::Debug for ManifestResident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManifestResident")
            .field("id", &self.id)
            .field("card_profile", &self.card_profile)
            .field("phone_profiles", &self.phone_profiles)
            .field("tags", &self.tags)
            .field("municipality", &self.municipality)
            .field("household", &self.household)
            .finish_non_exhaustive()
    }
}

/// A secret as a JSON string, held only in a zeroizing string (serde `with`).
mod secret {
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(v: &Zeroizing<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<String>, D::Error> {
        String::deserialize(d).map(Zeroizing::new)
    }
}

/// An optional [`secret`]: `null` when absent.
mod optional_secret {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(v: &Option<Zeroizing<String>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|v| v.as_str()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Zeroizing<String>>, D::Error> {
        Option::<String>::deserialize(d).map(|o| o.map(Zeroizing::new))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestHousehold {
    pub id: String,
    pub municipality: String,
    pub head: String,
    pub members: Vec<String>,
}

impl Manifest {
    /// Reads `DIR/manifest.json`. The bytes read (every PIN in clear) are wiped after parsing.
    pub fn load(world_dir: &Path) -> Result<Manifest, ManifestError> {
        let path = world_dir.join(MANIFEST_FILE).display().to_string();
        let bytes = Zeroizing::new(
            std::fs::read(world_dir.join(MANIFEST_FILE))
                .map_err(|source| ManifestError::Io { path: path.clone(), source })?,
        );
        Manifest::from_json(&bytes, &path)
    }

    /// Parses a manifest; `name` says where it came from in errors. A manifest of another
    /// format is refused as such, before its fields are read.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<Manifest, ManifestError> {
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        let json = |source| ManifestError::Json { path: name.into(), source };
        let Format { format } = serde_json::from_slice(bytes).map_err(json)?;
        if format != MANIFEST_FORMAT {
            return Err(ManifestError::Version { path: name.into(), found: format });
        }
        serde_json::from_slice(bytes).map_err(json)
    }
}
