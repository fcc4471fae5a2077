//! Connections the instance opens itself, outside sqlx's pool.

use std::time::Duration;

/// How this instance opens a connection of its own, outside sqlx's pool: the URL and the
/// settings every connection gets.
pub(super) struct Connector {
    pub(super) url: String,
    pub(super) setup: String,
}

impl Connector {
    pub(super) async fn open(&self) -> Result<sqlx::AnyConnection, sqlx::Error> {
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
    pub(super) connector: std::sync::Arc<Connector>,
    pub(super) idle: std::sync::Mutex<Vec<sqlx::AnyConnection>>,
    pub(super) permits: std::sync::Arc<tokio::sync::Semaphore>,
    pub(super) wait: Duration,
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
    pub(super) async fn get(self: &std::sync::Arc<Self>) -> Result<OwnConn, sqlx::Error> {
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
