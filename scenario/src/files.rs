//! Finding and reading scenario files: a shipped one by name, or any file by path.

use super::*;
/// Reads and checks one scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let io = |e: std::io::Error| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound { ErrorKind::NotFound } else { ErrorKind::Io };
        ScenarioError::new(kind, format!("cannot read: {e}")).in_file(path)
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(
            ScenarioError::new(ErrorKind::Invalid, format!("{size} bytes: a scenario is at most 1 MiB")).in_file(path)
        );
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse(&text, path)
}

/// NAME (the file `NAME.toml` in `shipped_dir`, the shipped scenarios' directory) or a path to a
/// file (anything with a `/` or ending in `.toml`).
pub fn find(name_or_file: &str, shipped_dir: &Path) -> Result<PathBuf, ScenarioError> {
    let as_path = Path::new(name_or_file);
    if name_or_file.contains(std::path::MAIN_SEPARATOR) || name_or_file.contains('/') || name_or_file.ends_with(".toml")
    {
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        return Err(ScenarioError::new(ErrorKind::NotFound, "no such scenario file").in_file(as_path));
    }
    let valid = !name_or_file.is_empty()
        && name_or_file.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(ScenarioError::new(
            ErrorKind::NotFound,
            format!("`{name_or_file}` is neither a scenario name (a-z, 0-9, -) nor a .toml file"),
        ));
    }
    let path = shipped_dir.join(format!("{name_or_file}.toml"));
    if path.is_file() {
        return Ok(path);
    }
    let names = shipped(shipped_dir).unwrap_or_default();
    let names: Vec<String> =
        names.iter().filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned())).collect();
    Err(ScenarioError::new(
        ErrorKind::NotFound,
        format!("no scenario `{name_or_file}` in {} (there are: {})", shipped_dir.display(), names.join(", ")),
    ))
}

/// Every `*.toml` in `shipped_dir`, sorted by name.
pub fn shipped(shipped_dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let rd = std::fs::read_dir(shipped_dir)
        .map_err(|e| ScenarioError::new(ErrorKind::Io, format!("cannot list: {e}")).in_file(shipped_dir))?;
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    out.sort();
    Ok(out)
}
