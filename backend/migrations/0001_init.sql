-- madoguchi-backend schema, version 1. One file for SQLite and PostgreSQL: only BIGINT and
-- TEXT columns (times are milliseconds since the Unix epoch, JSON is TEXT).

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Registry (imported by load-world; the municipality systems' view of residents).
CREATE TABLE municipalities (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefecture TEXT NOT NULL,
    config TEXT NOT NULL,
    config_version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE households (
    id TEXT PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    address TEXT NOT NULL,
    head_id TEXT
);
CREATE TABLE koseki (
    id TEXT PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    honseki TEXT NOT NULL,
    hittousha TEXT NOT NULL
);
CREATE TABLE residents (
    id TEXT PRIMARY KEY,
    household_id TEXT,
    municipality_code TEXT,
    koseki_id TEXT,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL,
    relationship TEXT NOT NULL,
    address TEXT NOT NULL,
    status TEXT NOT NULL,
    restricted BIGINT NOT NULL,
    koseki_registered BIGINT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX residents_household ON residents (household_id);
CREATE INDEX residents_koseki ON residents (koseki_id);
CREATE TABLE tax_records (
    resident_id TEXT NOT NULL,
    municipality_code TEXT NOT NULL,
    fiscal_year BIGINT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (resident_id, municipality_code, fiscal_year)
);
CREATE TABLE seal_registrations (
    resident_id TEXT PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    record TEXT NOT NULL
);
-- Each resident's household, 戸籍, tax and seal records as one JSON document, rebuilt by
-- load-world (the only writer of the registry), so a request reads one row.
CREATE TABLE resident_views (
    resident_id TEXT PRIMARY KEY,
    residence_code TEXT NOT NULL,
    honseki_code TEXT NOT NULL,
    view TEXT NOT NULL
);
-- User-authentication certificate -> resident, by issuing CA and serial (never by name).
CREATE TABLE cert_links (
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    resident_id TEXT NOT NULL,
    token TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (issuer, serial)
);

-- JPKI revocation (imported CRLs).
CREATE TABLE jpki_crls (
    issuer TEXT PRIMARY KEY,
    issuer_name TEXT NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT,
    crl_sha256 TEXT NOT NULL,
    entries BIGINT NOT NULL,
    imported_at BIGINT NOT NULL
);
CREATE TABLE jpki_revocations (
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    since BIGINT NOT NULL,
    hold BIGINT NOT NULL,
    PRIMARY KEY (issuer, serial)
);

-- Client credentials (kiosks and municipality administrators), by certificate fingerprint.
CREATE TABLE credentials (
    fingerprint TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    store TEXT,
    municipality_code TEXT,
    status TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX credentials_id ON credentials (kind, id);

-- Resident sessions: all flow state lives here, none in the server's memory.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL,
    store TEXT NOT NULL,
    challenge TEXT NOT NULL,
    challenge_expires_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    resident_id TEXT,
    cert_fingerprint TEXT,
    cert_serial TEXT,
    authenticated_at BIGINT,
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX sessions_created ON sessions (created_at);

-- The issuance ledger.
CREATE TABLE issuances (
    number TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    store TEXT NOT NULL,
    resident_id TEXT NOT NULL,
    cert_fingerprint TEXT NOT NULL,
    municipality_code TEXT NOT NULL,
    document TEXT NOT NULL,
    copies BIGINT NOT NULL,
    fee_yen BIGINT NOT NULL,
    total_yen BIGINT NOT NULL,
    payment_reference TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    payload TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    local_date TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome_reason TEXT,
    outcome_at BIGINT,
    refund_yen BIGINT NOT NULL,
    refund_state TEXT NOT NULL
);
CREATE UNIQUE INDEX issuances_idempotency ON issuances (kiosk_id, idempotency_key);
CREATE INDEX issuances_session ON issuances (session_id);
CREATE INDEX issuances_open ON issuances (status, issued_at);
CREATE INDEX issuances_store_day ON issuances (store, local_date);

-- Append-only, hash-chained audit log; audit_head holds the chain's tip (and is the row lock
-- that serialises appends on PostgreSQL).
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE catalog_state (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO catalog_state (id, version) VALUES (1, 0);
