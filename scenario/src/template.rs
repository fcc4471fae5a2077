//! Templates: scenario texts with placeholders (`{pin}`, `{name}`, `{other.name}`, `{member.id}` …), checked
//! when the file is parsed and expanded only at run time, so secrets exist only in the zeroizing
//! strings [`Template::expand`] returns.

use super::*;
/// A text with placeholders (`{pin}`, `{name}`, `{other.name}` …; `{{` and `}}` for braces).
/// It holds the text as written; secrets appear only in what [`Template::expand`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

/// A field a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Id,
    Name,
    Kana,
    Pin,
    Password,
    PhonePin,
    PhonePassword,
}

impl Field {
    const ALL: [(&'static str, Field); 7] = [
        ("id", Field::Id),
        ("name", Field::Name),
        ("kana", Field::Kana),
        ("pin", Field::Pin),
        ("password", Field::Password),
        ("phone.pin", Field::PhonePin),
        ("phone.password", Field::PhonePassword),
    ];

    pub(super) fn secret(self) -> bool {
        matches!(self, Field::Pin | Field::Password | Field::PhonePin | Field::PhonePassword)
    }
}

pub(super) enum Piece<'a> {
    Text(&'a str),
    Field(Role, Field),
}

/// Splits a template into text and placeholders, or says what is wrong with it.
pub(super) fn pieces(raw: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let Some(i) = rest.find(['{', '}']) else {
            out.push(Piece::Text(rest));
            break;
        };
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push(Piece::Text(&tail[..1]));
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err("a lone `}` (write `}}` for a brace)".into());
        }
        let Some(end) = tail.find('}') else {
            return Err("a `{` without its `}` (write `{{` for a brace)".into());
        };
        let name = &tail[1..end];
        let (role, field_name) = match (name.strip_prefix("other."), name.strip_prefix("member.")) {
            (Some(f), _) => (Role::Other, f),
            (_, Some(f)) => (Role::Member, f),
            _ => (Role::Resident, name),
        };
        let Some(&(_, field)) = Field::ALL.iter().find(|(n, _)| *n == field_name) else {
            let known: Vec<String> = Field::ALL.iter().map(|(n, _)| format!("{{{n}}}")).collect();
            return Err(format!(
                "no placeholder `{{{name}}}` (there are {} and `{{other.…}}` and `{{member.…}}` of each)",
                known.join(" ")
            ));
        };
        out.push(Piece::Field(role, field));
        rest = &tail[end + 1..];
    }
    Ok(out)
}

impl Template {
    /// Checks the placeholders of `raw`.
    pub fn new(raw: &str) -> Result<Template, ScenarioError> {
        pieces(raw).map_err(|m| ScenarioError::new(ErrorKind::Invalid, m))?;
        Ok(Template(raw.to_string()))
    }

    /// The text as written, placeholders unexpanded (safe to show and log).
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// Whether a placeholder names this person.
    pub fn uses(&self, role: Role) -> bool {
        self.fields().iter().any(|(r, _)| *r == role)
    }

    pub(super) fn fields(&self) -> Vec<(Role, Field)> {
        pieces(&self.0)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| match p {
                Piece::Field(r, f) => Some((r, f)),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// The text with each placeholder filled from `cast`. The result wipes itself when dropped,
    /// and it is built in one allocation so no partial copy of a PIN is left behind.
    #[cfg(feature = "world")]
    pub fn expand(&self, cast: &Cast) -> Result<Zeroizing<String>, ScenarioError> {
        let parts = pieces(&self.0).map_err(|m| ScenarioError::new(ErrorKind::Invalid, m))?;
        let mut values: Vec<&str> = Vec::with_capacity(parts.len());
        for p in &parts {
            values.push(match p {
                Piece::Text(t) => t,
                Piece::Field(role, field) => cast.value(*role, *field)?,
            });
        }
        let mut out = Zeroizing::new(String::with_capacity(values.iter().map(|v| v.len()).sum()));
        for v in values {
            out.push_str(v);
        }
        Ok(out)
    }
}
