//! The money journal: every yen the cash unit takes in or gives out, appended as one JSON line
//! and fsynced before the kiosk goes on, so a crash or power cut between the coin in the slot
//! and the issuance request (or its refund) leaves a durable trace. At start-up the journal is
//! replayed into a [`MoneyReport`]: the operator sees every transaction whose money is not
//! accounted for (taken in, neither kept, paid back nor recorded as owed).
//!
//! Lines hold transaction references and amounts only: nothing of the resident.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MoneyEntry {
    /// The store operator counted money taken out (`collected`) or change put in, and what the
    /// cash unit's own counters said then (none: the unit could not say). No transaction's.
    OperatorCount { collected: bool, counted: u64, unit_says: Option<u64> },
    /// The cash unit starts taking money for `reference` (`due` yen).
    Collect { reference: String, due: u32 },
    /// Money inserted so far in this collection (cumulative, as the unit reports it).
    Inserted { reference: String, total: u32 },
    /// The fee kept for a delivered document.
    Kept { reference: String, yen: u32 },
    /// Change or a refund the unit confirmed paying out.
    PaidOut { reference: String, yen: u32 },
    /// Money the kiosk could not give back (a fault, a payout that never came): staff settle it.
    Owed { reference: String, yen: u32 },
}

impl MoneyEntry {
    fn reference(&self) -> &str {
        match self {
            MoneyEntry::Collect { reference, .. }
            | MoneyEntry::Inserted { reference, .. }
            | MoneyEntry::Kept { reference, .. }
            | MoneyEntry::PaidOut { reference, .. }
            | MoneyEntry::Owed { reference, .. } => reference,
            MoneyEntry::OperatorCount { .. } => "operator",
        }
    }
}

/// One transaction's money, as the journal tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionMoney {
    pub reference: String,
    pub due: u32,
    pub inserted: u32,
    pub kept: u32,
    pub paid_out: u32,
    pub owed: u32,
}

impl TransactionMoney {
    /// Money taken in that is neither kept, paid back nor recorded as owed.
    pub fn unaccounted(&self) -> u32 {
        self.inserted.saturating_sub(self.kept + self.paid_out + self.owed)
    }
}

/// What the journal says at start-up, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoneyReport {
    /// Every transaction that took money, oldest first.
    pub transactions: Vec<TransactionMoney>,
    /// Lines that could not be read (a torn last line after a power cut), skipped.
    pub unreadable_lines: usize,
}

impl MoneyReport {
    /// Transactions with money unaccounted for: what staff must look into.
    pub fn unsettled(&self) -> impl Iterator<Item = &TransactionMoney> {
        self.transactions.iter().filter(|t| t.unaccounted() > 0)
    }

    pub fn totals(&self) -> TransactionMoney {
        let mut t = TransactionMoney { reference: "total".into(), ..Default::default() };
        for x in &self.transactions {
            t.due += x.due;
            t.inserted += x.inserted;
            t.kept += x.kept;
            t.paid_out += x.paid_out;
            t.owed += x.owed;
        }
        t
    }

    /// Folds journal entries into the report.
    pub fn from_entries(entries: impl IntoIterator<Item = MoneyEntry>) -> MoneyReport {
        let mut order: Vec<String> = Vec::new();
        let mut by_ref: BTreeMap<String, TransactionMoney> = BTreeMap::new();
        for e in entries {
            let r = e.reference().to_string();
            let t = by_ref.entry(r.clone()).or_insert_with(|| {
                order.push(r.clone());
                TransactionMoney { reference: r, ..Default::default() }
            });
            match e {
                MoneyEntry::Collect { due, .. } => t.due = due,
                MoneyEntry::Inserted { total, .. } => t.inserted = t.inserted.max(total),
                MoneyEntry::Kept { yen, .. } => t.kept += yen,
                MoneyEntry::PaidOut { yen, .. } => t.paid_out += yen,
                MoneyEntry::Owed { yen, .. } => t.owed += yen,
                MoneyEntry::OperatorCount { .. } => {}
            }
        }
        let transactions = order.into_iter().filter_map(|r| by_ref.remove(&r)).filter(|t| t.inserted > 0).collect();
        MoneyReport { transactions, unreadable_lines: 0 }
    }
}

/// The journal file, open for appending.
pub struct MoneyJournal {
    path: PathBuf,
    file: File,
}

impl MoneyJournal {
    /// Opens (creating) the journal at `path` and replays what it holds.
    pub fn open(path: &Path) -> io::Result<(MoneyJournal, MoneyReport)> {
        let report = replay(path)?;
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok((MoneyJournal { path: path.to_path_buf(), file }, report))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry and waits until it is on disk.
    pub fn append(&mut self, entry: &MoneyEntry) -> io::Result<()> {
        let mut line = serde_json::to_string(entry).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }
}

/// Reads the journal at `path` (none yet: an empty report).
pub fn replay(path: &Path) -> io::Result<MoneyReport> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(MoneyReport::default()),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    let mut unreadable = 0;
    for line in BufReader::new(file).split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<MoneyEntry>(&line) {
            Ok(e) => entries.push(e),
            Err(_) => unreadable += 1,
        }
    }
    let mut report = MoneyReport::from_entries(entries);
    report.unreadable_lines = unreadable;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn money_taken_before_a_crash_is_reported_unsettled_after_the_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("money-journal.jsonl");
        {
            let (mut j, report) = MoneyJournal::open(&path).unwrap();
            assert_eq!(report, MoneyReport::default());
            // A delivered document: 500 in, 300 kept, 200 change.
            j.append(&MoneyEntry::Collect { reference: r("T-A"), due: 300 }).unwrap();
            j.append(&MoneyEntry::Inserted { reference: r("T-A"), total: 500 }).unwrap();
            j.append(&MoneyEntry::Kept { reference: r("T-A"), yen: 300 }).unwrap();
            j.append(&MoneyEntry::PaidOut { reference: r("T-A"), yen: 200 }).unwrap();
            // Money in, then the kiosk dies before the issuance request.
            j.append(&MoneyEntry::Collect { reference: r("T-B"), due: 200 }).unwrap();
            j.append(&MoneyEntry::Inserted { reference: r("T-B"), total: 100 }).unwrap();
            j.append(&MoneyEntry::Inserted { reference: r("T-B"), total: 200 }).unwrap();
        }
        // The power cut tore the last line.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"kind\":\"paid_o").unwrap();
        let (_, report) = MoneyJournal::open(&path).unwrap();
        assert_eq!(report.unreadable_lines, 1);
        assert_eq!(report.transactions.len(), 2);
        let unsettled: Vec<_> = report.unsettled().collect();
        assert_eq!(unsettled.len(), 1, "{report:?}");
        assert_eq!((unsettled[0].reference.as_str(), unsettled[0].unaccounted()), ("T-B", 200));
        let t = report.totals();
        assert_eq!((t.inserted, t.kept, t.paid_out), (700, 300, 200));
    }

    #[test]
    fn owed_money_is_accounted_and_a_collection_without_coins_is_no_transaction() {
        let report = MoneyReport::from_entries([
            MoneyEntry::Collect { reference: r("T-C"), due: 200 },
            MoneyEntry::Inserted { reference: r("T-C"), total: 200 },
            MoneyEntry::Owed { reference: r("T-C"), yen: 200 },
            MoneyEntry::Collect { reference: r("T-D"), due: 200 },
        ]);
        assert_eq!(report.transactions.len(), 1);
        assert_eq!(report.unsettled().count(), 0, "owed is recorded for staff, not lost");
        assert_eq!(report.totals().owed, 200);
    }
}
