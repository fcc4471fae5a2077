//! The virtual card's profile file: keys, certificates, PINs and retry counters of one card (or
//! phone token). The world generator writes it; the card simulator reads it at start and writes
//! the counters back on every change, so tries left survive removal, re-insertion and restarts.
//!
//! This is simulator material: PINs are stored in clear on purpose (the file *is* the card).

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Profile format version written into every file.
pub const PROFILE_FORMAT: u32 = 1;

/// What the token says it is in EF 0006 (jpki.md §3) and how it behaves (§8, §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// My Number Card, label `JPKIAPICCTOKEN2`.
    #[default]
    Card,
    /// Android phone (GP-SE), label `JPKIAPGPSETOKEN`; EF 000A needs the auth PIN.
    Android,
    /// iPhone, label `JPKIAPIOSTOKEN`; pre-authorised by Face ID, no PIN at the kiosk.
    Iphone,
}

impl TokenKind {
    pub fn label(self) -> &'static str {
        match self {
            TokenKind::Card => "JPKIAPICCTOKEN2",
            TokenKind::Android => "JPKIAPGPSETOKEN",
            TokenKind::Iphone => "JPKIAPIOSTOKEN",
        }
    }
}

/// The register names the token that carries a certificate (`registry.json`'s phones).
impl From<TokenKind> for madoguchi_api::registry::Token {
    fn from(t: TokenKind) -> Self {
        match t {
            TokenKind::Card => madoguchi_api::registry::Token::Card,
            TokenKind::Android => madoguchi_api::registry::Token::Android,
            TokenKind::Iphone => madoguchi_api::registry::Token::Iphone,
        }
    }
}

/// What an empty VERIFY answers right after a successful VERIFY in the same selection
/// (jpki.md §10: cards differ, the kiosk must handle both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EmptyVerifyAfterSuccess {
    /// `63Cx` with the (reset) counter.
    #[default]
    Counter,
    /// `9000`.
    Ok,
}

/// One PIN (or password) with its retry counter.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    /// The reference value as the card compares it (ASCII bytes as text).
    pub value: String,
    pub max_tries: u8,
    pub tries_left: u8,
}

impl std::fmt::Debug for PinRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PinRecord {{ value: <hidden>, tries_left: {}/{} }}", self.tries_left, self.max_tries)
    }
}

/// The JPKI application (AID D3 92 F0 00 26 01 00 00 00 01).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JpkiApplet {
    /// EF 000A, DER, base64.
    #[serde(with = "b64")]
    pub auth_cert: Vec<u8>,
    /// EF 000B, DER, base64.
    #[serde(with = "b64")]
    pub auth_ca_cert: Vec<u8>,
    /// EF 0017: the user-authentication RSA-2048 private key, PKCS#8 DER, base64.
    #[serde(with = "b64")]
    pub auth_key_pkcs8: Vec<u8>,
    /// EF 0018: 4 digits, 3 tries.
    pub auth_pin: PinRecord,
    /// EF 0001; absent for residents under 15.
    #[serde(with = "b64opt", default, skip_serializing_if = "Option::is_none")]
    pub sign_cert: Option<Vec<u8>>,
    /// EF 0002.
    #[serde(with = "b64")]
    pub sign_ca_cert: Vec<u8>,
    /// EF 001A, PKCS#8 DER; absent with the certificate.
    #[serde(with = "b64opt", default, skip_serializing_if = "Option::is_none")]
    pub sign_key_pkcs8: Option<Vec<u8>>,
    /// EF 001B: 6–16 of A–Z0–9, 5 tries; absent with the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_password: Option<PinRecord>,
    #[serde(default)]
    pub empty_verify_after_success: EmptyVerifyAfterSuccess,
    /// Public half of the card-management key (Ed25519, 32 bytes, base64) that authorises RESET
    /// RETRY COUNTER (jpki.md "PIN reset at the kiosk"). A profile written before PIN reset
    /// existed has none; such a card refuses every reset with `6982`.
    #[serde(with = "b64key", default, skip_serializing_if = "Option::is_none")]
    pub card_management_key: Option<[u8; 32]>,
}

/// 券面事項入力補助AP (AID D3 92 10 00 31 00 01 01 04 08), jpki.md §7.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextApplet {
    /// 12 ASCII digits.
    pub my_number: String,
    /// 氏名 as on the card face (full-width space between family and given name).
    pub name: String,
    /// 住所.
    pub address: String,
    /// `YYYYMMDD`.
    pub birth_date: String,
    /// ISO 5218: `1` male, `2` female, `9` not applicable.
    pub sex: String,
    /// EF 0011: 4 digits, 3 tries.
    pub pin: PinRecord,
}

/// A whole virtual card or phone token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardProfile {
    pub format: u32,
    /// Resident id from the world manifest (for logs and the simulator panel).
    pub holder: String,
    pub token: TokenKind,
    pub jpki: JpkiApplet,
    /// Phones carry no 券面事項入力補助AP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_ap: Option<TextApplet>,
}

/// Why a profile could not be loaded or stored.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read or write the profile {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("profile {path} is not valid: {source}")]
    Format { path: String, source: serde_json::Error },
    #[error("profile {path} has format {found}, this simulator reads format {PROFILE_FORMAT}")]
    Version { path: String, found: u32 },
}

impl CardProfile {
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let p = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| ProfileError::Io { path: p.clone(), source })?;
        let profile: CardProfile =
            serde_json::from_slice(&text).map_err(|source| ProfileError::Format { path: p.clone(), source })?;
        if profile.format != PROFILE_FORMAT {
            return Err(ProfileError::Version { path: p, found: profile.format });
        }
        Ok(profile)
    }

    /// Writes the profile atomically (temporary file, then rename), so a simulator killed
    /// mid-write never leaves a half file and a counter is never lost.
    pub fn store(&self, path: &Path) -> Result<(), ProfileError> {
        let p = path.display().to_string();
        let io = |source| ProfileError::Io { path: p.clone(), source };
        let json =
            serde_json::to_vec_pretty(self).map_err(|source| ProfileError::Format { path: p.clone(), source })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

mod b64opt {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| base64::engine::general_purpose::STANDARD.decode(s).map_err(serde::de::Error::custom)).transpose()
    }
}

/// An optional Ed25519 public key as base64 of its 32 bytes.
mod b64key {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else { return Ok(None) };
        let bytes = base64::engine::general_purpose::STANDARD.decode(s).map_err(serde::de::Error::custom)?;
        let key = <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| serde::de::Error::invalid_length(bytes.len(), &"a 32-byte Ed25519 public key"))?;
        Ok(Some(key))
    }
}
