//! Durable requests (outcomes and closes) and the outbox file that keeps them across crashes
//! and restarts: ids, the outcome and the kiosk's reason, nothing of the resident.

use super::replies::{error_reply, segment};
use madoguchi_api::client::Method;
use madoguchi_api::v1::{OutcomeKind, ResetOutcomeKind, ResetOutcomeRequest};
use madoguchi_api::{ErrorCode, ReplyCode};
use madoguchi_session::{BackendError, IssueOutcome, OpId, Refusal, Request};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The backend refuses longer outcome reasons (`invalid_field`), which would block the outbox.
pub(super) const MAX_REASON_CHARS: usize = 200;

/// One outbox line: ids, the outcome and the kiosk's reason, nothing of the resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum DurableRecord {
    Outcome {
        session_id: String,
        issuance_number: String,
        outcome: OutcomeKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// `refunded`: the cash paid back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refunded_yen: Option<i64>,
    },
    Close {
        session_id: String,
    },
    /// A PIN reset's outcome: `reset` uses the reservation up. Never the new value.
    ResetOutcome {
        session_id: String,
        outcome: ResetOutcomeKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

impl DurableRecord {
    pub(super) fn from_request(request: &Request) -> Option<DurableRecord> {
        match request {
            Request::Outcome { session_id, issuance_number, outcome } => {
                let (outcome, reason, refunded_yen) = match outcome {
                    IssueOutcome::Printed => (OutcomeKind::Printed, None, None),
                    IssueOutcome::Failed { reason } => (OutcomeKind::Failed, Some(clean_reason(reason)), None),
                    IssueOutcome::Printing => (OutcomeKind::Printing, None, None),
                    IssueOutcome::Refunded { yen } => (OutcomeKind::Refunded, None, Some(i64::from(*yen))),
                };
                Some(DurableRecord::Outcome {
                    session_id: session_id.clone(),
                    issuance_number: issuance_number.clone(),
                    outcome,
                    reason,
                    refunded_yen,
                })
            }
            Request::Close { session_id } => Some(DurableRecord::Close { session_id: session_id.clone() }),
            Request::ResetOutcome { session_id, reset, detail } => Some(DurableRecord::ResetOutcome {
                session_id: session_id.clone(),
                outcome: if *reset { ResetOutcomeKind::Reset } else { ResetOutcomeKind::NotReset },
                detail: detail.as_deref().map(clean_reason),
            }),
            _ => None,
        }
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            DurableRecord::Outcome { .. } => "outcome",
            DurableRecord::Close { .. } => "close",
            DurableRecord::ResetOutcome { .. } => "pin-reset outcome",
        }
    }

    pub(super) fn http(&self) -> (Method, String, Option<serde_json::Value>) {
        match self {
            DurableRecord::Outcome { session_id, issuance_number, outcome, reason, refunded_yen } => {
                let path =
                    format!("/v1/sessions/{}/issuances/{}/outcome", segment(session_id), segment(issuance_number));
                let body = match outcome {
                    OutcomeKind::Printed => serde_json::json!({"outcome": "printed"}),
                    OutcomeKind::Failed => serde_json::json!({"outcome": "failed", "reason": reason}),
                    OutcomeKind::Printing => serde_json::json!({"outcome": "printing"}),
                    OutcomeKind::Refunded => serde_json::json!({"outcome": "refunded", "refunded_yen": refunded_yen}),
                };
                (Method::POST, path, Some(body))
            }
            DurableRecord::Close { session_id } => {
                (Method::DELETE, format!("/v1/sessions/{}", segment(session_id)), None)
            }
            DurableRecord::ResetOutcome { session_id, outcome, detail } => {
                let path = format!("/v1/pin-reset/sessions/{}/outcome", segment(session_id));
                let body = serde_json::to_value(ResetOutcomeRequest { outcome: *outcome, detail: detail.clone() }).ok();
                (Method::POST, path, body)
            }
        }
    }
}

/// The backend takes 1 to 200 printable characters; anything else would be refused for good.
pub(super) fn clean_reason(reason: &str) -> String {
    let cleaned: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_REASON_CHARS).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "failed".into()
    } else {
        cleaned.to_string()
    }
}

/// What became of a durable request's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Done at the backend, now or before (or nothing is left to settle): remove it.
    Settled,
    /// Refused in a way no retry changes (a malformed request, another kiosk's session): remove it.
    Refused(BackendError),
    /// Not known to have arrived: keep it and try again later.
    Retry(BackendError),
}

pub(super) fn durable_verdict(status: u16, body: &[u8]) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Settled;
    }
    let code = match ReplyCode::of_body(body) {
        Some(ReplyCode::Known(code)) => Some(code),
        _ => None,
    };
    match code {
        // Already settled, or nothing there to settle (a close voided it, or it never existed).
        Some(
            ErrorCode::OutcomeAlreadyRecorded
            | ErrorCode::IssuanceVoided
            | ErrorCode::IssuanceNotFound
            | ErrorCode::SessionNotFound,
        ) => Verdict::Settled,
        Some(
            c @ (ErrorCode::SessionKioskMismatch
            | ErrorCode::InvalidField
            | ErrorCode::UnknownField
            | ErrorCode::MalformedJson
            | ErrorCode::PayloadTooLarge
            | ErrorCode::UnsupportedMediaType
            | ErrorCode::MethodNotAllowed
            | ErrorCode::Forbidden),
        ) => Verdict::Refused(BackendError::Refused(Refusal::from(c))),
        // Busy, credentials being fixed, a server error, or an answer not from the backend.
        _ => Verdict::Retry(error_reply(status, body)),
    }
}

pub(super) struct OutboxEntry {
    pub(super) id: u64,
    /// The session's op when submitted in this run (none for requests from an earlier run).
    pub(super) op: Option<OpId>,
    pub(super) record: DurableRecord,
}

/// The durable requests, in order, mirrored in a JSON-lines file. Appends are fsynced; removals
/// rewrite the file through a temporary file and a rename, so a crash leaves the old or the new
/// file, never half of one.
pub(super) struct Outbox {
    path: PathBuf,
    pub(super) entries: VecDeque<OutboxEntry>,
    next_id: u64,
}

impl Outbox {
    /// Opens (creating) the file; returns it and the number of unreadable lines dropped (a line
    /// torn by a crash during its append).
    pub(super) fn open(path: &Path) -> io::Result<(Outbox, usize)> {
        let created = !path.exists();
        let text = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut outbox = Outbox { path: path.to_path_buf(), entries: VecDeque::new(), next_id: 0 };
        let mut skipped = 0;
        for line in text.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
            match serde_json::from_slice::<DurableRecord>(line) {
                Ok(record) => outbox.enqueue(None, record),
                Err(_) => skipped += 1,
            }
        }
        if created || skipped > 0 || text.last().is_some_and(|b| *b != b'\n') {
            // A fresh file, or one to clean so that the next append starts on its own line.
            outbox.rewrite()?;
        }
        Ok((outbox, skipped))
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn enqueue(&mut self, op: Option<OpId>, record: DurableRecord) {
        self.entries.push_back(OutboxEntry { id: self.next_id, op, record });
        self.next_id += 1;
    }

    /// Appends and syncs. The request is queued even when the file cannot be written.
    pub(super) fn push(&mut self, op: Option<OpId>, record: DurableRecord) -> io::Result<()> {
        let mut line = serde_json::to_vec(&record).map_err(io::Error::other)?;
        line.push(b'\n');
        self.enqueue(op, record);
        let mut file = std::fs::OpenOptions::new().append(true).create(true).open(&self.path)?;
        file.write_all(&line)?;
        file.sync_data()
    }

    pub(super) fn head(&self) -> Option<(u64, Option<OpId>, DurableRecord)> {
        self.entries.front().map(|e| (e.id, e.op, e.record.clone()))
    }

    pub(super) fn remove(&mut self, id: u64) -> io::Result<()> {
        self.entries.retain(|e| e.id != id);
        self.rewrite()
    }

    fn rewrite(&self) -> io::Result<()> {
        let mut text = Vec::new();
        for e in &self.entries {
            serde_json::to_writer(&mut text, &e.record).map_err(io::Error::other)?;
            text.push(b'\n');
        }
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&text)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        // The rename itself must survive a power cut.
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::File::open(dir)?.sync_all()
    }
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox").field("path", &self.path).field("pending", &self.entries.len()).finish()
    }
}
