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
use std::time::Duration;
use time::OffsetDateTime;

pub type Pool = AnyPool;

/// A write transaction. On SQLite it also holds this process's write gate: SQLite has one
/// writer at a time, and writers that meet a lock back off by sleeping (1, 2, 5, 10 … ms), so
/// queueing them in the process instead (FIFO, no sleeping) keeps latency flat under load.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
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
    gate: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// The configured SQLite `synchronous` level, which every write transaction sets again
    /// (a durable one may have raised it on the same pooled connection).
    synchronous: String,
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
        let gate = (!postgres).then(|| std::sync::Arc::new(tokio::sync::Mutex::new(())));
        let synchronous = config.sqlite_synchronous.clone();
        Ok(Db { pool, postgres, gate, synchronous })
    }

    /// A write transaction (see the module comment and [`WriteTx`]).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        self.begin(false).await
    }

    /// A write transaction for the rows that make paper valid (an issuance, its outcome): its
    /// commit is on disk before it returns, whatever `sqlite_synchronous` says (SQLite
    /// `synchronous = FULL`, which can only be set outside a transaction; PostgreSQL
    /// `synchronous_commit = on` even where the server turned it off).
    pub async fn begin_durable(&self) -> Result<WriteTx, sqlx::Error> {
        self.begin(true).await
    }

    async fn begin(&self, durable: bool) -> Result<WriteTx, sqlx::Error> {
        let gate = self.write_gate().await;
        let tx = if self.postgres {
            let mut tx = self.pool.begin().await?;
            if durable {
                sqlx::query("SET LOCAL synchronous_commit TO on").execute(&mut *tx).await?;
            }
            tx
        } else {
            let level = if durable { "full" } else { self.synchronous.as_str() };
            self.pool.begin_with(format!("PRAGMA synchronous = {level}; BEGIN IMMEDIATE")).await?
        };
        Ok(WriteTx { tx, _gate: gate })
    }

    /// For a single-statement write outside a transaction (SQLite: take the gate first).
    pub async fn write_gate(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.gate {
            Some(g) => Some(g.clone().lock_owned().await),
            None => None,
        }
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
}
