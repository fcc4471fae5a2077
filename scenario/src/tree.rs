//! TOML as a tree that keeps the position of every key, so that every error the parser finds
//! can name its line, and helpers that read typed values from it.

use super::*;
/// A TOML value; tables keep their keys in file order with their byte offsets.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Str(String),
    Int(i64),
    Float,
    Bool(bool),
    Array(Vec<Node>),
    Table(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) key: String,
    pub(super) offset: usize,
    pub(super) value: Node,
}

impl Node {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Node::Str(_) => "a string",
            Node::Int(_) => "an integer",
            Node::Float => "a float",
            Node::Bool(_) => "a boolean",
            Node::Array(_) => "an array",
            Node::Table(_) => "a table",
        }
    }
}

const DATETIME_HINT: &str =
    "a TOML date-time: write it as a quoted string, e.g. start_at = \"2026-11-24T23:30:00+09:00\"";

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v).map(Node::Int).map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Float)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        // Keys of tables carry their span; the only map whose key does not is toml's private
        // encoding of a date-time, which a scenario writes as a string instead.
        while let Some(key) = map.next_key::<toml::Spanned<String>>().map_err(|_| de::Error::custom(DATETIME_HINT))? {
            let value = map.next_value()?;
            let offset = key.span().start;
            entries.push(Entry { key: key.into_inner(), offset, value });
        }
        Ok(Node::Table(entries))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// The text being parsed, for turning offsets into lines.
pub(super) struct Src<'a> {
    pub(super) text: &'a str,
    /// Lines of `[[step]]` headers, in order.
    pub(super) step_headers: Vec<usize>,
}

impl Src<'_> {
    pub(super) fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }
}

pub(super) fn step_headers(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let compact: String = l.chars().take_while(|c| *c != '#').filter(|c| !c.is_whitespace()).collect();
            compact == "[[step]]"
        })
        .map(|(i, _)| i + 1)
        .collect()
}

pub(super) fn invalid(line: usize, key: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError::new(ErrorKind::Invalid, message).at(line, key)
}

pub(super) fn unknown_key(line: usize, key: &str, known: &[&str]) -> ScenarioError {
    invalid(line, key, format!("unknown key (known here: {})", known.join(", ")))
}

pub(super) fn expected(line: usize, key: &str, what: &str, found: &Node) -> ScenarioError {
    invalid(line, key, format!("expected {what}, found {}", found.kind()))
}

pub(super) fn string<'a>(v: &'a Node, line: usize, key: &str) -> Result<&'a str, ScenarioError> {
    match v {
        Node::Str(s) => Ok(s),
        other => Err(expected(line, key, "a string", other)),
    }
}

pub(super) fn integer(v: &Node, line: usize, key: &str) -> Result<i64, ScenarioError> {
    match v {
        Node::Int(i) => Ok(*i),
        other => Err(expected(line, key, "an integer", other)),
    }
}

pub(super) fn boolean(v: &Node, line: usize, key: &str) -> Result<bool, ScenarioError> {
    match v {
        Node::Bool(b) => Ok(*b),
        other => Err(expected(line, key, "true or false", other)),
    }
}

pub(super) fn ranged<T: TryFrom<i64>>(v: &Node, line: usize, key: &str, lo: i64, hi: i64) -> Result<T, ScenarioError> {
    let i = integer(v, line, key)?;
    if i < lo || i > hi {
        return Err(invalid(line, key, format!("{i} is outside {lo}..={hi}")));
    }
    T::try_from(i).map_err(|_| invalid(line, key, format!("{i} is out of range")))
}

pub(super) fn duration(v: &Node, line: usize, key: &str) -> Result<Duration, ScenarioError> {
    let s = string(v, line, key)?;
    match madoguchi_session::parse_duration(s) {
        Some(d) if !d.is_zero() => Ok(d),
        Some(_) => Err(invalid(line, key, "a duration must be longer than 0")),
        None => Err(invalid(line, key, format!("{s:?} is not a duration (write e.g. \"130s\", \"2m\", \"500ms\")"))),
    }
}

pub(super) fn template(v: &Node, line: usize, key: &str, named: Named) -> Result<Template, ScenarioError> {
    let s = string(v, line, key)?;
    let t = Template::new(s).map_err(|e| e.at(line, key))?;
    for role in [Role::Other, Role::Member] {
        if t.uses(role) && !named.has(role) {
            let r = role.key();
            return Err(invalid(line, key, format!("`{{{r}.…}}` needs a `{r} = \"…\"` at the top of the file")));
        }
    }
    Ok(t)
}

pub(super) fn screen_id(v: &Node, line: usize, key: &str) -> Result<String, ScenarioError> {
    let s = string(v, line, key)?;
    let later = SCREEN_PREFIXES.iter().any(|p| s.len() > p.len() && s.starts_with(p));
    // The screen ids a scenario may name are the view model's one list; later flows add
    // `pin-reset-*` and `operator-*` screens.
    if Screen::from_id(s).is_some() || later {
        Ok(s.to_string())
    } else {
        Err(invalid(line, key, format!("no screen `{s}` (screens: {})", Screen::ALL.map(Screen::id).join(", "))))
    }
}
