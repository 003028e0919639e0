-- dashledger-cloud schema v1 (SQLite). Keep in step with ../postgres/0001_init.sql.
-- Addresses are 0x-prefixed lowercase hex; hashes are 32-byte blobs; times are unix seconds.

CREATE TABLE devices (
    address         TEXT PRIMARY KEY,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'revoked')),
    label           TEXT NOT NULL DEFAULT '',
    -- chain tip of the device's evidence records (protocol::chain::ChainTip)
    tip_seq         BIGINT,
    tip_segment_hash BLOB,
    tip_record_id   BLOB,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- One row per accepted evidence record. No location is ever stored here (records carry none).
CREATE TABLE evidence (
    device          TEXT NOT NULL REFERENCES devices(address),
    seq             BIGINT NOT NULL,
    record_id       BLOB NOT NULL,
    segment_start   BIGINT NOT NULL,
    segment_hash    BLOB NOT NULL,
    signed          BLOB NOT NULL,      -- the 161-byte signed record as received
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE INDEX evidence_segment_hash ON evidence (segment_hash);

-- Chain findings (gap, fork, break, reordered) an operator can list.
CREATE TABLE alarms (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    device          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    detail          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    acknowledged_at BIGINT
);
CREATE UNIQUE INDEX alarms_once ON alarms (device, kind, seq, detail);

-- Resumable accident uploads. The id is an unguessable capability returned only to the device.
CREATE TABLE uploads (
    id              TEXT PRIMARY KEY,
    device          TEXT NOT NULL REFERENCES devices(address),
    ec_address      TEXT NOT NULL,
    total_size      BIGINT NOT NULL,
    received        BIGINT NOT NULL DEFAULT 0,
    state           TEXT NOT NULL CHECK (state IN ('open', 'complete', 'aborted')),
    leaves          BLOB NOT NULL,      -- concatenated 32-byte per-second leaves
    frames_root     BLOB NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX uploads_one_live_per_ec ON uploads (ec_address) WHERE state <> 'aborted';

-- Finalised clips (sealed ciphertext in blob storage) and their verification state.
CREATE TABLE clips (
    ec_address      TEXT PRIMARY KEY,
    device          TEXT NOT NULL,
    upload_id       TEXT NOT NULL,
    blob_key        TEXT NOT NULL,
    cipher_size     BIGINT NOT NULL,
    cipher_hash     BLOB NOT NULL,
    thumb_first     BLOB,               -- keccak of the first thumbnail (null: none)
    thumb_last      BLOB,
    leaves          BLOB NOT NULL,
    frames_root     BLOB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('uploaded', 'verified', 'rejected')),
    reason          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX clips_status ON clips (status);

-- Listed clips (from the Search Contract, via the indexer): what search answers from. The place
-- here is the EC's public place, never anything from evidence records.
CREATE TABLE listings (
    ec_address      TEXT PRIMARY KEY,
    t               BIGINT NOT NULL,
    lat             DOUBLE PRECISION NOT NULL,
    lon             DOUBLE PRECISION NOT NULL,
    status          TEXT NOT NULL,
    block_number    BIGINT NOT NULL
);
-- Covering index: search reads only the index (time range, keyset on (t, ec_address), then place).
CREATE INDEX listings_t ON listings (t, ec_address, lat, lon, status);

-- Request contracts (from the indexer).
CREATE TABLE requests (
    reqc            TEXT PRIMARY KEY,
    ec_address      TEXT NOT NULL,
    requester       TEXT NOT NULL,
    owner           TEXT NOT NULL,
    state           TEXT NOT NULL,
    block_number    BIGINT NOT NULL,
    updated_block   BIGINT NOT NULL
);
CREATE INDEX requests_owner ON requests (owner, state);

-- State-changing events of each request (the state is the latest one; rolled back on reorgs).
CREATE TABLE request_events (
    reqc            TEXT NOT NULL,
    block_number    BIGINT NOT NULL,
    log_index       BIGINT NOT NULL,
    state           TEXT NOT NULL,
    PRIMARY KEY (reqc, block_number, log_index)
);
CREATE INDEX requests_ec ON requests (ec_address);

-- Indexer progress and recent block hashes (reorg detection).
CREATE TABLE indexer_blocks (
    number          BIGINT PRIMARY KEY,
    hash            TEXT NOT NULL
);
CREATE TABLE indexer_state (
    name            TEXT PRIMARY KEY,
    value           BIGINT NOT NULL
);

-- Seen nonces of signed API requests (replay protection), kept until they expire.
CREATE TABLE auth_nonces (
    signer          TEXT NOT NULL,
    nonce           TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (signer, nonce)
);
CREATE INDEX auth_nonces_expiry ON auth_nonces (expires_at);

-- Relayed EC creations (rate limiting per device).
CREATE TABLE relays (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    device          TEXT NOT NULL,
    tx_hash         TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX relays_device_time ON relays (device, created_at);
