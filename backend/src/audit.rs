//! The append-only, hash-chained audit log.
//!
//! Row n stores `hash_n = SHA-256(prev_hash_n ‖ seq ‖ at ‖ actor ‖ action ‖ subject ‖ detail)`
//! (each field length-prefixed) with `prev_hash_n = hash_{n-1}`; `audit_head` holds the tip.
//! Changing any field of any row, removing a row in the middle or at the end, or reordering rows
//! breaks the chain, and `audit verify` names the first row where it breaks.
//!
//! The chain alone cannot show that rows were removed from its end: its tip sits in the same
//! database, so whoever can delete the tail can rewrite `audit_head` too. So the head is also
//! signed with the backend's key as a *checkpoint* (every `audit_checkpoint_interval_s`, on
//! shutdown, and on `audit export`), and checkpoints handed out (to the municipality) prove
//! later that the chain reached that row with that hash: `audit verify --checkpoint FILE`.

use crate::db::{now_ms, Pool, WriteTx};
use madoguchi_api::{PublicKey, SignedBlob};
use sha2::{Digest, Sha256};
use sqlx::Row;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit record before it is chained.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `kiosk:ID`, `admin:ID`, `cli`, `system`, `public`.
    pub actor: String,
    /// What happened: `issuance.created`, `issuance.printed`, `issuance.voided`, `refund.due`,
    /// `config.changed`, `kiosk.enrolled`, `request.rejected`, ...
    pub action: String,
    /// What it happened to (an issuance number, a municipality code, a session id...).
    pub subject: String,
    /// JSON details.
    pub detail: serde_json::Value,
}

impl Entry {
    pub fn new(actor: impl Into<String>, action: &str, subject: impl Into<String>, detail: serde_json::Value) -> Self {
        Entry { actor: actor.into(), action: action.into(), subject: subject.into(), detail }
    }
}

pub fn chain_hash(prev: &str, seq: i64, at: i64, actor: &str, action: &str, subject: &str, detail: &str) -> String {
    let mut h = Sha256::new();
    for field in [
        prev.as_bytes(),
        seq.to_string().as_bytes(),
        at.to_string().as_bytes(),
        actor.as_bytes(),
        action.as_bytes(),
        subject.as_bytes(),
        detail.as_bytes(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field);
    }
    hex::encode(h.finalize())
}

/// Appends inside the caller's transaction, so the record commits or rolls back with the change
/// it describes. In a batch (`db::Batcher`) the record waits in the batch and is chained at its
/// commit, together with the other members' records, in as few statements as the batch allows:
/// the audit chain's head (SQLite's write lock, PostgreSQL's row lock that every instance needs)
/// is then touched once per batch and held for the commit only, and an append costs no round
/// trip. Outside a batch the `UPDATE ... RETURNING` on the head row serialises appenders.
pub async fn append(tx: &mut WriteTx, entry: &Entry) -> Result<(), sqlx::Error> {
    if tx.defer_audit(now_ms(), entry) {
        return Ok(());
    }
    append_now(tx, entry).await.map(|_| ())
}

/// Appends at once; returns the record's sequence number.
async fn append_now(tx: &mut WriteTx, entry: &Entry) -> Result<i64, sqlx::Error> {
    let at = now_ms();
    if let Some((head_seq, prev)) = tx.batch_audit_head().await? {
        let seq = head_seq + 1;
        let hash = insert(tx, seq, at, &prev, entry).await?;
        tx.set_batch_audit_head(seq, hash);
        return Ok(seq);
    }
    let row = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut **tx)
        .await?;
    let seq: i64 = row.get(0);
    let prev: String = row.get(1);
    let hash = insert(tx, seq, at, &prev, entry).await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(hash).execute(&mut **tx).await?;
    Ok(seq)
}

/// Chains the records a batch deferred (see [`append`]) after the head, inside the batch's
/// transaction: the head as the batch has it already (`known`), or read now (and on PostgreSQL
/// locked); writes the records in the order they were appended, several rows per statement, and
/// returns the new head.
pub(crate) async fn chain_deferred(
    conn: &mut sqlx::AnyConnection,
    postgres: bool,
    known: Option<(i64, String)>,
    deferred: &[(i64, Entry)],
) -> Result<(i64, String), sqlx::Error> {
    let (mut seq, mut prev) = match known {
        Some(h) => h,
        None => batch_head(conn, postgres).await?,
    };
    let mut rows = Vec::with_capacity(deferred.len());
    for (at, entry) in deferred {
        seq += 1;
        let detail = entry.detail.to_string();
        let hash = chain_hash(&prev, seq, *at, &entry.actor, &entry.action, &entry.subject, &detail);
        rows.push((seq, *at, entry, detail, std::mem::replace(&mut prev, hash.clone()), hash));
    }
    let mut rest = &rows[..];
    while !rest.is_empty() {
        // Power-of-two chunks (at most [`ROWS_PER_INSERT`]): a handful of distinct statements,
        // each prepared once per connection.
        let n = 1usize << (rest.len().min(ROWS_PER_INSERT).ilog2());
        let (chunk, tail) = rest.split_at(n);
        let mut sql =
            String::from("INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES ");
        for i in 0..n {
            let b = i * 8;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8
            ));
        }
        let mut q = sqlx::query(&sql);
        for (seq, at, entry, detail, prev_hash, hash) in chunk {
            q = q
                .bind(*seq)
                .bind(*at)
                .bind(entry.actor.clone())
                .bind(entry.action.clone())
                .bind(entry.subject.clone())
                .bind(detail.clone())
                .bind(prev_hash.clone())
                .bind(hash.clone());
        }
        q.execute(&mut *conn).await?;
        rest = tail;
    }
    Ok((seq, prev))
}

/// The chain's head as a batch starts from it: `(seq, hash)`, on PostgreSQL locked until the
/// batch's transaction ends (every instance's batches take it), on SQLite already covered by the
/// batch's write lock.
pub(crate) async fn batch_head(conn: &mut sqlx::AnyConnection, postgres: bool) -> Result<(i64, String), sqlx::Error> {
    let sql = if postgres {
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    };
    let row = sqlx::query(sql).fetch_one(&mut *conn).await?;
    Ok((row.get(0), row.get(1)))
}

/// Most audit rows one `INSERT` of a batch's commit writes (8 parameters each).
const ROWS_PER_INSERT: usize = 32;

/// Writes row `seq` chained to `prev`; returns its hash.
async fn insert(
    conn: &mut sqlx::AnyConnection,
    seq: i64,
    at: i64,
    prev: &str,
    entry: &Entry,
) -> Result<String, sqlx::Error> {
    let detail = entry.detail.to_string();
    let hash = chain_hash(prev, seq, at, &entry.actor, &entry.action, &entry.subject, &detail);
    sqlx::query("INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(seq)
        .bind(at)
        .bind(entry.actor.clone())
        .bind(entry.action.clone())
        .bind(entry.subject.clone())
        .bind(detail)
        .bind(prev.to_string())
        .bind(hash.clone())
        .execute(&mut *conn)
        .await?;
    Ok(hash)
}

/// Appends in a transaction of its own (rejections, enrolments).
pub async fn append_alone(db: &crate::db::Db, entry: &Entry) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let seq = append_now(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(seq)
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    pub rows: i64,
    pub ok: bool,
    /// What is wrong, with the sequence number where the chain breaks.
    pub problems: Vec<String>,
}

/// Walks the whole chain.
pub async fn verify(pool: &Pool) -> Result<Verification, sqlx::Error> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(pool).await?;
    let (head_seq, head_hash): (i64, String) = (head.get(0), head.get(1));
    let mut problems = Vec::new();
    let mut prev_hash = GENESIS.to_string();
    let mut expected_seq = 1i64;
    let mut rows = 0i64;
    let mut last = 0i64;
    loop {
        let page = sqlx::query("SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000")
            .bind(last)
            .fetch_all(pool)
            .await?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            let seq: i64 = r.get(0);
            let at: i64 = r.get(1);
            let (actor, action, subject, detail): (String, String, String, String) =
                (r.get(2), r.get(3), r.get(4), r.get(5));
            let (stored_prev, stored_hash): (String, String) = (r.get(6), r.get(7));
            rows += 1;
            last = seq;
            if seq != expected_seq {
                problems.push(format!("rows {expected_seq}..{} are missing (removed)", seq - 1));
            }
            if stored_prev != prev_hash {
                problems.push(format!(
                    "row {seq}: previous hash does not match row {} (a row before it was changed or removed)",
                    seq - 1
                ));
            }
            let computed = chain_hash(&stored_prev, seq, at, &actor, &action, &subject, &detail);
            if computed != stored_hash {
                problems.push(format!("row {seq}: contents do not match its hash (changed)"));
            }
            prev_hash = stored_hash;
            expected_seq = seq + 1;
        }
    }
    if last != head_seq {
        problems.push(format!(
            "the chain ends at row {last} but the head says {head_seq} (rows at the end removed, or head changed)"
        ));
    } else if prev_hash != head_hash && head_seq > 0 {
        problems.push(format!("the head hash does not match row {last}"));
    }
    Ok(Verification { rows, ok: problems.is_empty(), problems })
}

/// What a checkpoint's signed payload says: the chain had `seq` rows and row `seq` had `hash`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    pub seq: i64,
    pub hash: String,
    /// When it was made (RFC 3339).
    pub at: String,
}

pub const CHECKPOINT_FORMAT: &str = "madoguchi-audit-checkpoint/1";

/// Why a checkpoint file is not usable (distinct from the chain being broken).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint is not signed by this backend's key: {0}")]
    Signature(#[from] madoguchi_api::SigningError),
    #[error("the checkpoint is not a checkpoint: {0}")]
    Format(String),
}

impl CheckpointError {
    pub fn kind(&self) -> &'static str {
        match self {
            CheckpointError::Signature(_) => "signature",
            CheckpointError::Format(_) => "format",
        }
    }
}

/// Signs the chain's current head and stores the checkpoint (unless the newest stored one is
/// of the same head already). Returns the signed checkpoint.
pub async fn checkpoint(db: &crate::db::Db, key: &crate::signing::BackendKey) -> Result<SignedBlob, sqlx::Error> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&db.pool).await?;
    let (seq, hash): (i64, String) = (head.get(0), head.get(1));
    let at = now_ms();
    let cp = Checkpoint { format: CHECKPOINT_FORMAT.into(), seq, hash: hash.clone(), at: crate::db::rfc3339(at) };
    let blob = key.sign(&serde_json::to_string(&cp).expect("json"));
    let newest = sqlx::query("SELECT seq FROM audit_checkpoints ORDER BY seq DESC, at DESC LIMIT 1")
        .fetch_optional(&db.pool)
        .await?
        .map(|r| r.get::<i64, _>(0));
    if newest != Some(seq) {
        let _gate = db.write_gate().await;
        sqlx::query("INSERT INTO audit_checkpoints (seq, hash, at, key_id, signed) VALUES ($1, $2, $3, $4, $5)")
            .bind(seq)
            .bind(hash)
            .bind(at)
            .bind(blob.key_id.clone())
            .bind(serde_json::to_string(&blob).expect("json"))
            .execute(&db.pool)
            .await?;
    }
    Ok(blob)
}

/// Checks a checkpoint's signature with the backend's public key, then reads it.
pub fn read_checkpoint(public: &PublicKey, blob: &SignedBlob) -> Result<Checkpoint, CheckpointError> {
    let payload = public.verify(blob)?;
    let cp: Checkpoint = serde_json::from_str(payload).map_err(|e| CheckpointError::Format(e.to_string()))?;
    if cp.format != CHECKPOINT_FORMAT || cp.seq < 0 || cp.hash.len() != 64 {
        return Err(CheckpointError::Format(format!("format {:?}, row {}", cp.format, cp.seq)));
    }
    Ok(cp)
}

/// Checkpoints every `audit_checkpoint_interval_s` until the process ends.
pub async fn checkpointer(db: crate::db::Db, key: crate::signing::BackendKey, every_s: u64) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(every_s)).await;
        if let Err(e) = checkpoint(&db, &key).await {
            log::warn!("audit checkpoint failed: {e}");
        }
    }
}

/// What the chain says against checkpoints (already signature-checked): each must name a row
/// that is still there with the same hash. A missing row is truncation; another hash, a
/// rewrite.
pub async fn check_checkpoints(pool: &Pool, checkpoints: &[Checkpoint]) -> Result<Vec<String>, sqlx::Error> {
    let head: i64 = sqlx::query("SELECT seq FROM audit_head WHERE id = 1").fetch_one(pool).await?.get(0);
    let mut problems = Vec::new();
    for cp in checkpoints.iter().filter(|c| c.seq > 0) {
        let row = sqlx::query("SELECT hash FROM audit_log WHERE seq = $1").bind(cp.seq).fetch_optional(pool).await?;
        match row.map(|r| r.get::<String, _>(0)) {
            None => problems.push(format!(
                "the checkpoint of {} says the chain had {} rows, but row {} is gone and the head says {head} (rows at the end removed: truncated)",
                cp.at, cp.seq, cp.seq
            )),
            Some(h) if h != cp.hash => problems.push(format!(
                "row {}: its hash differs from the checkpoint of {} (the chain was rewritten up to there)",
                cp.seq, cp.at
            )),
            Some(_) if head < cp.seq => problems.push(format!(
                "the head says {head} rows but the checkpoint of {} says {} (head rewritten: truncated)",
                cp.at, cp.seq
            )),
            Some(_) => {}
        }
    }
    Ok(problems)
}

/// The checkpoints stored in the database, read with the backend's public key: the good ones,
/// and a problem for each whose signature or form is wrong (a forged or changed row).
pub async fn stored_checkpoints(
    pool: &Pool,
    public: &PublicKey,
) -> Result<(Vec<Checkpoint>, Vec<String>), sqlx::Error> {
    let rows = sqlx::query("SELECT seq, signed FROM audit_checkpoints ORDER BY seq, at").fetch_all(pool).await?;
    let mut good = Vec::new();
    let mut problems = Vec::new();
    for r in rows {
        let (seq, signed): (i64, String) = (r.get(0), r.get(1));
        let read = serde_json::from_str::<SignedBlob>(&signed)
            .map_err(|e| CheckpointError::Format(e.to_string()))
            .and_then(|b| read_checkpoint(public, &b));
        match read {
            Ok(cp) if cp.seq == seq => good.push(cp),
            Ok(cp) => problems.push(format!("stored checkpoint of row {seq} signs row {} (changed)", cp.seq)),
            Err(e) => problems.push(format!("stored checkpoint of row {seq}: {e}")),
        }
    }
    Ok((good, problems))
}

/// [`verify`], plus the checkpoints handed out.
pub async fn verify_with(pool: &Pool, checkpoints: &[Checkpoint]) -> Result<Verification, sqlx::Error> {
    let mut v = verify(pool).await?;
    v.problems.extend(check_checkpoints(pool, checkpoints).await?);
    v.ok = v.problems.is_empty();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_length_prefixed() {
        // Moving a byte from one field to the next must change the hash.
        let a = chain_hash(GENESIS, 1, 2, "ab", "c", "", "{}");
        let b = chain_hash(GENESIS, 1, 2, "a", "bc", "", "{}");
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }
}
