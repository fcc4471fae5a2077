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
use madoguchi_api::ErrorCode;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::sync::atomic::Ordering;
use std::time::Duration;
use time::OffsetDateTime;

pub type Pool = AnyPool;

mod batch;
mod conns;

use batch::{checkpointer, Batcher, Inner, WAL_SIZE_LIMIT};
pub use batch::{CommitUnconfirmed, WriteGate, WriteTx};
use conns::Connector;
pub use conns::{OwnConn, OwnConns};

/// The migrations, in order. Never edit one that has shipped: add a new one.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial schema", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "PIN reset: card certificates, reservations, reset sessions",
        include_str!("../../migrations/0002_pin_reset.sql"),
    ),
    (
        3,
        "print leases, late printed outcomes, refunds paid at the kiosk",
        include_str!("../../migrations/0003_print_lease_refunds.sql"),
    ),
    (4, "integrity: audit checkpoints, payload erasure", include_str!("../../migrations/0004_integrity.sql")),
];

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
        let (pool_size, own_size) = connection_budget(config.db_max_connections, postgres);
        let pool = AnyPoolOptions::new()
            .max_connections(pool_size)
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
        // The own connections' writes are the flow's single statements (a session's opening and
        // sign-in): on PostgreSQL they commit without waiting for the WAL flush, as an ordinary
        // SQLite write commits without a sync (see [`Db::single_write`]).
        let own_connector = match postgres {
            true => std::sync::Arc::new(Connector {
                url: connector.url.clone(),
                setup: format!("{}; SET synchronous_commit TO off", connector.setup),
            }),
            false => connector.clone(),
        };
        let own = std::sync::Arc::new(OwnConns {
            connector: own_connector,
            idle: std::sync::Mutex::new(Vec::new()),
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(own_size as usize)),
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
    /// signed document the kiosk will print; an outcome already recorded, which the kiosk takes
    /// as done) calls this after the read. At once on PostgreSQL, where a commit is visible only
    /// once flushed. `database_busy` if the disk does not answer within the busy timeout.
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
    ///
    /// Only for rows a crash of the database may lose: on PostgreSQL the commit does not wait
    /// for the WAL flush (`synchronous_commit = off` on these connections), as an ordinary SQLite
    /// write does not wait for a sync. A session's opening and sign-in are such rows: lost, the
    /// kiosk starts the session again. What depends on them is durable anyway: the issuance that
    /// follows flushes the WAL up to its own commit, which comes after theirs.
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

/// How `db_max_connections` is shared, as `(pool, own)`: one connection for the group commit
/// (and on SQLite one for the checkpointer), a quarter (at least one) for sqlx's pool (the
/// console, operations, the flow's rare paths), the rest for the flow's own connections
/// ([`OwnConns`]). Together they stay within the setting, which is what counts against
/// PostgreSQL's `max_connections`; below 4 each gets one.
fn connection_budget(total: u32, postgres: bool) -> (u32, u32) {
    let reserved = if postgres { 1 } else { 2 };
    let pool = (total / 4).max(1);
    (pool, total.saturating_sub(pool + reserved).max(1))
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
        E::Io(io) if io.get_ref().is_some_and(|i| i.is::<CommitUnconfirmed>()) => {
            log::error!("database: {e}");
            ApiError::new(
                ErrorCode::CommitUnconfirmed,
                "the change was committed but the disk did not confirm it; retry with the same idempotency key",
            )
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
    use super::batch::sync_log;
    use super::*;

    #[test]
    fn the_connection_budget_stays_within_the_setting() {
        assert_eq!(connection_budget(8, true), (2, 5));
        assert_eq!(connection_budget(8, false), (2, 4));
        for total in 4..=200 {
            for postgres in [true, false] {
                let (pool, own) = connection_budget(total, postgres);
                let reserved = if postgres { 1 } else { 2 };
                assert!(pool >= 1 && own >= 1, "{total}");
                assert!(pool + own + reserved <= total, "{total} {postgres}: {pool} + {own} + {reserved}");
            }
        }
    }

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

    /// A durable batch that committed but whose log did not sync is not reported as "nothing was
    /// changed": its members hear `commit_unconfirmed` (retry with the same key), and the row is
    /// there for the retry to find.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_whose_log_does_not_sync_is_unconfirmed_not_undone() {
        let dir = tempfile::tempdir().unwrap();
        let db = migrated_sqlite(&dir).await;
        let mut tx = db.begin_durable().await.unwrap();
        meta_set(&mut *tx, "first", "1").await.unwrap();
        tx.commit().await.unwrap();
        // SQLite keeps writing the log through the file it has open; opening it by name fails.
        let wal = dir.path().join("t.db-wal");
        std::fs::remove_file(&wal).unwrap();
        std::os::unix::fs::symlink(&wal, &wal).unwrap();
        let mut tx = db.begin_durable().await.unwrap();
        meta_set(&mut *tx, "second", "1").await.unwrap();
        let err = tx.commit().await.unwrap_err();
        let api = classify(&err);
        assert_eq!(api.code, ErrorCode::CommitUnconfirmed, "{err}");
        assert!(!api.message.contains("nothing was changed"), "{}", api.message);
        assert_eq!(meta_get(&db.pool, "second").await.unwrap().as_deref(), Some("1"), "the commit stands");
        // A batch that never committed still says so.
        let plain = sqlx::Error::Io(std::io::Error::other("the batch failed: broken"));
        assert_eq!(classify(&plain).code, ErrorCode::DatabaseUnavailable);
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
