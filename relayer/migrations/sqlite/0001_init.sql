-- shiftpay-relayer store, SQLite (see relayer/src/store/mod.rs for what each table means).
-- Migrations are append-only: never edit a released one, add 0002_....sql.
-- Portable types on purpose (issue 14 ports this to PostgreSQL): INTEGER for u64 values that fit
-- i64 (blocks, nonces, unix seconds), TEXT for 0x-hex addresses and hashes and for u128/U256
-- decimals, BLOB for raw transaction bytes, TEXT JSON for structured payloads.

-- The log cursor: one row.
CREATE TABLE cursor (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    block      INTEGER NOT NULL,
    hash       TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The recent block-hash window (reorg detection).
CREATE TABLE blocks (
    number      INTEGER PRIMARY KEY,
    hash        TEXT    NOT NULL,
    parent_hash TEXT    NOT NULL
);

-- Signed transactions, one row per (signer, nonce): a replacement updates the row.
CREATE TABLE txs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    signer      TEXT    NOT NULL,
    nonce       INTEGER NOT NULL,
    raw         BLOB    NOT NULL,
    gas_price   TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    mined_block INTEGER,
    payout_key  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (signer, nonce)
);
CREATE INDEX txs_status ON txs (status);

-- Every hash ever sent for a transaction (the original and each replacement), in order.
CREATE TABLE tx_hashes (
    hash  TEXT    PRIMARY KEY,
    tx_id INTEGER NOT NULL REFERENCES txs (id),
    seq   INTEGER NOT NULL,
    UNIQUE (tx_id, seq)
);

-- The payout queue; `key` is the idempotency key.
CREATE TABLE payouts (
    key          TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    detail       TEXT    NOT NULL,
    due_at       INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    source_block INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    tx_id        INTEGER REFERENCES txs (id),
    lease_holder TEXT,
    lease_until  INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX payouts_claim ON payouts (status, due_at);
CREATE INDEX payouts_source_block ON payouts (source_block);

-- Next nonce per signer.
CREATE TABLE nonces (
    signer     TEXT    PRIMARY KEY,
    next_nonce INTEGER NOT NULL
);

-- Signed requests accepted by the API; their status is their payout's (`request:{id}`).
CREATE TABLE requests (
    id         TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    signer     TEXT    NOT NULL,
    digest     TEXT    NOT NULL UNIQUE,
    payout_key TEXT    NOT NULL REFERENCES payouts (key),
    created_at INTEGER NOT NULL
);
