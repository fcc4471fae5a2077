-- madoguchi-backend schema, version 3: print leases, late printed outcomes and refunds paid at
-- the kiosk. SQLite and PostgreSQL, BIGINT and TEXT only, as versions 1 and 2.

-- Until when the kiosk said it is still printing the issuance (`outcome = printing`): neither
-- the sweeper nor a closed session voids it before then. NULL: no lease.
ALTER TABLE issuances ADD COLUMN lease_until BIGINT;
-- Cash the kiosk paid back for this issuance (`outcome = refunded`), and when it said so.
-- refund_state is then `paid_at_kiosk`.
ALTER TABLE issuances ADD COLUMN refund_paid_yen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE issuances ADD COLUMN refund_paid_at BIGINT;
