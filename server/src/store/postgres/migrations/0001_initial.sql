-- The PostgreSQL schema of the intake store: the same tables as the SQLite store, with the
-- random ids as primary keys (PostgreSQL's B-trees take random inserts well, and several nodes
-- find rows by id without maps kept in one process's memory). Times are milliseconds since the
-- Unix epoch, as in SQLite, so that both stores round alike.

CREATE TABLE cases (
    case_id      BYTEA PRIMARY KEY,
    unit_id      TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE reports (
    -- Arrival order: the live push's cursor across nodes and the lease's tie-break.
    seq              BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    report_id        BYTEA PRIMARY KEY,
    unit_id          TEXT NOT NULL,
    case_id          BYTEA NOT NULL REFERENCES cases (case_id),
    state            TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'acked')),
    received_at      BIGINT NOT NULL,
    lease_until      BIGINT,
    delivery_count   INTEGER NOT NULL DEFAULT 0,
    acked_at         BIGINT,
    envelope_sha256  BYTEA NOT NULL,
    receipt          BYTEA NOT NULL,
    envelope         BYTEA NOT NULL
);
CREATE INDEX reports_pending ON reports (unit_id, received_at, seq) WHERE acked_at IS NULL;
CREATE INDEX reports_acked ON reports (acked_at) WHERE acked_at IS NOT NULL;
CREATE INDEX reports_case ON reports (case_id);
CREATE INDEX reports_received ON reports (received_at) WHERE acked_at IS NULL;

CREATE TABLE attachments (
    report_id    BYTEA NOT NULL REFERENCES reports (report_id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    sealed_size  BIGINT NOT NULL,
    received     BIGINT NOT NULL DEFAULT 0,
    complete     BOOLEAN NOT NULL DEFAULT FALSE,
    upload_hash  BYTEA,
    PRIMARY KEY (report_id, idx)
);
CREATE INDEX attachments_incomplete ON attachments (report_id) WHERE NOT complete;

CREATE TABLE attachment_chunks (
    report_id     BYTEA NOT NULL,
    idx           INTEGER NOT NULL,
    chunk_offset  BIGINT NOT NULL,
    bytes         BYTEA NOT NULL,
    PRIMARY KEY (report_id, idx, chunk_offset),
    FOREIGN KEY (report_id, idx) REFERENCES attachments (report_id, idx) ON DELETE CASCADE
);

CREATE TABLE messages (
    -- Allocated under the case's row lock (see `cases.rs`), so that within a case the
    -- sequence numbers become visible in order and a reader's `seq > after` cursor skips none.
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id      BYTEA NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
    message_id   BYTEA NOT NULL UNIQUE,
    direction    TEXT NOT NULL CHECK (direction IN ('to_unit', 'to_reporter')),
    created_at   BIGINT NOT NULL,
    envelope     BYTEA NOT NULL
);
CREATE INDEX messages_case ON messages (case_id, seq);

CREATE TABLE alerts (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    BYTEA NOT NULL UNIQUE,
    unit_id     TEXT NOT NULL,
    regions     TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    signed      BYTEA NOT NULL
);
CREATE INDEX alerts_expiry ON alerts (expires_at);

-- Regions in ASCII lower case (`store::alert_region_keys`), so that matching ignores case as
-- SQLite's NOCASE does.
CREATE TABLE alert_regions (
    region    TEXT NOT NULL,
    alert_id  BYTEA NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
    PRIMARY KEY (region, alert_id)
);
CREATE INDEX alert_regions_alert ON alert_regions (alert_id);

-- One published directory per format (apps reading only an older format keep getting one).
CREATE TABLE directories (
    format   INTEGER PRIMARY KEY,
    version  BIGINT NOT NULL,
    signed   BYTEA NOT NULL
);

-- What live desk streams on every node are woken for: one row per report queued for a unit
-- (new or transferred) and per reporter's follow-up. A node reads the rows after its cursor
-- when `NOTIFY tipline_push` wakes it (the notification carries nothing) and on a slow
-- periodic check. Rows hold no content; retention deletes old ones.
CREATE TABLE push_events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id      TEXT NOT NULL,
    case_id      BYTEA,
    message_seq  BIGINT,
    created_at   BIGINT NOT NULL
);
