-- madoguchi-backend schema, version 2: PIN reset at the kiosk (reference/jpki.md, "PIN reset at
-- the kiosk: our protocol (v1)"). SQLite and PostgreSQL, BIGINT and TEXT only, as version 1.

-- Every certificate of every card and phone token as the registry knows it (load-world): what a
-- reset checks besides the CRL (which card a certificate is on, whether that card carries a
-- signature certificate, whether it is a phone's).
CREATE TABLE card_certificates (
    -- SHA-256 of the certificate's DER, lower-case hex.
    fingerprint TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL,
    -- The user-authentication certificate of the card (or phone token) it is on: the card's name.
    card_fingerprint TEXT NOT NULL,
    -- auth | sign
    kind TEXT NOT NULL,
    -- card | android | iphone
    token TEXT NOT NULL,
    -- 1: on the card now; 0: an earlier certificate no longer on it.
    on_card BIGINT NOT NULL,
    -- Issuing CA (as cert_links and jpki_revocations name it) and serial, for the CRL.
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    -- valid | expired | revoked | suspended, and the last day of validity (YYYY-MM-DD).
    status TEXT NOT NULL,
    expiry TEXT NOT NULL
);
CREATE INDEX card_certificates_card ON card_certificates (card_fingerprint, kind);
CREATE INDEX card_certificates_resident ON card_certificates (resident_id);

-- Reservations (what the phone app's reservation stands in for). `live` turns `used` (a kiosk
-- reset the credential), `cancelled` (an administrator, or a newer reservation of the same card
-- and credential) or `expired` (seen past expires_at).
CREATE TABLE reset_reservations (
    id TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL,
    municipality_code TEXT NOT NULL,
    card_fingerprint TEXT NOT NULL,
    credential TEXT NOT NULL,
    reserved_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    closed_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX reset_reservations_card ON reset_reservations (card_fingerprint, credential, created_at);
CREATE INDEX reset_reservations_resident ON reset_reservations (resident_id);

-- A kiosk's reset session: challenged -> authenticated -> closed (outcome reported).
CREATE TABLE reset_sessions (
    id TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL,
    store TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    credential TEXT NOT NULL,
    resident_id TEXT NOT NULL,
    -- The card's user-authentication certificate (DER, base64; public) and its SHA-256: the
    -- authorisation message is bound to it.
    auth_certificate TEXT NOT NULL,
    card_fingerprint TEXT NOT NULL,
    challenge TEXT NOT NULL,
    challenge_expires_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    authorisations BIGINT NOT NULL,
    expires_at BIGINT,
    outcome TEXT,
    outcome_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX reset_sessions_reservation ON reset_sessions (reservation_id);
