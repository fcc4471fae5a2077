//! What a console form asks for, as a change to the municipality's configuration (pure), and the
//! diff the administrator confirms before it is saved. Validation is the API's own
//! (`MunicipalityConfig::validate`, run again when the change is saved).

use madoguchi_api::municipality::{ClosedDays, ConfigError, Hours, MunicipalityConfig, Notice};
use madoguchi_api::DocumentKind;
use serde_json::Value;

/// A submitted form: every `name=value` pair in order (checkbox groups repeat a name).
#[derive(Debug, Default, Clone)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// The trimmed value, `""` if absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v == "on" || v == "1" || v == "true")
    }
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), message: message.into() }
}

fn integer(form: &Form, name: &str, field: &str) -> Result<i64, ConfigError> {
    let v = form.text(name);
    v.parse::<i64>().map_err(|_| refuse(field, format!("{v:?} is not a whole number")))
}

fn optional(v: String) -> Option<String> {
    (!v.is_empty()).then_some(v)
}

fn index(form: &Form, len: usize, field: &str) -> Result<usize, ConfigError> {
    form.text("index").parse::<usize>().ok().filter(|i| *i < len).ok_or_else(|| refuse(field, "no such entry"))
}

/// Applies the form's change (`change` names its kind) to a copy of `current`, then validates it
/// as the API would.
pub fn apply(current: &MunicipalityConfig, form: &Form) -> Result<MunicipalityConfig, ConfigError> {
    let c = candidate(current, form)?;
    c.validate()?;
    Ok(c)
}

/// The form's change applied to a copy of `current`, not validated yet (so a refused page can
/// show what was typed); refused only when a value cannot even be read (a fee that is no number).
pub fn candidate(current: &MunicipalityConfig, form: &Form) -> Result<MunicipalityConfig, ConfigError> {
    let mut c = current.clone();
    match form.get("change").unwrap_or("") {
        "document" => {
            let id = form.text("document");
            let kind =
                DocumentKind::parse(&id).ok_or_else(|| refuse("documents", format!("unknown document {id:?}")))?;
            let f = format!("documents.{id}");
            let d = c.documents.get_mut(&id).ok_or_else(|| refuse(&f, "is not configured for this municipality"))?;
            d.enabled = form.checked("enabled");
            d.fee_yen = integer(form, "fee_yen", &format!("{f}.fee_yen"))?;
            d.max_copies = integer(form, "max_copies", &format!("{f}.max_copies"))?;
            // Known options keep the document's own order; an unknown one is the validator's to name.
            let chosen = form.all("option");
            let mut options: Vec<String> =
                kind.known_options().iter().filter(|o| chosen.iter().any(|c| c == *o)).map(|o| o.to_string()).collect();
            options.extend(chosen.into_iter().filter(|o| !kind.known_options().contains(&o.as_str())));
            d.options = options;
            let (open, close) = (form.text("open"), form.text("close"));
            d.hours = match (open.is_empty(), close.is_empty()) {
                (true, true) => None,
                _ => Some(Hours { open, close }),
            };
            d.weekdays_only = form.checked("weekdays_only");
            if kind == DocumentKind::Kazei {
                d.years = Some(integer(form, "years", &format!("{f}.years"))?);
            }
        }
        "hours" => c.service_hours = Hours { open: form.text("open"), close: form.text("close") },
        "closed_add" => c.closed_days.push(ClosedDays {
            from: form.text("from"),
            to: optional(form.text("to")),
            reason: form.text("reason"),
        }),
        "closed_remove" => {
            let i = index(form, c.closed_days.len(), "closed_days")?;
            c.closed_days.remove(i);
        }
        "notice_add" => c.notices.push(Notice {
            text: form.text("text"),
            from: optional(form.text("from")),
            until: optional(form.text("until")),
        }),
        "notice_remove" => {
            let i = index(form, c.notices.len(), "notices")?;
            c.notices.remove(i);
        }
        "issuer" => {
            c.issuer_title = form.text("issuer_title");
            c.issuer_name = form.text("issuer_name");
        }
        "seal_remove" => c.seal_png = None,
        other => return Err(refuse("change", format!("unknown change {other:?}"))),
    }
    Ok(c)
}

/// One changed value: where, before and after (as shown to the administrator).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    pub path: String,
    pub label: String,
    pub before: String,
    pub after: String,
}

/// Every leaf that differs between two configurations, in a stable order.
pub fn diff(old: &MunicipalityConfig, new: &MunicipalityConfig) -> Vec<Difference> {
    let (a, b) = (serde_json::to_value(old).expect("serialises"), serde_json::to_value(new).expect("serialises"));
    let mut out = Vec::new();
    walk("", Some(&a), Some(&b), &mut out);
    out
}

fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Difference>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                walk(&join(path, k), x.get(k), y.get(k), out);
            }
        }
        // A list of plain values (options) is one value; a list of records (closed days,
        // notices) shows the records removed and added, as the clerk removed and added them
        // (removing the first of two is not "the first changed, the second removed").
        (Some(Value::Array(x)), Some(Value::Array(y))) if x.iter().chain(y).any(|v| v.is_object()) => {
            for (i, v) in x.iter().enumerate().filter(|(_, v)| !y.contains(v)) {
                walk(&format!("{path}[{i}]"), Some(v), None, out);
            }
            for (i, v) in y.iter().enumerate().filter(|(_, v)| !x.contains(v)) {
                walk(&format!("{path}[{i}]"), None, Some(v), out);
            }
        }
        _ => {
            let record = |v: Option<&Value>| v.is_some_and(Value::is_object);
            out.push(Difference {
                path: path.to_string(),
                label: label(path),
                before: if a.is_none() && record(b) { "（追加 added）".into() } else { shown(path, a) },
                after: if b.is_none() && record(a) { "（削除 removed）".into() } else { shown(path, b) },
            })
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn shown(path: &str, v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) if path == "seal_png" => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD.decode(s).unwrap_or_default();
            use sha2::Digest;
            let sha = hex::encode(sha2::Sha256::digest(&bytes));
            format!("PNG {} bytes, SHA-256 {}…", bytes.len(), &sha[..12])
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "はい yes".into(),
        Some(Value::Bool(false)) => "いいえ no".into(),
        Some(Value::Array(items)) if items.iter().all(|i| !i.is_object()) => {
            if items.is_empty() {
                "（なし none）".into()
            } else {
                items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
        // A record in the order a clerk reads it, each part named in Japanese.
        Some(Value::Object(o)) => ["text", "from", "to", "until", "reason", "open", "close"]
            .iter()
            .filter_map(|k| o.get(*k).filter(|v| !v.is_null() && *v != "").map(|v| (k, v)))
            .map(|(k, v)| {
                let name = match *k {
                    "text" => "本文",
                    "from" => "開始日",
                    "to" | "until" => "終了日",
                    "reason" => "理由",
                    "open" => "開始",
                    _ => "終了",
                };
                format!("{name}: {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
            })
            .collect::<Vec<_>>()
            .join(" / "),
        Some(v) => v.to_string(),
    }
}

/// A Japanese-first name for a configuration path.
pub fn label(path: &str) -> String {
    let leaf = |l: &str| -> &'static str {
        match l {
            "enabled" => "発行 Offered",
            "fee_yen" => "手数料（円） Fee (yen)",
            "max_copies" => "最大部数 Maximum copies",
            "options" => "オプション Options",
            "hours" => "受付時間 Hours",
            "open" => "開始 Opens",
            "close" => "終了 Closes",
            "weekdays_only" => "平日のみ Weekdays only",
            "years" => "年度数 Fiscal years",
            "from" => "開始日 From",
            "to" => "終了日 To",
            "until" => "終了日 Until",
            "reason" => "理由 Reason",
            "text" => "本文 Text",
            _ => "",
        }
    };
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["documents", doc, rest @ ..] => {
            let title = DocumentKind::parse(doc).map(|k| k.title()).unwrap_or(doc);
            let what = rest.iter().map(|r| leaf(r)).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
            format!("{title} {what}")
        }
        ["issuer_title"] => "証明者の職名 Issuer title".into(),
        ["issuer_name"] => "証明者の氏名 Issuer name".into(),
        ["seal_png"] => "公印 Seal".into(),
        ["documents"] => "証明書 Documents".into(),
        ["closed_days"] => "休止日 Closed days".into(),
        ["notices"] => "お知らせ Notices".into(),
        ["service_hours", rest @ ..] => {
            format!("サービス時間 Service hours {}", rest.iter().map(|r| leaf(r)).collect::<Vec<_>>().join(" "))
        }
        [first, rest @ ..] if first.starts_with("closed_days") => {
            format!(
                "休止日 Closed days {} {}",
                &first["closed_days".len()..],
                rest.iter().map(|r| leaf(r)).collect::<Vec<_>>().join(" ")
            )
        }
        [first, rest @ ..] if first.starts_with("notices") => {
            format!(
                "お知らせ Notices {} {}",
                &first["notices".len()..],
                rest.iter().map(|r| leaf(r)).collect::<Vec<_>>().join(" ")
            )
        }
        _ => path.to_string(),
    }
    .trim()
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> MunicipalityConfig {
        MunicipalityConfig::standard("清瀬市長", "渋谷　金太郎")
    }

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn a_document_change_sets_every_field_and_the_diff_names_only_what_changed() {
        let old = config();
        let new = apply(
            &old,
            &form(&[
                ("change", "document"),
                ("document", "juminhyo"),
                ("enabled", "on"),
                ("fee_yen", "300"),
                ("max_copies", "10"),
                ("option", "honseki"),
                ("option", "setainushi"),
                ("option", "household"),
            ]),
        )
        .unwrap();
        let d = diff(&old, &new);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].path, "documents.juminhyo.fee_yen");
        assert_eq!((d[0].before.as_str(), d[0].after.as_str()), ("200", "300"));
        assert!(d[0].label.starts_with("住民票の写し"), "{}", d[0].label);
    }

    #[test]
    fn a_bad_value_is_refused_by_the_api_validation_naming_the_field() {
        let e = apply(
            &config(),
            &form(&[("change", "document"), ("document", "inkan"), ("fee_yen", "-5"), ("max_copies", "3")]),
        )
        .unwrap_err();
        assert_eq!(e.field, "documents.inkan.fee_yen");
        let e =
            apply(&config(), &form(&[("change", "document"), ("document", "inkan"), ("fee_yen", "abc")])).unwrap_err();
        assert_eq!(e.field, "documents.inkan.fee_yen");
        let e = apply(&config(), &form(&[("change", "hours"), ("open", "09:00"), ("close", "08:00")])).unwrap_err();
        assert_eq!(e.field, "service_hours.close");
        let e =
            apply(&config(), &form(&[("change", "notice_add"), ("text", "x"), ("from", "2026-02-30")])).unwrap_err();
        assert_eq!(e.field, "notices[0].from");
        let e = apply(&config(), &form(&[("change", "closed_remove"), ("index", "7")])).unwrap_err();
        assert_eq!(e.field, "closed_days");
        let e = apply(&config(), &form(&[("change", "unheard_of")])).unwrap_err();
        assert_eq!(e.field, "change");
    }

    #[test]
    fn closed_days_and_notices_are_added_and_removed_by_position() {
        let old = config();
        let added = apply(
            &old,
            &form(&[("change", "closed_add"), ("from", "2027-01-10"), ("to", ""), ("reason", "システム更新")]),
        )
        .unwrap();
        assert_eq!(
            added.closed_days[1],
            ClosedDays { from: "2027-01-10".into(), to: None, reason: "システム更新".into() }
        );
        let d = diff(&old, &added);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "closed_days[1]");
        assert_eq!(d[0].before, "（追加 added）");
        assert!(d[0].after.contains("2027-01-10") && d[0].after.contains("システム更新"), "{}", d[0].after);
        assert_eq!(d[0].after, "開始日: 2027-01-10 / 理由: システム更新");
        let removed = apply(&added, &form(&[("change", "closed_remove"), ("index", "0")])).unwrap();
        assert_eq!(removed.closed_days.len(), 1);
        assert_eq!(removed.closed_days[0].from, "2027-01-10");
        // Removing the first of two is shown as that one removed, not as the first one changed.
        let d = diff(&added, &removed);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].path, "closed_days[0]");
        assert_eq!(
            (d[0].before.as_str(), d[0].after.as_str()),
            ("開始日: 12-29 / 終了日: 01-03 / 理由: 年末年始", "（削除 removed）")
        );
        let n = apply(
            &old,
            &form(&[
                ("change", "notice_add"),
                ("text", "<b>停止</b>"),
                ("from", "2027-01-01"),
                ("until", "2027-01-31"),
            ]),
        )
        .unwrap();
        assert_eq!(n.notices[0].text, "<b>停止</b>", "stored as typed; escaped when shown");
        assert!(apply(&n, &form(&[("change", "notice_remove"), ("index", "0")])).unwrap().notices.is_empty());
    }

    #[test]
    fn a_seal_is_shown_as_its_size_and_hash_never_as_base64() {
        use base64::Engine;
        let old = config();
        let mut new = old.clone();
        new.seal_png = Some(base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\nrest"));
        let d = diff(&old, &new);
        assert_eq!(d[0].before, "—");
        assert!(d[0].after.starts_with("PNG 12 bytes, SHA-256 "), "{}", d[0].after);
    }
}
