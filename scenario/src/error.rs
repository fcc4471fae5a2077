//! Scenario errors: what went wrong and where (`FILE:LINE: key `x`: message`), so a writer of
//! scenarios finds the line and a caller can act on the kind.

use super::*;
/// What went wrong, for a caller that acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// Not TOML.
    Syntax,
    /// TOML, but not a valid scenario (unknown key, bad value, missing key).
    Invalid,
    /// No scenario of that name or path.
    NotFound,
    /// The demo world does not have what the scenario asks for (or its manifest is unreadable).
    World,
}

/// An error with the place it was found: `FILE:LINE: key `x`: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub kind: ErrorKind,
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl ScenarioError {
    pub(super) fn new(kind: ErrorKind, message: impl Into<String>) -> ScenarioError {
        ScenarioError { kind, file: None, line: None, key: None, message: message.into() }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub(super) fn in_file(mut self, file: &Path) -> ScenarioError {
        self.file.get_or_insert_with(|| file.to_path_buf());
        self
    }

    pub(super) fn at(mut self, line: usize, key: &str) -> ScenarioError {
        self.line.get_or_insert(line);
        if self.key.is_none() && !key.is_empty() {
            self.key = Some(key.to_string());
        }
        self
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lead = false;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            lead = true;
        }
        if let Some(line) = self.line {
            write!(f, "{}{line}", if lead { ":" } else { "line " })?;
            lead = true;
        }
        if lead {
            f.write_str(": ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}
