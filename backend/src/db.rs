//! Storage: one code path for SQLite and PostgreSQL through sqlx's `Any` driver.
//!
//! The schema uses only types both understand (`BIGINT`, `TEXT`), `$n` placeholders (SQLite's
//! sqlx driver maps `$n` to the n-th argument), `ON CONFLICT` and `RETURNING`, so one set of
//! migrations serves both. Writes that read first run in a transaction opened with
//! `BEGIN IMMEDIATE` on SQLite (a deferred one fails with "database is locked" under
//! concurrency whatever the busy timeout) and plain `BEGIN` on PostgreSQL, where the audit chain's
//! head row lock serialises what must be serialised.

use crate::config::Config;
use crate::error::ApiError;
use futures_core::future::BoxFuture;
use madoguchi_api::ErrorCode;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

pub type Pool = AnyPool;

/// A write transaction: a member of the instance's current batch (see [`Batcher`]) on SQLite
/// for every write and on PostgreSQL for the durable ones, otherwise a transaction of its own.
pub struct WriteTx {
    inner: Option<Inner>,
}

enum Inner {
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
                if let Err(e) = slot.release_member().await {
                    slot.pending_rollback = true;
                    drop(slot);
                    batcher.notify.notify_one();
                    return Err(e);
                }
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
                    Ok(Err(e)) => Err(sqlx::Error::Io(std::io::Error::other(e))),
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
            let sql = if slot.postgres {
                "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
            } else {
                "SELECT seq, hash FROM audit_head WHERE id = 1"
            };
            let conn = slot.conn.as_mut().expect("open batch");
            let row = sqlx::query(sql).fetch_one(&mut *conn).await?;
            slot.head = Some((row.get(0), row.get(1)));
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
const MAX_BATCH: usize = 64;
const MAX_BATCH_AGE: Duration = Duration::from_millis(25);

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
pub(crate) struct Batcher {
    slot: std::sync::Arc<tokio::sync::Mutex<Slot>>,
    /// Tasks waiting for the gate: while there are any, a member leaves the batch open for them.
    queued: AtomicUsize,
    /// Wakes the flusher (a batch may be left open with nobody queued).
    notify: tokio::sync::Notify,
    /// How far the durable SQLite batches are committed and synced (see [`Slot::finish`]).
    mark: std::sync::Arc<SyncMark>,
}

/// Durable SQLite batches numbered as they commit, and the highest one whose log sync is done.
/// A sync covers every frame written before it, so when batch `k`'s is done so are all before it,
/// whichever sync finished first: `synced` only goes up.
pub(crate) struct SyncMark {
    committed: std::sync::atomic::AtomicU64,
    synced: tokio::sync::watch::Sender<u64>,
}

pub(crate) struct Slot {
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
    waiters: Vec<tokio::sync::oneshot::Sender<Result<(), String>>>,
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
}

impl Slot {
    /// Undoes a member that left without committing.
    fn settle(&mut self) -> BoxFuture<'_, ()> {
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

    fn release_member(&mut self) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            if !self.member_savepoint {
                return Ok(());
            }
            let conn = self.conn.as_mut().expect("open batch");
            sqlx::Executor::execute(&mut *conn, "RELEASE SAVEPOINT member").await?;
            Ok(())
        })
    }

    /// Commits the open batch (rolls it back if no member committed) and tells its members.
    fn finish(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.settle().await;
            if !self.open {
                return;
            }
            self.open = false;
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
                Ok(()) => self.end("COMMIT").await.map_err(|e| e.to_string()),
                Err(e) => {
                    self.end("ROLLBACK").await.ok();
                    Err(e.to_string())
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
                        let answer = result.and(synced);
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
    async fn end(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        let r = sqlx::Executor::execute(&mut *conn, sql).await.map(|_| ());
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    fn abort(&mut self, why: String) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if std::mem::take(&mut self.open) {
                self.end("ROLLBACK").await.ok();
            }
            self.head = None;
            self.head_dirty = false;
            self.deferred.clear();
            for w in std::mem::take(&mut self.waiters) {
                let _ = w.send(Err(why.clone()));
            }
        })
    }

    /// Opens a batch if none is open and starts a member in it (a durable member makes the batch
    /// durable).
    fn begin_member(&mut self, durable: bool, savepoint: bool) -> BoxFuture<'_, Result<(), sqlx::Error>> {
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
            let conn = self.conn.as_mut().expect("open batch");
            if let Err(e) = sqlx::Executor::execute(&mut *conn, "SAVEPOINT member").await {
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
    async fn open_batch(&mut self) -> Result<(), sqlx::Error> {
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

/// Syncs the write-ahead log of SQLite database `db` to disk (its data and size: `fdatasync`).
/// Opened by path each time, so it is the file SQLite writes now. Without a log (a file system
/// that refused WAL mode, where the commit wrote the database file itself) the database file.
fn sync_log(db: &std::path::Path) -> Result<(), String> {
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    let file = match std::fs::File::open(&wal) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::File::open(db),
        other => other,
    };
    file.and_then(|f| f.sync_data()).map_err(|e| format!("{}: {e}", wal.display()))
}

/// Counts a task as waiting for the gate until it has it (or is cancelled).
struct Queued<'a>(&'a Batcher, bool);

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
    fn new(connector: std::sync::Arc<Connector>, postgres: bool) -> Batcher {
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
            })),
            queued: AtomicUsize::new(0),
            notify: tokio::sync::Notify::new(),
        }
    }

    async fn gate(&self) -> tokio::sync::OwnedMutexGuard<Slot> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut q = Queued(self, false);
        let g = self.slot.clone().lock_owned().await;
        q.1 = true;
        drop(q);
        g
    }

    /// Finishes batches left open with nobody to finish them (a member that committed while
    /// others queued and those were cancelled, a member dropped without commit).
    async fn flusher(me: std::sync::Weak<Batcher>) {
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
    _slot: tokio::sync::OwnedMutexGuard<Slot>,
}

/// The migrations, in order. Never edit one that has shipped: add a new one.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial schema", include_str!("../migrations/0001_init.sql")),
    (2, "PIN reset: card certificates, reservations, reset sessions", include_str!("../migrations/0002_pin_reset.sql")),
    (
        3,
        "print leases, late printed outcomes, refunds paid at the kiosk",
        include_str!("../migrations/0003_print_lease_refunds.sql"),
    ),
    (4, "integrity: audit checkpoints, payload erasure", include_str!("../migrations/0004_integrity.sql")),
];

/// How often the WAL is copied back into the SQLite database file (see [`checkpointer`]).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// The size the write-ahead log file is cut back to when SQLite starts it over (bytes).
const WAL_SIZE_LIMIT: u64 = 32 << 20;

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
async fn checkpointer(connector: std::sync::Arc<Connector>, batch: std::sync::Weak<Batcher>) {
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

/// How this instance opens a connection of its own, outside sqlx's pool: the URL and the
/// settings every connection gets.
pub(crate) struct Connector {
    url: String,
    setup: String,
}

impl Connector {
    async fn open(&self) -> Result<sqlx::AnyConnection, sqlx::Error> {
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.url).await?;
        sqlx::Executor::execute(&mut conn, self.setup.as_str()).await?;
        Ok(conn)
    }
}

/// Connections kept by the instance itself, for the flow's reads and, on PostgreSQL, its
/// single-statement writes. sqlx's pool makes a round trip on every release (a `ping`, to flush
/// whatever a cancelled query left behind): a thread hop on SQLite and a network round trip on
/// PostgreSQL, per statement of the flow. An [`OwnConn`] goes back to
/// `idle` only when its caller says the read finished ([`OwnConn::release`]); one dropped on the
/// way (an error, a cancelled request) is closed instead, so nothing a half-read query left can
/// reach the next caller.
pub struct OwnConns {
    connector: std::sync::Arc<Connector>,
    idle: std::sync::Mutex<Vec<sqlx::AnyConnection>>,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    wait: Duration,
}

/// A connection of the instance's own (see [`OwnConns`]).
pub struct OwnConn {
    conn: Option<sqlx::AnyConnection>,
    owner: std::sync::Arc<OwnConns>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl OwnConn {
    /// The read finished: the connection goes back for the next one.
    pub fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            self.owner.idle.lock().expect("lock").push(conn);
        }
    }
}

impl std::ops::Deref for OwnConn {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        self.conn.as_ref().expect("held")
    }
}

impl std::ops::DerefMut for OwnConn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn.as_mut().expect("held")
    }
}

impl OwnConns {
    async fn get(self: &std::sync::Arc<Self>) -> Result<OwnConn, sqlx::Error> {
        let permit = match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        let idle = self.idle.lock().expect("lock").pop();
        let conn = match idle {
            Some(c) => c,
            None => self.connector.open().await?,
        };
        Ok(OwnConn { conn: Some(conn), owner: self.clone(), _permit: permit })
    }
}

#[derive(Clone)]
pub struct Db {
    pub pool: Pool,
    pub postgres: bool,
    /// The group commit of this instance's writes ([`Batcher`]).
    batch: std::sync::Arc<Batcher>,
    own: std::sync::Arc<OwnConns>,
}

impl Db {
    pub async fn connect(config: &Config) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let postgres = config.is_postgres();
        let mut url = config.database.clone();
        if !postgres && !url.contains("mode=") && !url.contains(":memory:") {
            url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
        }
        let busy = config.db_busy_timeout_ms;
        let setup = if postgres {
            format!("SET lock_timeout = {busy}; SET statement_timeout = {}", busy * 4 + 1000)
        } else {
            format!(
                "PRAGMA synchronous = {}; PRAGMA busy_timeout = {busy}; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};",
                config.sqlite_synchronous
            )
        };
        let connector = std::sync::Arc::new(Connector { url: url.clone(), setup: setup.clone() });
        let pool = AnyPoolOptions::new()
            .max_connections(config.db_max_connections)
            .min_connections(0)
            .acquire_timeout(Duration::from_millis(busy.max(1)))
            .test_before_acquire(false)
            .after_connect(move |conn, _| configure_connection(conn, setup.clone()))
            .connect(&url)
            .await?;
        if !postgres {
            // Persistent per database file; needs no other connection to be in a transaction.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        let batch = std::sync::Arc::new(Batcher::new(connector.clone(), postgres));
        tokio::spawn(Batcher::flusher(std::sync::Arc::downgrade(&batch)));
        let own = std::sync::Arc::new(OwnConns {
            connector: connector.clone(),
            idle: std::sync::Mutex::new(Vec::new()),
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(config.db_max_connections as usize)),
            wait: Duration::from_millis(busy.max(1)),
        });
        if !postgres {
            tokio::spawn(checkpointer(connector, std::sync::Arc::downgrade(&batch)));
        }
        Ok(Db { pool, postgres, batch, own })
    }

    /// How many durable SQLite batches are on disk so far (their log synced): the group
    /// commit's fsyncs.
    pub fn log_syncs(&self) -> u64 {
        *self.batch.mark.synced.borrow()
    }

    /// Waits until everything committed so far is on disk. A durable SQLite batch is visible to
    /// other connections from its commit, a little before its log is synced and its members are
    /// answered: whoever answers from what it read there (a repeated issuance request, with the
    /// signed document the kiosk will print) calls this after the read. At once on PostgreSQL,
    /// where a commit is visible only once flushed. `database_busy` if the disk does not answer
    /// within the busy timeout.
    pub async fn wait_durable(&self) -> Result<(), sqlx::Error> {
        if self.postgres {
            return Ok(());
        }
        let target = self.batch.mark.committed.load(Ordering::SeqCst);
        let mut synced = self.batch.mark.synced.subscribe();
        let reached = tokio::time::timeout(self.own.wait, synced.wait_for(|s| *s >= target)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(sqlx::Error::PoolTimedOut),
        }
    }

    /// A connection for the flow's reads, given back with [`OwnConn::release`] (see [`OwnConns`]).
    pub async fn reader(&self) -> Result<OwnConn, sqlx::Error> {
        self.own.get().await
    }

    /// A write transaction: on SQLite a member of the current batch (committed with
    /// `sqlite_synchronous`, and synced when it shares a durable batch), on PostgreSQL a
    /// transaction of its own.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        if self.postgres {
            return Ok(WriteTx { inner: Some(Inner::Own(self.pool.begin().await?)) });
        }
        self.member(false, true).await
    }

    /// A write transaction for the rows that make paper valid (an issuance, its outcome): its
    /// commit is on disk before it returns, whatever `sqlite_synchronous` says (SQLite: the
    /// write-ahead log file synced after the batch's commit; PostgreSQL: `synchronous_commit =
    /// on` even where the server turned it off). Always a batch member.
    pub async fn begin_durable(&self) -> Result<WriteTx, sqlx::Error> {
        self.member(true, true).await
    }

    /// Like [`Db::begin_durable`] for a write that is one statement on SQLite (with any number
    /// of audit records, which wait for the batch's commit): it gets no savepoint there, since
    /// SQLite undoes a failing statement by itself and leaves the transaction usable. On
    /// PostgreSQL, where a failing statement would abort the whole batch, it has one as usual.
    /// Three round trips fewer through the write gate for the flow's paper-making writes.
    pub async fn begin_durable_single(&self) -> Result<WriteTx, sqlx::Error> {
        self.member(true, self.postgres).await
    }

    /// For one statement that writes (and only one: it gets no savepoint): on SQLite a batch
    /// member like [`Db::begin_write`], on PostgreSQL one of the instance's own connections in
    /// autocommit, given back by `commit` (and closed if the write is dropped instead).
    pub async fn single_write(&self) -> Result<WriteTx, sqlx::Error> {
        if self.postgres {
            return Ok(WriteTx { inner: Some(Inner::Conn(self.own.get().await?)) });
        }
        self.member(false, false).await
    }

    async fn member(&self, durable: bool, savepoint: bool) -> Result<WriteTx, sqlx::Error> {
        let mut slot = self.batch.gate().await;
        if let Err(e) = slot.begin_member(durable, savepoint).await {
            if self.batch.queued.load(Ordering::SeqCst) == 0 {
                slot.finish().await;
            }
            drop(slot);
            self.batch.notify.notify_one();
            return Err(e);
        }
        Ok(WriteTx { inner: Some(Inner::Member { slot, batcher: self.batch.clone() }) })
    }

    /// For a write outside [`WriteTx`] on SQLite: finishes the open batch and holds the gate, so
    /// no write of this process meets a locked database. `None` on PostgreSQL.
    pub async fn write_gate(&self) -> Option<WriteGate> {
        if self.postgres {
            return None;
        }
        let mut slot = self.batch.gate().await;
        slot.finish().await;
        Some(WriteGate { _slot: slot })
    }

    /// Applies the migrations not yet applied. Safe to run from several processes at once.
    pub async fn migrate(&self) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        let mut applied = Vec::new();
        for (version, description, sql) in MIGRATIONS {
            let checksum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(sql.as_bytes()));
            let mut tx = self.begin_write().await?;
            if self.postgres {
                // One migrator at a time across instances.
                sqlx::query("SELECT pg_advisory_xact_lock(7226190)").execute(&mut *tx).await?;
            }
            let existing: Option<String> = sqlx::query("SELECT checksum FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r: AnyRow| r.get::<String, _>(0));
            match existing {
                Some(c) if c == checksum => {
                    tx.rollback().await?;
                }
                Some(c) => {
                    return Err(sqlx::Error::Protocol(format!(
                        "migration {version} was applied with checksum {c} but the binary has {checksum}: refusing to run on a modified schema"
                    )))
                }
                None => {
                    sqlx::raw_sql(sql).execute(&mut *tx).await?;
                    sqlx::query("INSERT INTO schema_migrations (version, description, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                        .bind(*version)
                        .bind(*description)
                        .bind(checksum)
                        .bind(now_ms())
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    applied.push(*version);
                }
            }
        }
        Ok(applied)
    }
}

fn configure_connection(
    conn: &mut sqlx::AnyConnection,
    sql: String,
) -> futures_core::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    use sqlx::Executor;
    Box::pin(async move {
        conn.execute(sql.as_str()).await?;
        Ok(())
    })
}

/// Milliseconds since the Unix epoch: the one time representation in the database.
pub fn now_ms() -> i64 {
    ms(OffsetDateTime::now_utc())
}

pub fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn rfc3339(ms: i64) -> String {
    from_ms(ms).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        classify(&e)
    }
}

/// Maps a storage failure to the API's code: busy (retry) or unavailable; never leaks SQL.
pub fn classify(e: &sqlx::Error) -> ApiError {
    use sqlx::Error as E;
    match e {
        E::PoolTimedOut => {
            ApiError::new(ErrorCode::DatabaseBusy, "the database is busy; nothing was changed, try again")
        }
        E::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let busy =
                matches!(code.as_str(), "5" | "6" | "261" | "262" | "517" | "40001" | "40P01" | "55P03" | "57014")
                    || db.message().contains("database is locked")
                    || db.message().contains("database table is locked");
            let gone =
                code.starts_with("08") || code.starts_with("57P") || matches!(code.as_str(), "14" | "10" | "26" | "11");
            if busy {
                ApiError::new(ErrorCode::DatabaseBusy, "the database is busy; nothing was changed, try again")
            } else if gone {
                ApiError::new(ErrorCode::DatabaseUnavailable, "the database is unavailable; nothing was changed")
            } else {
                log::error!("database error {code}: {}", db.message());
                ApiError::new(ErrorCode::Internal, "internal database error; nothing was changed")
            }
        }
        E::Io(_) | E::Tls(_) | E::PoolClosed | E::WorkerCrashed | E::Protocol(_) | E::Configuration(_) => {
            log::error!("database unavailable: {e}");
            ApiError::new(ErrorCode::DatabaseUnavailable, "the database is unavailable; nothing was changed")
        }
        other => {
            log::error!("database error: {other}");
            ApiError::new(ErrorCode::Internal, "internal database error; nothing was changed")
        }
    }
}

/// True for a unique-constraint violation (SQLite 2067/1555, PostgreSQL 23505).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("2067") | Some("1555") | Some("23505"))
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

/// Reads a key from the `meta` table.
pub async fn meta_get<'e, E>(ex: E, key: &str) -> Result<Option<String>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query("SELECT value FROM meta WHERE key = $1")
        .bind(key.to_string())
        .fetch_optional(ex)
        .await?
        .map(|r| r.get::<String, _>(0)))
}

pub async fn meta_set<'e, E>(ex: E, key: &str, value: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key.to_string())
        .bind(value.to_string())
        .execute(ex)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migrated SQLite database `t.db` in `dir`, with four connections.
    async fn migrated_sqlite(dir: &tempfile::TempDir) -> Db {
        let config = Config {
            database: format!("sqlite://{}", dir.path().join("t.db").display()),
            db_max_connections: 4,
            ..Default::default()
        };
        let db = Db::connect(&config).await.unwrap();
        db.migrate().await.unwrap();
        db
    }

    /// The rows that make paper valid are on disk when their commit returns, whatever
    /// `sqlite_synchronous` says: the batch commits at the configured level and its log file is
    /// synced before its members hear of the commit. An ordinary batch is not synced.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn paper_transactions_are_synced_before_their_commit_returns() {
        for level in ["off", "normal"] {
            let dir = tempfile::tempdir().unwrap();
            let config = Config {
                database: format!("sqlite://{}", dir.path().join("t.db").display()),
                sqlite_synchronous: level.into(),
                db_max_connections: 1,
                ..Default::default()
            };
            let db = Db::connect(&config).await.unwrap();
            db.migrate().await.unwrap();
            let synced = || db.log_syncs();
            let before = synced();
            let mut tx = db.begin_write().await.unwrap();
            meta_set(&mut *tx, "ordinary", "1").await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(synced(), before, "{level}: an ordinary batch is not synced");
            let mut tx = db.begin_durable().await.unwrap();
            meta_set(&mut *tx, "paper", "1").await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(synced(), before + 1, "{level}: the durable batch was synced before commit returned");
            // Everything committed is on disk: a reader of it has nothing to wait for.
            tokio::time::timeout(Duration::from_secs(1), db.wait_durable()).await.unwrap().unwrap();
            assert_eq!(meta_get(&db.pool, "paper").await.unwrap().as_deref(), Some("1"));
        }
    }

    /// Without a write-ahead log (WAL mode refused) the database file itself is synced; with
    /// neither, the sync fails and the members hear of it.
    #[test]
    fn a_database_without_its_log_is_synced_itself() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(&db, b"x").unwrap();
        assert_eq!(sync_log(&db), Ok(()));
        std::fs::write(dir.path().join("x.db-wal"), b"x").unwrap();
        assert_eq!(sync_log(&db), Ok(()));
        assert!(sync_log(&dir.path().join("missing.db")).is_err());
    }

    /// Concurrent writers share batches: each one's commit is visible to every other connection
    /// when it returns, one that leaves without committing takes only its own rows with it, and
    /// the audit chain written once per batch verifies.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_writers_commit_alone_roll_back_alone_and_keep_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let db = migrated_sqlite(&dir).await;
        let mut tasks = Vec::new();
        for i in 0..40 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = if i % 2 == 0 { db.begin_durable().await } else { db.begin_write().await }.unwrap();
                let entry =
                    crate::audit::Entry::new("test", "test.write", format!("s{i}"), serde_json::json!({ "i": i }));
                crate::audit::append(&mut tx, &entry).await.unwrap();
                if i % 5 == 0 {
                    drop(tx); // left without commit
                    return;
                }
                tx.commit().await.unwrap();
                let seen: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE subject = $1")
                    .bind(format!("s{i}"))
                    .fetch_one(&db.pool)
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(seen, 1, "s{i} committed and visible");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let rows: Vec<String> = sqlx::query("SELECT subject FROM audit_log ORDER BY seq")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(rows.len(), 32);
        for i in (0..40).step_by(5) {
            assert!(!rows.contains(&format!("s{i}")), "s{i} was rolled back");
        }
        let v = crate::audit::verify(&db.pool).await.unwrap();
        assert!(v.ok, "{:?}", v.problems);
        assert_eq!(v.rows, 32);
    }

    /// A single-statement member has no savepoint on SQLite: one whose statement fails takes
    /// nothing but itself (and the audit records it never appended) out of the batch it shares.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_single_statement_leaves_its_batch_whole() {
        let dir = tempfile::tempdir().unwrap();
        let db = migrated_sqlite(&dir).await;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('taken', 'x')").execute(&db.pool).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..30 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let key = if i % 3 == 0 { "taken".to_string() } else { format!("k{i}") };
                let mut tx = db.begin_durable_single().await.unwrap();
                let r = sqlx::query("INSERT INTO meta (key, value) VALUES ($1, 'v')").bind(key).execute(&mut *tx).await;
                match r {
                    Err(e) => {
                        assert!(is_unique_violation(&e), "{e}");
                        drop(tx);
                        false
                    }
                    Ok(_) => {
                        let entry =
                            crate::audit::Entry::new("test", "meta.set", format!("k{i}"), serde_json::json!({}));
                        crate::audit::append(&mut tx, &entry).await.unwrap();
                        tx.commit().await.unwrap();
                        true
                    }
                }
            }));
        }
        let mut committed = 0;
        for t in tasks {
            committed += t.await.unwrap() as i64;
        }
        assert_eq!(committed, 20);
        let keys: i64 =
            sqlx::query("SELECT COUNT(*) FROM meta WHERE key LIKE 'k%'").fetch_one(&db.pool).await.unwrap().get(0);
        assert_eq!(keys, 20);
        let v = crate::audit::verify(&db.pool).await.unwrap();
        assert!(v.ok, "{:?}", v.problems);
        assert_eq!(v.rows, 20, "one audit record per committed member, none for the failed ones");
    }

    /// Under steady writes and reads the write-ahead log is copied back and started over, so it
    /// stays a few batches long instead of growing with everything ever written (which is what a
    /// background checkpoint that never finds the log wholly copied does).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_write_ahead_log_stays_short_under_steady_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db = migrated_sqlite(&dir).await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..2 {
            let (db, stop) = (db.clone(), stop.clone());
            readers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let mut r = db.reader().await.unwrap();
                    sqlx::query("SELECT COUNT(*) FROM meta").fetch_one(&mut *r).await.unwrap();
                    r.release();
                }
            }));
        }
        // About 24 MB in 3,000 single-statement writes of 8 KB each.
        let blob = "x".repeat(8 * 1024);
        let mut writers = Vec::new();
        for w in 0..4 {
            let (db, blob) = (db.clone(), blob.clone());
            writers.push(tokio::spawn(async move {
                for i in 0..750 {
                    let mut tx = db.single_write().await.unwrap();
                    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                        .bind(format!("w{w}-{i}"))
                        .bind(blob.clone())
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    // Steady rather than one burst: about 12 MB/s, so the log is checkpointed
                    // many times while it is written.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }));
        }
        for w in writers {
            w.await.unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.await.unwrap();
        }
        let wal = std::fs::metadata(dir.path().join("t.db-wal")).map(|m| m.len()).unwrap_or(0);
        let main = std::fs::metadata(&path).unwrap().len();
        assert!(main > 20 << 20, "the rows were copied into the database file ({main} bytes)");
        // The log file keeps its largest size (up to `journal_size_limit`); written without ever
        // being started over it would hold all of the 24 MB and their pages' overhead.
        assert!(wal < 16 << 20, "the log was started over: {wal} bytes after 24 MB written");
    }
}
