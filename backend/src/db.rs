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
    /// PostgreSQL's single-statement writes: a pooled connection in autocommit.
    Conn(sqlx::pool::PoolConnection<sqlx::Any>),
}

impl WriteTx {
    /// Commits. A batch member's changes are on disk (SQLite) or committed (PostgreSQL) when this
    /// returns `Ok`, together with the other members of its batch.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        match self.inner.take().expect("open") {
            Inner::Own(tx) => tx.commit().await,
            Inner::Conn(_) => Ok(()),
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
            let tx = slot.tx.as_mut().expect("open batch");
            let row = sqlx::query(sql).fetch_one(&mut **tx).await?;
            slot.head = Some((row.get(0), row.get(1)));
        }
        Ok(slot.head.clone())
    }

    /// On PostgreSQL in a batch: keeps the audit record to be chained at the batch's commit (see
    /// `audit::append`) and says so. Elsewhere it is appended at once.
    pub(crate) fn defer_audit(&mut self, at: i64, entry: &crate::audit::Entry) -> bool {
        match &mut self.inner {
            Some(Inner::Member { slot, .. }) if slot.postgres => {
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
            Inner::Member { slot, .. } => slot.tx.as_ref().expect("open batch"),
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self.inner.as_mut().expect("open") {
            Inner::Own(tx) => tx,
            Inner::Conn(c) => c,
            Inner::Member { slot, .. } => slot.tx.as_mut().expect("open batch"),
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
}

pub(crate) struct Slot {
    pool: Pool,
    postgres: bool,
    synchronous: String,
    tx: Option<sqlx::Transaction<'static, sqlx::Any>>,
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
            if !self.member_savepoint {
                return;
            }
            let Some(tx) = self.tx.as_mut() else { return };
            if let Err(e) =
                sqlx::Executor::execute(&mut **tx, "ROLLBACK TO SAVEPOINT member; RELEASE SAVEPOINT member").await
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
            let tx = self.tx.as_mut().expect("open batch");
            sqlx::Executor::execute(&mut **tx, "RELEASE SAVEPOINT member").await?;
            Ok(())
        })
    }

    /// Commits the open batch (rolls it back if no member committed) and tells its members.
    fn finish(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.settle().await;
            let Some(mut tx) = self.tx.take() else { return };
            let waiters = std::mem::take(&mut self.waiters);
            let mut head = self.head.take().filter(|_| self.head_dirty);
            self.head_dirty = false;
            let deferred = std::mem::take(&mut self.deferred);
            if waiters.is_empty() {
                let _ = tx.rollback().await;
                return;
            }
            let mut result = Ok(());
            if !deferred.is_empty() {
                match crate::audit::chain_deferred(&mut tx, &deferred).await {
                    Ok(h) => head = Some(h),
                    Err(e) => result = Err(e),
                }
            }
            if let Some((seq, hash)) = head.filter(|_| result.is_ok()) {
                result = sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                    .bind(seq)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await
                    .map(|_| ());
            }
            let result = match result {
                Ok(()) => tx.commit().await.map_err(|e| e.to_string()),
                Err(e) => {
                    let _ = tx.rollback().await;
                    Err(e.to_string())
                }
            };
            if let Err(e) = &result {
                log::warn!("batch of {} writes failed to commit: {e}", waiters.len());
            }
            for w in waiters {
                let _ = w.send(result.clone());
            }
        })
    }

    fn abort(&mut self, why: String) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(tx) = self.tx.take() {
                let _ = tx.rollback().await;
            }
            self.head = None;
            self.head_dirty = false;
            self.deferred.clear();
            for w in std::mem::take(&mut self.waiters) {
                let _ = w.send(Err(why.clone()));
            }
        })
    }

    /// Opens a batch if none is open (one that is not durable enough is finished first) and
    /// starts a member in it.
    fn begin_member(&mut self, durable: bool, savepoint: bool) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            self.settle().await;
            if self.tx.is_some() && durable && !self.durable {
                self.finish().await;
            }
            if self.tx.is_none() {
                let tx = if self.postgres {
                    let mut tx = self.pool.begin().await?;
                    sqlx::query("SET LOCAL synchronous_commit TO on").execute(&mut *tx).await?;
                    tx
                } else {
                    let level = if durable { "full" } else { self.synchronous.as_str() };
                    self.pool.begin_with(format!("PRAGMA synchronous = {level}; BEGIN IMMEDIATE")).await?
                };
                self.tx = Some(tx);
                self.durable = durable || self.postgres;
                self.opened = std::time::Instant::now();
                self.head = None;
                self.head_dirty = false;
            }
            self.member_head = (self.head.clone(), self.head_dirty);
            self.member_deferred = self.deferred.len();
            self.member_savepoint = savepoint;
            if !savepoint {
                return Ok(());
            }
            let tx = self.tx.as_mut().expect("open batch");
            if let Err(e) = sqlx::Executor::execute(&mut **tx, "SAVEPOINT member").await {
                self.abort(format!("the batch failed: {e}")).await;
                return Err(e);
            }
            Ok(())
        })
    }
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
    fn new(pool: Pool, postgres: bool, synchronous: String) -> Batcher {
        Batcher {
            slot: std::sync::Arc::new(tokio::sync::Mutex::new(Slot {
                pool,
                postgres,
                synchronous,
                tx: None,
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
                if slot.tx.is_some() || slot.pending_rollback {
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

#[derive(Clone)]
pub struct Db {
    pub pool: Pool,
    pub postgres: bool,
    /// The group commit of this instance's writes ([`Batcher`]).
    batch: std::sync::Arc<Batcher>,
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
        let sync = config.sqlite_synchronous.clone();
        let pool = AnyPoolOptions::new()
            .max_connections(config.db_max_connections)
            .min_connections(0)
            .acquire_timeout(Duration::from_millis(busy.max(1)))
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                let sql = if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                    format!("PRAGMA synchronous = {sync}; PRAGMA busy_timeout = {busy}; PRAGMA foreign_keys = ON;")
                } else {
                    format!("SET lock_timeout = {busy}; SET statement_timeout = {}", busy * 4 + 1000)
                };
                configure_connection(conn, sql)
            })
            .connect(&url)
            .await?;
        if !postgres {
            // Persistent per database file; needs no other connection to be in a transaction.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        let batch = std::sync::Arc::new(Batcher::new(pool.clone(), postgres, config.sqlite_synchronous.clone()));
        tokio::spawn(Batcher::flusher(std::sync::Arc::downgrade(&batch)));
        Ok(Db { pool, postgres, batch })
    }

    /// A write transaction: on SQLite a member of the current batch (committed with
    /// `sqlite_synchronous`, or FULL when it shares a durable batch), on PostgreSQL a
    /// transaction of its own.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        if self.postgres {
            return Ok(WriteTx { inner: Some(Inner::Own(self.pool.begin().await?)) });
        }
        self.member(false, true).await
    }

    /// A write transaction for the rows that make paper valid (an issuance, its outcome): its
    /// commit is on disk before it returns, whatever `sqlite_synchronous` says (SQLite
    /// `synchronous = FULL`, which can only be set outside a transaction; PostgreSQL
    /// `synchronous_commit = on` even where the server turned it off). Always a batch member.
    pub async fn begin_durable(&self) -> Result<WriteTx, sqlx::Error> {
        self.member(true, true).await
    }

    /// For one statement that writes (and only one: it gets no savepoint): on SQLite a batch
    /// member like [`Db::begin_write`], on PostgreSQL a pooled connection in autocommit.
    pub async fn single_write(&self) -> Result<WriteTx, sqlx::Error> {
        if self.postgres {
            return Ok(WriteTx { inner: Some(Inner::Conn(self.pool.acquire().await?)) });
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

    async fn level(tx: &mut WriteTx) -> i64 {
        sqlx::query("PRAGMA synchronous").fetch_one(&mut **tx).await.unwrap().get::<i64, _>(0)
    }

    /// SQLite can change `synchronous` only outside a transaction: a durable transaction sets
    /// FULL (2) on its connection before it begins, an ordinary one the configured level again.
    #[tokio::test]
    async fn paper_transactions_commit_with_synchronous_full() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            database: format!("sqlite://{}", dir.path().join("t.db").display()),
            sqlite_synchronous: "normal".into(),
            db_max_connections: 1,
            ..Default::default()
        };
        let db = Db::connect(&config).await.unwrap();
        db.migrate().await.unwrap();
        let mut tx = db.begin_durable().await.unwrap();
        assert_eq!(level(&mut tx).await, 2, "FULL");
        tx.commit().await.unwrap();
        // The same (only) connection: back to the configured level.
        let mut tx = db.begin_write().await.unwrap();
        assert_eq!(level(&mut tx).await, 1, "NORMAL");
        tx.rollback().await.unwrap();
    }

    /// Concurrent writers share batches: each one's commit is visible to every other connection
    /// when it returns, one that leaves without committing takes only its own rows with it, and
    /// the audit chain written once per batch verifies.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_writers_commit_alone_roll_back_alone_and_keep_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            database: format!("sqlite://{}", dir.path().join("t.db").display()),
            db_max_connections: 4,
            ..Default::default()
        };
        let db = Db::connect(&config).await.unwrap();
        db.migrate().await.unwrap();
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
}
