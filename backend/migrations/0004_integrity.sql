-- madoguchi-backend schema, version 4: integrity (issue 12). SQLite and PostgreSQL, BIGINT and
-- TEXT only, as version 1.

-- Signed checkpoints of the audit chain's head (audit.rs): the chain alone cannot show rows
-- removed from its end; a checkpoint handed out can. `signed` is the SignedBlob JSON.
CREATE TABLE audit_checkpoints (
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    at BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signed TEXT NOT NULL,
    PRIMARY KEY (seq, at)
);

-- When the document payload was erased after `payload_retention_days` (payload_sha256 stays).
ALTER TABLE issuances ADD COLUMN payload_erased_at BIGINT;
CREATE INDEX issuances_outcome_at ON issuances (outcome_at);
