//! The money journal: every yen the cash unit takes in or gives out, appended as one JSON line
//! and fsynced before the kiosk goes on, so a crash or power cut between the coin in the slot
//! and the issuance request (or its refund) leaves a durable trace. At start-up the journal is
//! replayed into a [`MoneyReport`]: the operator sees every transaction whose money is not
//! accounted for (taken in, neither kept, paid back nor recorded as owed).
//!
//! Lines hold transaction references and amounts only: nothing of the resident.

use madoguchi_session::{CashFaultKind, PaymentCommand, PaymentEvent};
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
    /// The cash unit starts taking money for `reference` (`due` yen) on the store's `day`
    /// (Japan time, `YYYY-MM-DD`; absent in journals written before days were recorded): the
    /// operator's totals are today's.
    Collect {
        reference: String,
        due: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        day: Option<String>,
    },
    /// Money inserted so far in this collection (cumulative, as the unit reports it).
    Inserted { reference: String, total: u32 },
    /// The fee kept for a delivered document.
    Kept { reference: String, yen: u32 },
    /// Change or a refund the unit confirmed paying out.
    PaidOut { reference: String, yen: u32 },
    /// Money the kiosk could not give back (a fault, a payout that never came): staff settle it.
    Owed { reference: String, yen: u32 },
    /// Coins of unknown value went in (the unit lost events, or was reset mid-collection):
    /// `known_yen` is what the unit still knew it held, the rest only staff can count. The cash
    /// unit is out of service from here until a [`MoneyEntry::FaultCleared`].
    CoinsLost { reference: String, known_yen: u32 },
    /// Staff counted the cash box after [`MoneyEntry::CoinsLost`] and the unit serves again.
    FaultCleared { reference: String },
}

impl MoneyEntry {
    fn reference(&self) -> &str {
        match self {
            MoneyEntry::Collect { reference, .. }
            | MoneyEntry::Inserted { reference, .. }
            | MoneyEntry::Kept { reference, .. }
            | MoneyEntry::PaidOut { reference, .. }
            | MoneyEntry::Owed { reference, .. }
            | MoneyEntry::CoinsLost { reference, .. }
            | MoneyEntry::FaultCleared { reference } => reference,
            MoneyEntry::OperatorCount { .. } => "operator",
        }
    }
}

/// One transaction's money, as the journal tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionMoney {
    pub reference: String,
    /// The store's day (Japan time) the collection started, when the journal says.
    pub day: Option<String>,
    pub due: u32,
    pub inserted: u32,
    pub kept: u32,
    pub paid_out: u32,
    pub owed: u32,
    /// Coins of unknown value went in besides `inserted`: staff must count.
    pub unknown: bool,
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
    /// The transaction whose coins were lost, while staff have not cleared the fault: the cash
    /// unit stays out of service, also across a restart.
    pub open_fault: Option<String>,
}

impl MoneyReport {
    /// Transactions with money unaccounted for or of unknown value: what staff must look into.
    pub fn unsettled(&self) -> impl Iterator<Item = &TransactionMoney> {
        self.transactions.iter().filter(|t| t.unaccounted() > 0 || t.unknown)
    }

    /// The transactions of the store's `day` (`YYYY-MM-DD`, Japan time).
    pub fn on_day<'a>(&'a self, day: &'a str) -> impl Iterator<Item = &'a TransactionMoney> + 'a {
        self.transactions.iter().filter(move |t| t.day.as_deref() == Some(day))
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
        let mut open_fault = None;
        for e in entries {
            let r = e.reference().to_string();
            let t = by_ref.entry(r.clone()).or_insert_with(|| {
                order.push(r.clone());
                TransactionMoney { reference: r, ..Default::default() }
            });
            match e {
                MoneyEntry::Collect { due, day, .. } => {
                    t.due = due;
                    t.day = day;
                }
                MoneyEntry::Inserted { total, .. } => t.inserted = t.inserted.max(total),
                MoneyEntry::Kept { yen, .. } => t.kept += yen,
                MoneyEntry::PaidOut { yen, .. } => t.paid_out += yen,
                MoneyEntry::Owed { yen, .. } => t.owed += yen,
                MoneyEntry::OperatorCount { .. } => {}
                MoneyEntry::CoinsLost { reference, .. } => {
                    t.unknown = true;
                    open_fault = Some(reference);
                }
                MoneyEntry::FaultCleared { .. } => open_fault = None,
            }
        }
        let transactions =
            order.into_iter().filter_map(|r| by_ref.remove(&r)).filter(|t| t.inserted > 0 || t.unknown).collect();
        MoneyReport { transactions, unreadable_lines: 0, open_fault }
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

/// The kiosk's hand on the journal: the session's payment commands and the cash unit's reports
/// written down, each before the kiosk acts on it, under the transaction the unit collects for.
pub struct MoneyBook {
    journal: MoneyJournal,
    /// The transaction of the last `Collect` ("-" before the first).
    reference: String,
    /// The transaction whose coins were lost, until staff clear the fault.
    open_fault: Option<String>,
    /// The store's day (Japan time) by the kiosk's clock, written with each collection.
    day: Option<String>,
}

impl MoneyBook {
    /// Opens the journal at `path`; what it held, for the operator.
    pub fn open(path: &Path) -> io::Result<(MoneyBook, MoneyReport)> {
        let (journal, report) = MoneyJournal::open(path)?;
        let open_fault = report.open_fault.clone();
        Ok((MoneyBook { journal, reference: "-".into(), open_fault, day: None }, report))
    }

    /// The store's day (`YYYY-MM-DD`, Japan time) by the kiosk's clock, for the collections
    /// from now on.
    pub fn set_day(&mut self, day: &str) {
        if self.day.as_deref() != Some(day) {
            self.day = Some(day.to_string());
        }
    }

    /// The transaction the cash unit collects for.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The transaction whose coins were lost, while the fault is not cleared.
    pub fn open_fault(&self) -> Option<&str> {
        self.open_fault.as_deref()
    }

    /// A command the session gives the cash unit.
    pub fn command(&mut self, command: &PaymentCommand) {
        match command {
            PaymentCommand::Collect { reference, due_yen } => {
                self.reference = reference.clone();
                let day = self.day.clone();
                self.write(MoneyEntry::Collect { reference: reference.clone(), due: *due_yen, day });
            }
            PaymentCommand::Keep { yen } => {
                self.write(MoneyEntry::Kept { reference: self.reference.clone(), yen: *yen })
            }
            PaymentCommand::GiveChange { .. } | PaymentCommand::Refund { .. } | PaymentCommand::StopAccepting => {}
        }
    }

    /// What the cash unit reported.
    pub fn event(&mut self, event: &PaymentEvent) {
        let reference = self.reference.clone();
        match event {
            PaymentEvent::Inserted { total_yen } => self.write(MoneyEntry::Inserted { reference, total: *total_yen }),
            PaymentEvent::PaidOut { yen } => self.write(MoneyEntry::PaidOut { reference, yen: *yen }),
            PaymentEvent::Fault { kind, yen_not_returned } => {
                if *kind == CashFaultKind::CoinsLost {
                    log::error!(
                        "cash unit: coins of unknown value went in during transaction {reference} ({yen_not_returned} yen known): \
                         out of service until staff count the cash box against {} and clear the fault",
                        self.journal.path().display()
                    );
                    self.write(MoneyEntry::CoinsLost { reference: reference.clone(), known_yen: *yen_not_returned });
                    self.open_fault = Some(reference.clone());
                }
                if *yen_not_returned > 0 {
                    self.write(MoneyEntry::Owed { reference, yen: *yen_not_returned });
                }
            }
            // The unit serves again after a fault that staff cleared.
            PaymentEvent::Ready(true) => {
                if let Some(reference) = self.open_fault.take() {
                    log::warn!("cash unit: the fault of transaction {reference} was cleared; in service again");
                    self.write(MoneyEntry::FaultCleared { reference });
                }
            }
            PaymentEvent::Ready(false) => {}
        }
    }

    /// Money the unit never confirmed paying out (a payout that timed out).
    pub fn owed(&mut self, reference: Option<&str>, yen: u32) {
        let reference = reference.unwrap_or(&self.reference).to_string();
        self.write(MoneyEntry::Owed { reference, yen });
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        self.journal.path()
    }

    /// Appends an entry. A journal that cannot be written is an error for the operator (the cash
    /// unit's own counters remain).
    pub fn write(&mut self, entry: MoneyEntry) {
        if let Err(e) = self.journal.append(&entry) {
            log::error!("money journal {}: cannot be written: {e}", self.journal.path().display());
        }
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
            j.append(&MoneyEntry::Collect { reference: r("T-A"), due: 300, day: None }).unwrap();
            j.append(&MoneyEntry::Inserted { reference: r("T-A"), total: 500 }).unwrap();
            j.append(&MoneyEntry::Kept { reference: r("T-A"), yen: 300 }).unwrap();
            j.append(&MoneyEntry::PaidOut { reference: r("T-A"), yen: 200 }).unwrap();
            // Money in, then the kiosk dies before the issuance request.
            j.append(&MoneyEntry::Collect { reference: r("T-B"), due: 200, day: None }).unwrap();
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
    fn collections_carry_the_store_day_so_totals_can_be_todays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("money-journal.jsonl");
        {
            let (mut book, _) = MoneyBook::open(&path).unwrap();
            book.set_day("2026-12-02");
            book.command(&PaymentCommand::Collect { reference: r("T-Y"), due_yen: 200 });
            book.event(&PaymentEvent::Inserted { total_yen: 200 });
            book.command(&PaymentCommand::Keep { yen: 200 });
            book.set_day("2026-12-03");
            book.command(&PaymentCommand::Collect { reference: r("T-T"), due_yen: 300 });
            book.event(&PaymentEvent::Inserted { total_yen: 300 });
            book.command(&PaymentCommand::Keep { yen: 300 });
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"day\":\"2026-12-03\""), "{text}");
        let report = replay(&path).unwrap();
        let today: Vec<&str> = report.on_day("2026-12-03").map(|t| t.reference.as_str()).collect();
        assert_eq!(today, ["T-T"]);
        // A line from before days were written still reads, on no day.
        let old = MoneyReport::from_entries([
            serde_json::from_str::<MoneyEntry>("{\"kind\":\"collect\",\"reference\":\"T-O\",\"due\":200}").unwrap(),
            MoneyEntry::Inserted { reference: r("T-O"), total: 200 },
        ]);
        assert_eq!((old.transactions.len(), old.on_day("2026-12-03").count()), (1, 0));
    }

    #[test]
    fn owed_money_is_accounted_and_a_collection_without_coins_is_no_transaction() {
        let report = MoneyReport::from_entries([
            MoneyEntry::Collect { reference: r("T-C"), due: 200, day: None },
            MoneyEntry::Inserted { reference: r("T-C"), total: 200 },
            MoneyEntry::Owed { reference: r("T-C"), yen: 200 },
            MoneyEntry::Collect { reference: r("T-D"), due: 200, day: None },
        ]);
        assert_eq!(report.transactions.len(), 1);
        assert_eq!(report.unsettled().count(), 0, "owed is recorded for staff, not lost");
        assert_eq!(report.totals().owed, 200);
    }

    #[test]
    fn lost_coins_keep_the_fault_open_across_a_restart_until_the_unit_serves_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("money-journal.jsonl");
        {
            let (mut book, _) = MoneyBook::open(&path).unwrap();
            book.command(&PaymentCommand::Collect { reference: r("T-E"), due_yen: 1000 });
            book.event(&PaymentEvent::Inserted { total_yen: 500 });
            book.event(&PaymentEvent::Ready(true));
            book.event(&PaymentEvent::Fault { kind: CashFaultKind::CoinsLost, yen_not_returned: 500 });
            assert_eq!(book.open_fault(), Some("T-E"));
        }
        let (mut book, report) = MoneyBook::open(&path).unwrap();
        assert_eq!(report.open_fault.as_deref(), Some("T-E"), "still out of service after a restart");
        let t = report.unsettled().next().expect("the transaction needs a count");
        assert_eq!((t.inserted, t.owed, t.unaccounted(), t.unknown), (500, 500, 0, true));
        book.event(&PaymentEvent::Ready(false));
        assert_eq!(book.open_fault(), Some("T-E"));
        book.event(&PaymentEvent::Ready(true));
        drop(book);
        let report = replay(&path).unwrap();
        assert_eq!(report.open_fault, None);
        // A loss before any coin was known is a transaction too.
        let report = MoneyReport::from_entries([
            MoneyEntry::Collect { reference: r("T-F"), due: 300, day: None },
            MoneyEntry::CoinsLost { reference: r("T-F"), known_yen: 0 },
        ]);
        assert_eq!((report.unsettled().count(), report.open_fault.as_deref()), (1, Some("T-F")));
    }
}
