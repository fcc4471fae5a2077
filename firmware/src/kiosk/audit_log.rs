//! The kiosk's audit.log: one line per record, each written through to the disk (`fsync`) before
//! the kiosk goes on, and chained, so that a line deleted, altered or moved is detected.
//!
//! Each line ends in ` chain=<64 hex>`, the SHA-256 of the previous line's chain value and the
//! line's text before the suffix; the first line chains from [`GENESIS`]. [`verify`] recomputes
//! the chain and names the first line that does not fit. A chain cannot tell a log cut short at
//! its end from one that ended there: the kiosk logs the head (lines and chain value) at each
//! start, so an operator compares [`verify`]'s head with the last one logged.

use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the first line chains from (a version tag: a log of another format never verifies).
pub const GENESIS: &[u8] = b"madoguchi kiosk audit.log v1";
const SUFFIX: &str = " chain=";

/// Where the chain holds so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Lines that verified.
    pub lines: usize,
    /// The last line's chain value (of [`GENESIS`] for an empty log).
    pub chain: [u8; 32],
}

impl Head {
    fn empty() -> Head {
        Head { lines: 0, chain: Sha256::digest(GENESIS).into() }
    }
}

/// Why a log does not verify: the first line (1-based) that breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The line has no chain value, or one that is not 64 hex digits.
    #[error("line {line}: no chain value")]
    Unchained { line: usize },
    /// The line's chain value is not the hash of the line before and its text: this line was
    /// altered, or a line before it was deleted, inserted or altered.
    #[error("line {line}: the chain breaks here (this line or one before it was altered, deleted or inserted)")]
    Broken { line: usize },
    /// The last line has no newline: a write was cut off (e.g. power lost mid-line).
    #[error("line {line}: cut off (no end of line)")]
    Truncated { line: usize },
    /// The file could not be read.
    #[error("reading the audit log: {0}")]
    Io(String),
}

impl ChainError {
    /// The line the chain breaks at (none for a file that could not be read).
    pub fn line(&self) -> Option<usize> {
        match self {
            ChainError::Unchained { line } | ChainError::Broken { line } | ChainError::Truncated { line } => {
                Some(*line)
            }
            ChainError::Io(_) => None,
        }
    }
}

fn link(prev: &[u8; 32], text: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(text.as_bytes());
    h.finalize().into()
}

/// Checks the chain of a whole log and returns its head.
pub fn verify(bytes: &[u8]) -> Result<Head, ChainError> {
    let mut head = Head::empty();
    let text = String::from_utf8_lossy(bytes);
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let line_no = head.lines + 1;
        let Some((line, after)) = rest.split_once('\n') else {
            return Err(ChainError::Truncated { line: line_no });
        };
        rest = after;
        let (body, chain) = line.rsplit_once(SUFFIX).ok_or(ChainError::Unchained { line: line_no })?;
        let mut value = [0u8; 32];
        hex::decode_to_slice(chain, &mut value).map_err(|_| ChainError::Unchained { line: line_no })?;
        if link(&head.chain, body) != value {
            return Err(ChainError::Broken { line: line_no });
        }
        head = Head { lines: line_no, chain: value };
    }
    Ok(head)
}

/// Reads and verifies the log at `path` (a missing file is an empty log).
pub fn verify_file(path: &Path) -> Result<Head, ChainError> {
    match std::fs::read(path) {
        Ok(b) => verify(&b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Head::empty()),
        Err(e) => Err(ChainError::Io(e.to_string())),
    }
}

/// The open log, appending chained lines.
pub struct AuditLog {
    file: File,
    path: PathBuf,
    head: Head,
}

impl AuditLog {
    /// Opens (or creates) the log and verifies what is there. A log that does not verify is
    /// not the kiosk's to repair: it stays as it is, the break is reported (and returned, for
    /// the operator's log), and new lines chain on from its last line with a first line that
    /// says where the chain broke, so everything written from now on verifies from there.
    pub fn open(path: &Path) -> std::io::Result<(AuditLog, Option<ChainError>)> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let bytes = std::fs::read(path)?;
        let (head, broken) = match verify(&bytes) {
            Ok(h) => (h, None),
            Err(e) => (Head { lines: 0, chain: last_chain(&bytes) }, Some(e)),
        };
        let mut log = AuditLog { file, path: path.to_owned(), head };
        if bytes.last().is_some_and(|&b| b != b'\n') {
            // A line cut off mid-write: end it, so the next line starts on its own.
            log.file.write_all(b"\n")?;
        }
        if let Some(e) = &broken {
            log.append(&format!("- - AuditChainBroken {{ at_start: {e:?} }}"))?;
        }
        Ok((log, broken))
    }

    /// Appends one line (`text` must hold no newline; one is replaced by a space) and waits until
    /// the disk has it.
    pub fn append(&mut self, text: &str) -> std::io::Result<()> {
        let text = text.replace(['\n', '\r'], " ");
        let chain = link(&self.head.chain, &text);
        let line = format!("{text}{SUFFIX}{}\n", hex::encode(chain));
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()?;
        self.head = Head { lines: self.head.lines + 1, chain };
        Ok(())
    }

    /// The chain so far (lines counted since this open when the log was broken).
    pub fn head(&self) -> Head {
        self.head
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The chain value of the last chained line of `bytes` (whatever came before), to go on from.
fn last_chain(bytes: &[u8]) -> [u8; 32] {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .rev()
        .find_map(|l| {
            let (_, c) = l.rsplit_once(SUFFIX)?;
            let mut v = [0u8; 32];
            hex::decode_to_slice(c, &mut v).ok().map(|()| v)
        })
        .unwrap_or_else(|| Head::empty().chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(lines: &[&str]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let (mut log, broken) = AuditLog::open(&path).unwrap();
        assert_eq!(broken, None);
        for l in lines {
            log.append(l).unwrap();
        }
        (dir, path)
    }

    const LINES: [&str; 4] = [
        "2026-12-02T10:00:00Z T1 SessionStarted",
        "2026-12-02T10:00:05Z T1 WrongPin { tries_left: 2 }",
        "2026-12-02T10:00:09Z T1 Authenticated { certificate_fingerprint: \"ab\" }",
        "2026-12-02T10:01:00Z T1 SessionEnded { code: None, charged_yen: 300, returned_yen: 0 }",
    ];

    #[test]
    fn a_written_log_verifies_and_survives_reopening() {
        let (_dir, path) = written(&LINES[..2]);
        let (mut log, broken) = AuditLog::open(&path).unwrap();
        assert_eq!(broken, None);
        assert_eq!(log.head().lines, 2, "the chain goes on from the lines already there");
        for l in &LINES[2..] {
            log.append(l).unwrap();
        }
        let head = verify_file(&path).unwrap();
        assert_eq!(head, log.head());
        assert_eq!(head.lines, 4);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().zip(LINES).all(|(l, want)| l.starts_with(want) && l.contains(" chain=")));
        assert_eq!(verify(b"").unwrap().lines, 0);
    }

    #[test]
    fn a_deleted_altered_inserted_or_moved_line_is_found() {
        let (_dir, path) = written(&LINES);
        let good = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = good.lines().collect();
        let join = |ls: Vec<&str>| ls.iter().map(|l| format!("{l}\n")).collect::<String>();

        let mut deleted = lines.clone();
        deleted.remove(1);
        assert_eq!(verify(join(deleted).as_bytes()), Err(ChainError::Broken { line: 2 }));
        let mut first_deleted = lines.clone();
        first_deleted.remove(0);
        assert_eq!(verify(join(first_deleted).as_bytes()), Err(ChainError::Broken { line: 1 }));

        let altered = good.replace("tries_left: 2", "tries_left: 3");
        assert_eq!(verify(altered.as_bytes()), Err(ChainError::Broken { line: 2 }));
        let charged = good.replace("charged_yen: 300", "charged_yen: 0");
        assert_eq!(verify(charged.as_bytes()), Err(ChainError::Broken { line: 4 }));

        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        assert_eq!(verify(join(swapped).as_bytes()), Err(ChainError::Broken { line: 2 }));

        let mut inserted = lines.clone();
        inserted.insert(3, lines[2]);
        assert_eq!(verify(join(inserted).as_bytes()), Err(ChainError::Broken { line: 4 }));

        let mut unchained = lines.clone();
        unchained.insert(2, "2026-12-02T10:00:07Z T1 PinBlocked");
        assert_eq!(verify(join(unchained).as_bytes()), Err(ChainError::Unchained { line: 3 }));

        let cut = &good[..good.len() - 10];
        assert_eq!(verify(cut.as_bytes()), Err(ChainError::Truncated { line: 4 }));
    }

    #[test]
    fn a_broken_log_is_kept_reported_and_chained_on_from() {
        let (_dir, path) = written(&LINES);
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, good.replace("tries_left: 2", "tries_left: 3")).unwrap();
        let (mut log, broken) = AuditLog::open(&path).unwrap();
        assert_eq!(broken.as_ref().and_then(ChainError::line), Some(2));
        log.append("2026-12-02T11:00:00Z T2 SessionStarted").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("tries_left: 3"), "the altered line is kept as evidence");
        assert!(text.contains("AuditChainBroken"));
        // From the break on, the lines written since still chain to one another.
        assert_eq!(verify_file(&path), Err(ChainError::Broken { line: 2 }));
        let after: Vec<&str> = text.lines().collect();
        let mut prev = [0u8; 32];
        hex::decode_to_slice(after[3].rsplit_once(SUFFIX).unwrap().1, &mut prev).unwrap();
        for l in &after[4..] {
            let (body, c) = l.rsplit_once(SUFFIX).unwrap();
            assert_eq!(hex::encode(link(&prev, body)), c);
            hex::decode_to_slice(c, &mut prev).unwrap();
        }
    }
}
