//! Group commit: the batch every durable write (and every SQLite write) joins, its commit and
//! the wait until it is on disk, and SQLite's background checkpoint.

use super::conns::{Connector, OwnConn};
use futures_core::future::BoxFuture;
use sqlx::Row;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A write transaction: a member of the instance's current batch (see [`Batcher`]) on SQLite
/// for every write and on PostgreSQL for the durable ones, otherwise a transaction of its own.
pub struct WriteTx {
    pub(super) inner: Option<Inner>,
}

pub(super) enum Inner {
    /// A savepoint inside the batch's transaction; holds the batch (and with it the write gate)
    /// until `commit`, `rollback` or drop.
    Member { slot: tokio::sync::OwnedMutexGuard<Slot>, batcher: std::sync::Arc<Batcher> },
    /// PostgreSQL's ordinary writes: a transaction of its own on the pool.
    Own(sqlx::Transaction<'static, sqlx::Any>),
    /// PostgreSQL's single-statement writes: one of the instance's own connections
    /// ([`OwnConns`]) in autocommit.
    Conn(OwnConn),
}

impl WriteTx {
    /// Commits. A batch member's changes are on disk (SQLite) or committed (PostgreSQL) when this
    /// returns `Ok`, together with the other members of its batch.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        match self.inner.take().expect("open") {
            Inner::Own(tx) => tx.commit().await,
            Inner::Conn(c) => {
                c.release();
                Ok(())
            }
            Inner::Member { mut slot, batcher } => {
                slot.release_member();
                let (tx, rx) = tokio::sync::oneshot::channel();
                slot.waiters.push(tx);
                if batcher.queued.load(Ordering::SeqCst) == 0
                    || slot.waiters.len() >= MAX_BATCH
                    || slot.opened.elapsed() >= MAX_BATCH_AGE
                {
                    slot.finish().await;
                }
                // Otherwise whoever holds the gate next finishes the batch (or adds to it); the
                // flusher's tick makes sure of it even if that one is cancelled.
                drop(slot);
                match rx.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(BatchFailure::NotCommitted(e))) => Err(sqlx::Error::Io(std::io::Error::other(e))),
                    Ok(Err(BatchFailure::Unconfirmed(e))) => {
                        Err(sqlx::Error::Io(std::io::Error::other(CommitUnconfirmed(e))))
                    }
                    Err(_) => Err(sqlx::Error::Io(std::io::Error::other("the batch was abandoned"))),
                }
            }
        }
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        match self.inner.take().expect("open") {
            Inner::Own(tx) => tx.rollback().await,
            Inner::Conn(_) => Ok(()),
            Inner::Member { mut slot, batcher } => {
                slot.pending_rollback = true;
                slot.settle().await;
                if batcher.queued.load(Ordering::SeqCst) == 0 {
                    slot.finish().await;
                }
                drop(slot);
                batcher.notify.notify_one();
                Ok(())
            }
        }
    }

    /// In a batch: the audit chain's head as the batch has it, read (and on PostgreSQL locked)
    /// on first use. `None` outside a batch.
    pub(crate) async fn batch_audit_head(&mut self) -> Result<Option<(i64, String)>, sqlx::Error> {
        let Some(Inner::Member { slot, .. }) = &mut self.inner else { return Ok(None) };
        if slot.head.is_none() {
            let postgres = slot.postgres;
            let conn = slot.conn.as_mut().expect("open batch");
            slot.head = Some(crate::audit::batch_head(conn, postgres).await?);
        }
        Ok(slot.head.clone())
    }

    /// In a batch: keeps the audit record to be chained at the batch's commit (see
    /// `audit::append`) and says so. Outside one it is appended at once.
    pub(crate) fn defer_audit(&mut self, at: i64, entry: &crate::audit::Entry) -> bool {
        match &mut self.inner {
            Some(Inner::Member { slot, .. }) => {
                slot.deferred.push((at, entry.clone()));
                true
            }
            _ => false,
        }
    }

    /// Records the head after an append in a batch; written to `audit_head` once, at commit.
    pub(crate) fn set_batch_audit_head(&mut self, seq: i64, hash: String) {
        if let Some(Inner::Member { slot, .. }) = &mut self.inner {
            slot.head = Some((seq, hash));
            slot.head_dirty = true;
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(Inner::Member { mut slot, batcher }) = self.inner.take() {
            // Left without commit: its savepoint is rolled back before the batch goes on.
            slot.pending_rollback = true;
            drop(slot);
            if batcher.queued.load(Ordering::SeqCst) == 0 {
                batcher.notify.notify_one();
            }
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        match self.inner.as_ref().expect("open") {
            Inner::Own(tx) => tx,
            Inner::Conn(c) => c,
            Inner::Member { slot, .. } => slot.conn.as_ref().expect("open batch"),
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self.inner.as_mut().expect("open") {
            Inner::Own(tx) => tx,
            Inner::Conn(c) => c,
            Inner::Member { slot, .. } => slot.conn.as_mut().expect("open batch"),
        }
    }
}

/// Most members in one batch, and its longest life, before it commits even under load.
pub(super) const MAX_BATCH: usize = 64;
pub(super) const MAX_BATCH_AGE: Duration = Duration::from_millis(25);

/// Group commit. Every write transaction on SQLite, and every durable one on PostgreSQL, is a
/// savepoint in one shared transaction (the batch) on one connection; the batch commits when
/// nobody else waits to join it (at once when the service is quiet), after [`MAX_BATCH`]
/// members or [`MAX_BATCH_AGE`]. A member's `commit` returns only after the batch's commit, so
/// nothing is acknowledged before it is durable; a member that fails or is dropped is rolled
/// back to its savepoint without touching the others. One fsync (SQLite) or WAL flush
/// (PostgreSQL) and one update of the audit chain's head serve the whole batch, and the head is
/// held (SQLite's write lock, PostgreSQL's row lock) only once per batch. On SQLite the batch's
/// gate is also the process's write gate: writers queue in the process (FIFO, no sleeping)
/// instead of backing off on a locked database.
pub(super) struct Batcher {
    pub(super) slot: std::sync::Arc<tokio::sync::Mutex<Slot>>,
    /// Tasks waiting for the gate: while there are any, a member leaves the batch open for them.
    pub(super) queued: AtomicUsize,
    /// Wakes the flusher (a batch may be left open with nobody queued).
    pub(super) notify: tokio::sync::Notify,
    /// How far the durable SQLite batches are committed and synced (see [`Slot::finish`]).
    pub(super) mark: std::sync::Arc<SyncMark>,
}

/// Durable SQLite batches numbered as they commit, and the highest one whose log sync is done.
/// A sync covers every frame written before it, so when batch `k`'s is done so are all before it,
/// whichever sync finished first: `synced` only goes up.
pub(super) struct SyncMark {
    pub(super) committed: std::sync::atomic::AtomicU64,
    pub(super) synced: tokio::sync::watch::Sender<u64>,
}

pub(super) struct Slot {
    connector: std::sync::Arc<Connector>,
    postgres: bool,
    /// The batches' own connection, kept from one batch to the next (none yet, or dropped after
    /// a failure and opened again by the next batch).
    conn: Option<sqlx::AnyConnection>,
    /// Whether a batch's transaction is open on `conn`.
    open: bool,
    /// SQLite: the database file's path (found when `conn` opens; `None` in memory), whose
    /// write-ahead log is synced after a durable batch's commit (see [`Slot::finish`]).
    db_file: Option<std::path::PathBuf>,
    /// Where the durable batches' commits and syncs stand.
    mark: std::sync::Arc<SyncMark>,
    durable: bool,
    opened: std::time::Instant,
    waiters: Vec<tokio::sync::oneshot::Sender<Result<(), BatchFailure>>>,
    /// The audit head as this batch has it (`None`: not read yet), and whether it changed.
    head: Option<(i64, String)>,
    head_dirty: bool,
    /// PostgreSQL: the audit records of the batch's members, with their times, chained at commit.
    deferred: Vec<(i64, crate::audit::Entry)>,
    /// The same at the current member's savepoint, to restore on its rollback (the head, and how
    /// many deferred records there were).
    member_head: (Option<(i64, String)>, bool),
    member_deferred: usize,
    /// The last member left without committing: roll its savepoint back first.
    pending_rollback: bool,
    /// Whether the current member has a savepoint (a single statement needs none on SQLite: it
    /// is atomic by itself, as in autocommit).
    member_savepoint: bool,
    /// A committed member's savepoint is still open: released together with the next member's
    /// `SAVEPOINT` (one round trip instead of two), or by the batch's `COMMIT`.
    release_pending: bool,
}

impl Slot {
    /// Undoes a member that left without committing.
    pub(super) fn settle(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if !self.pending_rollback {
                return;
            }
            self.pending_rollback = false;
            (self.head, self.head_dirty) = self.member_head.clone();
            self.deferred.truncate(self.member_deferred);
            if !self.member_savepoint || !self.open {
                return;
            }
            let Some(conn) = self.conn.as_mut() else { return };
            if let Err(e) =
                sqlx::Executor::execute(&mut *conn, "ROLLBACK TO SAVEPOINT member; RELEASE SAVEPOINT member").await
            {
                log::warn!("batch: rolling a member back failed ({e}); the batch is abandoned");
                self.abort(format!("the batch failed: {e}")).await;
            }
        })
    }

    /// The current member committed: its savepoint stays open until the next member's begins or
    /// the batch commits (which commits open savepoints with it), so that releasing it costs no
    /// round trip of its own.
    pub(super) fn release_member(&mut self) {
        self.release_pending |= self.member_savepoint;
        self.member_savepoint = false;
    }

    /// Commits the open batch (rolls it back if no member committed) and tells its members.
    pub(super) fn finish(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.settle().await;
            if !self.open {
                return;
            }
            self.open = false;
            self.release_pending = false;
            let waiters = std::mem::take(&mut self.waiters);
            let known = self.head.take();
            let mut head = known.clone().filter(|_| self.head_dirty);
            self.head_dirty = false;
            let deferred = std::mem::take(&mut self.deferred);
            let Some(conn) = self.conn.as_mut() else { return };
            if waiters.is_empty() {
                self.end("ROLLBACK").await.ok();
                return;
            }
            let mut result = Ok(());
            if !deferred.is_empty() {
                match crate::audit::chain_deferred(conn, self.postgres, known, &deferred).await {
                    Ok(h) => head = Some(h),
                    Err(e) => result = Err(e),
                }
            }
            if let Some((seq, hash)) = head.filter(|_| result.is_ok()) {
                result = sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                    .bind(seq)
                    .bind(hash)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ());
            }
            // A durable SQLite batch takes its number before its commit makes it visible, so a
            // reader that saw it waits for its sync (`Db::wait_durable`).
            let sync = match (&self.db_file, self.durable && !self.postgres && result.is_ok()) {
                (Some(file), true) => Some((file.clone(), self.mark.committed.fetch_add(1, Ordering::SeqCst) + 1)),
                _ => None,
            };
            let result = match result {
                Ok(()) => self.end("COMMIT").await.map_err(|e| BatchFailure::NotCommitted(e.to_string())),
                Err(e) => {
                    self.end("ROLLBACK").await.ok();
                    Err(BatchFailure::NotCommitted(e.to_string()))
                }
            };
            if let Err(e) = &result {
                log::warn!("batch of {} writes failed to commit: {e}", waiters.len());
            }
            // SQLite commits at `sqlite_synchronous` (normal: the log is written, not synced). A
            // durable batch's members hear of their commit only once the log file is synced:
            // after the gate is given back, so the next batch runs its statements meanwhile
            // instead of waiting for the disk (the sync covers every frame written before it, so
            // batches may finish syncing in any order). A batch whose commit failed is synced all
            // the same, so that its number is passed and the batches before it count as synced.
            match sync {
                Some((file, k)) => {
                    let mark = self.mark.clone();
                    tokio::task::spawn_blocking(move || {
                        let synced = sync_log(&file);
                        match &synced {
                            Ok(()) => mark.synced.send_modify(|s| *s = (*s).max(k)),
                            Err(e) => log::error!("the log of a batch of {} writes did not sync: {e}", waiters.len()),
                        }
                        // Committed, but not known to be on disk: not "nothing was changed".
                        let answer = result.and(synced.map_err(BatchFailure::Unconfirmed));
                        for w in waiters {
                            let _ = w.send(answer.clone());
                        }
                    });
                }
                None => {
                    for w in waiters {
                        let _ = w.send(result.clone());
                    }
                }
            }
        })
    }

    /// Ends the open transaction with `COMMIT` or `ROLLBACK`. After a failure the connection is
    /// dropped (which rolls back whatever is left) and the next batch opens a new one.
    pub(super) async fn end(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        let r = sqlx::Executor::execute(&mut *conn, sql).await.map(|_| ());
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    pub(super) fn abort(&mut self, why: String) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.release_pending = false;
            if std::mem::take(&mut self.open) {
                self.end("ROLLBACK").await.ok();
            }
            self.head = None;
            self.head_dirty = false;
            self.deferred.clear();
            for w in std::mem::take(&mut self.waiters) {
                let _ = w.send(Err(BatchFailure::NotCommitted(why.clone())));
            }
        })
    }

    /// Opens a batch if none is open and starts a member in it (a durable member makes the batch
    /// durable).
    pub(super) fn begin_member(&mut self, durable: bool, savepoint: bool) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            self.settle().await;
            if !self.open {
                if let Err(e) = self.open_batch().await {
                    self.conn = None;
                    return Err(e);
                }
                self.open = true;
                self.durable = self.postgres;
                self.opened = std::time::Instant::now();
                self.head = None;
                self.head_dirty = false;
            }
            self.durable |= durable;
            self.member_head = (self.head.clone(), self.head_dirty);
            self.member_deferred = self.deferred.len();
            self.member_savepoint = savepoint;
            if !savepoint {
                return Ok(());
            }
            let sql = if std::mem::take(&mut self.release_pending) {
                "RELEASE SAVEPOINT member; SAVEPOINT member"
            } else {
                "SAVEPOINT member"
            };
            let conn = self.conn.as_mut().expect("open batch");
            if let Err(e) = sqlx::Executor::execute(&mut *conn, sql).await {
                self.abort(format!("the batch failed: {e}")).await;
                return Err(e);
            }
            Ok(())
        })
    }
}

impl Slot {
    /// Begins a batch's transaction on the batches' connection (opened first if there is none):
    /// on SQLite `BEGIN IMMEDIATE`, on PostgreSQL with `synchronous_commit` on.
    pub(super) async fn open_batch(&mut self) -> Result<(), sqlx::Error> {
        if self.conn.is_none() {
            let mut conn = self.connector.open().await?;
            if !self.postgres {
                let file: String = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(&mut conn)
                    .await?
                    .get(0);
                self.db_file = (!file.is_empty()).then(|| std::path::PathBuf::from(file));
            }
            self.conn = Some(conn);
        }
        let sql = if self.postgres { "BEGIN; SET LOCAL synchronous_commit TO on" } else { "BEGIN IMMEDIATE" };
        let conn = self.conn.as_mut().expect("just opened");
        sqlx::Executor::execute(&mut *conn, sql).await.map(|_| ())
    }
}

/// Why a batch member's commit failed, as its member hears it.
#[derive(Debug, Clone)]
pub(super) enum BatchFailure {
    /// The batch was rolled back (or never reached its commit): nothing of it is stored.
    NotCommitted(String),
    /// The batch committed, but syncing its log failed: it may or may not survive a power loss.
    Unconfirmed(String),
}

impl std::fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchFailure::NotCommitted(e) => write!(f, "not committed: {e}"),
            BatchFailure::Unconfirmed(e) => write!(f, "committed, not confirmed on disk: {e}"),
        }
    }
}

/// A commit that went through but whose sync to disk failed: the caller must not say "nothing
/// was changed" (see [`super::classify`]); a retry with the same idempotency key is answered
/// from what was recorded.
#[derive(Debug)]
pub struct CommitUnconfirmed(pub String);

impl std::fmt::Display for CommitUnconfirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "committed, but not confirmed on disk: {}", self.0)
    }
}

impl std::error::Error for CommitUnconfirmed {}

/// Syncs the write-ahead log of SQLite database `db` to disk (its data and size: `fdatasync`).
/// Opened by path each time, so it is the file SQLite writes now. Without a log (a file system
/// that refused WAL mode, where the commit wrote the database file itself) the database file.
pub(super) fn sync_log(db: &std::path::Path) -> Result<(), String> {
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    let file = match std::fs::File::open(&wal) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::File::open(db),
        other => other,
    };
    file.and_then(|f| f.sync_data()).map_err(|e| format!("{}: {e}", wal.display()))
}

/// Counts a task as waiting for the gate until it has it (or is cancelled).
pub(super) struct Queued<'a>(&'a Batcher, bool);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::SeqCst);
        if !self.1 {
            // Cancelled while waiting: someone may have left the batch open for it.
            self.0.notify.notify_one();
        }
    }
}

impl Batcher {
    pub(super) fn new(connector: std::sync::Arc<Connector>, postgres: bool) -> Batcher {
        let mark = std::sync::Arc::new(SyncMark {
            committed: std::sync::atomic::AtomicU64::new(0),
            synced: tokio::sync::watch::channel(0).0,
        });
        Batcher {
            mark: mark.clone(),
            slot: std::sync::Arc::new(tokio::sync::Mutex::new(Slot {
                connector,
                postgres,
                conn: None,
                open: false,
                db_file: None,
                mark,
                durable: false,
                opened: std::time::Instant::now(),
                waiters: Vec::new(),
                head: None,
                head_dirty: false,
                deferred: Vec::new(),
                member_head: (None, false),
                member_deferred: 0,
                pending_rollback: false,
                member_savepoint: false,
                release_pending: false,
            })),
            queued: AtomicUsize::new(0),
            notify: tokio::sync::Notify::new(),
        }
    }

    pub(super) async fn gate(&self) -> tokio::sync::OwnedMutexGuard<Slot> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut q = Queued(self, false);
        let g = self.slot.clone().lock_owned().await;
        q.1 = true;
        drop(q);
        g
    }

    /// Finishes batches left open with nobody to finish them (a member that committed while
    /// others queued and those were cancelled, a member dropped without commit).
    pub(super) async fn flusher(me: std::sync::Weak<Batcher>) {
        loop {
            let Some(b) = me.upgrade() else { return };
            let _ = tokio::time::timeout(MAX_BATCH_AGE, b.notify.notified()).await;
            if b.queued.load(Ordering::SeqCst) > 0 {
                continue;
            }
            if let Ok(mut slot) = b.slot.clone().try_lock_owned() {
                if slot.open || slot.pending_rollback {
                    slot.finish().await;
                }
            }
        }
    }
}

/// Held for a single-statement write outside a transaction on SQLite (see [`Db::write_gate`]).
pub struct WriteGate {
    pub(super) _slot: tokio::sync::OwnedMutexGuard<Slot>,
}

/// How often the WAL is copied back into the SQLite database file (see [`checkpointer`]).
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// The size the write-ahead log file is cut back to when SQLite starts it over (bytes).
pub(super) const WAL_SIZE_LIMIT: u64 = 32 << 20;

/// Copies SQLite's write-ahead log back into the database file, on a connection of its own, for
/// as long as the [`Db`] lives. Our connections turn SQLite's automatic checkpoint off: it runs
/// inside the `COMMIT` that crosses its threshold, so one batch in a few hundred carried the
/// copying and its fsync while every writer of the instance waited for it.
///
/// Each round first copies what it can without stopping anyone (passive: writers go on
/// appending meanwhile), then takes the write gate for a second, short pass over what was
/// appended during the first. With the log wholly copied when the next batch begins, SQLite
/// starts the log over from its beginning; without that moment, under steady load, it would only
/// ever grow. `journal_size_limit` then gives back the space a burst took. (SQLite also
/// checkpoints when the last connection to the file closes, so short-lived commands leave no log
/// behind.)
pub(super) async fn checkpointer(connector: std::sync::Arc<Connector>, batch: std::sync::Weak<Batcher>) {
    let mut conn: Option<sqlx::AnyConnection> = None;
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if batch.strong_count() == 0 {
            return;
        }
        if conn.is_none() {
            match connector.open().await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    log::warn!("checkpoint: cannot open a connection: {e}");
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("opened");
        let mut result = sqlx::Executor::execute(&mut *c, "PRAGMA wal_checkpoint(PASSIVE)").await;
        if result.is_ok() {
            let Some(b) = batch.upgrade() else { return };
            let mut slot = b.gate().await;
            slot.finish().await;
            result = sqlx::Executor::execute(&mut *c, "PRAGMA wal_checkpoint(PASSIVE)").await;
            drop(slot);
        }
        if let Err(e) = result {
            log::warn!("checkpoint failed ({e}); trying again with a new connection");
            conn = None;
        }
    }
}
