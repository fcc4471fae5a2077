//! The documents a kiosk issues: one id, one title and one set of options each, for the backend,
//! the kiosk and the paper alike.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DocumentKind {
    /// 住民票の写し
    #[serde(rename = "juminhyo")]
    Juminhyo,
    /// 住民票記載事項証明書
    #[serde(rename = "kisaijiko")]
    Kisaijiko,
    /// 印鑑登録証明書
    #[serde(rename = "inkan")]
    Inkan,
    /// 課税・所得証明書
    #[serde(rename = "kazei")]
    Kazei,
    /// 戸籍全部事項証明書
    #[serde(rename = "koseki-zenbu")]
    KosekiZenbu,
    /// 戸籍個人事項証明書
    #[serde(rename = "koseki-kojin")]
    KosekiKojin,
    /// 戸籍の附票の写し
    #[serde(rename = "fuhyo")]
    Fuhyo,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 7] = [
        DocumentKind::Juminhyo,
        DocumentKind::Kisaijiko,
        DocumentKind::Inkan,
        DocumentKind::Kazei,
        DocumentKind::KosekiZenbu,
        DocumentKind::KosekiKojin,
        DocumentKind::Fuhyo,
    ];

    /// The id on the wire, in configuration and in the kiosk's `document:<id>` actions.
    pub fn id(self) -> &'static str {
        match self {
            DocumentKind::Juminhyo => "juminhyo",
            DocumentKind::Kisaijiko => "kisaijiko",
            DocumentKind::Inkan => "inkan",
            DocumentKind::Kazei => "kazei",
            DocumentKind::KosekiZenbu => "koseki-zenbu",
            DocumentKind::KosekiKojin => "koseki-kojin",
            DocumentKind::Fuhyo => "fuhyo",
        }
    }

    pub fn parse(s: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.id() == s)
    }

    /// The Japanese title, as offered and as printed.
    pub fn title(self) -> &'static str {
        match self {
            DocumentKind::Juminhyo => "住民票の写し",
            DocumentKind::Kisaijiko => "住民票記載事項証明書",
            DocumentKind::Inkan => "印鑑登録証明書",
            DocumentKind::Kazei => "課税・所得証明書",
            DocumentKind::KosekiZenbu => "戸籍全部事項証明書",
            DocumentKind::KosekiKojin => "戸籍個人事項証明書",
            DocumentKind::Fuhyo => "戸籍の附票の写し",
        }
    }

    /// Issued by the municipality of 本籍 rather than of residence.
    pub fn is_koseki(self) -> bool {
        matches!(self, DocumentKind::KosekiZenbu | DocumentKind::KosekiKojin | DocumentKind::Fuhyo)
    }

    /// The options a municipality may enable for this document.
    pub fn known_options(self) -> &'static [&'static str] {
        match self {
            // 世帯主・続柄, 本籍・筆頭者, 個人番号, 住民票コード, and choosing other household
            // members (連記)
            DocumentKind::Juminhyo => &["setainushi", "honseki", "kojin_bango", "juminhyo_code", "household"],
            DocumentKind::Kisaijiko => &["household"],
            _ => &[],
        }
    }

    /// Whether the resident picks people for this document.
    pub fn person_choice(self) -> bool {
        matches!(
            self,
            DocumentKind::Juminhyo | DocumentKind::Kisaijiko | DocumentKind::KosekiKojin | DocumentKind::Fuhyo
        )
    }
}

impl std::fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_on_the_wire_and_in_text() {
        for k in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(k.id()), Some(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.id()));
            assert_eq!(k.to_string(), k.id());
        }
        assert_eq!(DocumentKind::parse("passport"), None);
    }
}
