//! The municipality's own words on its paper: each document's title and certification
//! sentence, the end-of-text note (以下余白), the continued-page note (以下次頁) and how the
//! options left off a 住民票 are named. The municipality sets them in its configuration
//! ([`MunicipalityConfig::wording`](crate::municipality::MunicipalityConfig)); the backend
//! resolves them for each issuance ([`Wording::printed`]) into the signed payload; the kiosk
//! prints exactly what was signed. The standard wording below is only the default of the
//! configuration, never a constant of the renderer.

use crate::DocumentKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest title, note and sentence a municipality may set (characters): each is one line
/// of an A4 page (the title at 19 pt after the fiscal year of a tax certificate, the
/// certification at 11 pt).
pub const TITLE_MAX: usize = 20;
pub const NOTE_MAX: usize = 20;
pub const SENTENCE_MAX: usize = 44;
/// Longest omitted-options line (its labels included; one line at 9 pt).
pub const OMITTED_MAX: usize = 56;

/// One document's wording; what is not set is the standard wording.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DocumentWording {
    /// The title as printed (e.g. `住民票の写し`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The certification sentence; on a 住民票 when the whole household is on it, on a 戸籍
    /// certificate when the whole 戸籍 is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certification: Option<String>,
    /// 住民票 and 戸籍個人事項証明書: when only some of the household / 戸籍 is on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certification_part: Option<String>,
}

/// A municipality's wording (the `wording` table of its configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Wording {
    /// After the last item of the last page (`以下余白`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_note: Option<String>,
    /// After the last item of a page that continues (`以下次頁`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continued_note: Option<String>,
    /// The line naming the options left off a 住民票; `{options}` is replaced by their labels
    /// joined with `、` (`（{options}　省略）`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omitted: Option<String>,
    /// The labels of the omittable items (`setainushi`, `honseki`, `kojin_bango`,
    /// `juminhyo_code`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub option_labels: BTreeMap<String, String>,
    /// Per document id (`juminhyo`, `kazei`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub documents: BTreeMap<String, DocumentWording>,
}

/// The words printed on one document, as the payload signs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    pub title: String,
    pub certification: String,
    pub end_note: String,
    pub continued_note: String,
    /// The omitted-options line (住民票 only, when something is left off).
    pub omitted_note: Option<String>,
}

/// The 住民票 items that are left off unless asked for, in the order the line names them
/// (`juminhyo_code`, 住民票コード, is not offered at kiosks, so it is always named).
pub const OMITTABLE: [&str; 4] = ["setainushi", "honseki", "kojin_bango", "juminhyo_code"];

/// The standard wording (the default of every municipality's configuration).
pub mod standard {
    use crate::DocumentKind;

    pub const END_NOTE: &str = "以下余白";
    pub const CONTINUED_NOTE: &str = "以下次頁";
    pub const OMITTED: &str = "（{options}　省略）";

    pub fn option_label(id: &str) -> Option<&'static str> {
        Some(match id {
            "setainushi" => "世帯主・続柄",
            "honseki" => "本籍・筆頭者",
            "kojin_bango" => "個人番号",
            "juminhyo_code" => "住民票コード",
            _ => return None,
        })
    }

    /// The certification sentence; `whole`: the whole household / 戸籍 is on it.
    pub fn certification(kind: DocumentKind, whole: bool) -> &'static str {
        match kind {
            DocumentKind::Juminhyo if whole => "この写しは、世帯全員の住民票の原本と相違ないことを証明する。",
            DocumentKind::Juminhyo => "この写しは、住民票の原本と相違ないことを証明する。",
            DocumentKind::Kisaijiko => "上記の事項は、住民票に記載されている事項と相違ないことを証明する。",
            DocumentKind::Inkan => "この写しは、登録されている印影と相違ないことを証明する。",
            DocumentKind::Kazei => "上記のとおり証明する。",
            DocumentKind::KosekiZenbu => "これは、戸籍に記録されている事項の全部を証明した書面である。",
            DocumentKind::KosekiKojin => {
                "これは、戸籍中の一部の者について記録されている事項の全部を証明した書面である。"
            }
            DocumentKind::Fuhyo => "この写しは、戸籍の附票の原本と相違ないことを証明する。",
        }
    }
}

impl Wording {
    /// The words for one issuance of `kind`: `whole` when the whole household / 戸籍 is on
    /// it; `asked` the 住民票 options the resident asked for (the others are named omitted).
    pub fn printed(&self, kind: DocumentKind, whole: bool, asked: &[String]) -> Printed {
        let doc = self.documents.get(kind.id());
        let set = |v: Option<&String>| v.filter(|s| !s.trim().is_empty()).cloned();
        let certification = match doc {
            Some(d) if !whole && kind == DocumentKind::Juminhyo => set(d.certification_part.as_ref()),
            Some(d) => set(d.certification.as_ref()),
            None => None,
        };
        let omitted_note = (kind == DocumentKind::Juminhyo)
            .then(|| {
                let labels: Vec<String> = OMITTABLE
                    .iter()
                    .filter(|o| !asked.iter().any(|a| a == *o))
                    .map(|o| {
                        set(self.option_labels.get(*o))
                            .unwrap_or_else(|| standard::option_label(o).unwrap_or_default().to_string())
                    })
                    .collect();
                (!labels.is_empty()).then(|| {
                    self.omitted.as_deref().unwrap_or(standard::OMITTED).replace("{options}", &labels.join("、"))
                })
            })
            .flatten();
        Printed {
            title: doc.and_then(|d| set(d.title.as_ref())).unwrap_or_else(|| kind.title().to_string()),
            certification: certification.unwrap_or_else(|| standard::certification(kind, whole).to_string()),
            end_note: set(self.end_note.as_ref()).unwrap_or_else(|| standard::END_NOTE.to_string()),
            continued_note: set(self.continued_note.as_ref()).unwrap_or_else(|| standard::CONTINUED_NOTE.to_string()),
            omitted_note,
        }
    }

    /// Refuses wording that cannot be printed in its place, naming the field (under `wording.`).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let check = |field: String, v: &Option<String>, max: usize| -> Result<(), (String, String)> {
            let Some(v) = v else { return Ok(()) };
            if v.trim().is_empty() {
                return Err((field, "must not be empty (leave it out for the standard wording)".into()));
            }
            if v.chars().count() > max {
                return Err((field, format!("longer than {max} characters")));
            }
            if v.chars().any(char::is_control) {
                return Err((field, "contains control characters".into()));
            }
            Ok(())
        };
        check("wording.end_note".into(), &self.end_note, NOTE_MAX)?;
        check("wording.continued_note".into(), &self.continued_note, NOTE_MAX)?;
        check("wording.omitted".into(), &self.omitted, OMITTED_MAX / 2)?;
        if let Some(o) = &self.omitted {
            if o.matches("{options}").count() != 1 {
                return Err(("wording.omitted".into(), "must contain {options} once".into()));
            }
        }
        for (id, label) in &self.option_labels {
            if !OMITTABLE.contains(&id.as_str()) {
                return Err((
                    format!("wording.option_labels.{id}"),
                    format!("not an omittable option (known: {})", OMITTABLE.join(", ")),
                ));
            }
            check(format!("wording.option_labels.{id}"), &Some(label.clone()), NOTE_MAX)?;
        }
        for (name, d) in &self.documents {
            let f = format!("wording.documents.{name}");
            let Some(kind) = DocumentKind::parse(name) else {
                return Err((f, "unknown document".into()));
            };
            check(format!("{f}.title"), &d.title, TITLE_MAX)?;
            check(format!("{f}.certification"), &d.certification, SENTENCE_MAX)?;
            check(format!("{f}.certification_part"), &d.certification_part, SENTENCE_MAX)?;
            if d.certification_part.is_some() && kind != DocumentKind::Juminhyo {
                return Err((format!("{f}.certification_part"), "only for juminhyo".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_wording_is_the_default_and_a_set_word_replaces_it() {
        let std = Wording::default().printed(DocumentKind::Juminhyo, false, &["setainushi".into()]);
        assert_eq!(std.title, "住民票の写し");
        assert_eq!(std.certification, "この写しは、住民票の原本と相違ないことを証明する。");
        assert_eq!(std.end_note, "以下余白");
        assert_eq!(std.omitted_note.as_deref(), Some("（本籍・筆頭者、個人番号、住民票コード　省略）"));
        let mut w = Wording {
            end_note: Some("以下空白".into()),
            omitted: Some("〔{options}の記載を省略〕".into()),
            ..Wording::default()
        };
        w.option_labels.insert("kojin_bango".into(), "マイナンバー".into());
        w.documents.insert(
            "juminhyo".into(),
            DocumentWording {
                title: Some("住民票（写し）".into()),
                certification: None,
                certification_part: Some("この写しは住民票の原本と相違ありません。".into()),
            },
        );
        let p = w.printed(DocumentKind::Juminhyo, false, &["setainushi".into(), "honseki".into()]);
        assert_eq!(p.title, "住民票（写し）");
        assert_eq!(p.certification, "この写しは住民票の原本と相違ありません。");
        assert_eq!(p.end_note, "以下空白");
        assert_eq!(p.omitted_note.as_deref(), Some("〔マイナンバー、住民票コードの記載を省略〕"));
        // The whole household's sentence was not set: the standard one.
        assert_eq!(
            w.printed(DocumentKind::Juminhyo, true, &[]).certification,
            "この写しは、世帯全員の住民票の原本と相違ないことを証明する。"
        );
        assert_eq!(w.printed(DocumentKind::Kazei, true, &[]).omitted_note, None);
        assert!(w.validate().is_ok());
    }

    #[test]
    fn wording_that_cannot_be_printed_is_refused_by_field() {
        let w = Wording { omitted: Some("省略".into()), ..Wording::default() };
        assert_eq!(w.validate().unwrap_err().0, "wording.omitted");
        let mut w = Wording::default();
        w.documents.insert("kazei".into(), DocumentWording { title: Some("課".repeat(21)), ..Default::default() });
        assert_eq!(w.validate().unwrap_err().0, "wording.documents.kazei.title");
        let mut w = Wording::default();
        w.documents.insert("zairyu".into(), DocumentWording::default());
        assert_eq!(w.validate().unwrap_err().0, "wording.documents.zairyu");
        let mut w = Wording::default();
        w.option_labels.insert("household".into(), "世帯".into());
        assert_eq!(w.validate().unwrap_err().0, "wording.option_labels.household");
        let w = Wording { end_note: Some(" ".into()), ..Wording::default() };
        assert_eq!(w.validate().unwrap_err().0, "wording.end_note");
    }
}
