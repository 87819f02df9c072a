-- Intake in one round trip: a submission is one call of `tipline_submit`, run by PostgreSQL in
-- one implicit transaction (one commit, one WAL flush), instead of a transaction of five
-- statements from the node. And the push event of a change is written in the change's own
-- transaction, so that there is an event exactly when the change committed (no second commit
-- per submission, no event lost if a node dies between the two).

-- The node that recorded an event (a random number each server process picks at start), so
-- that a node does not wake its own streams twice: it woke them when it made the change.
ALTER TABLE push_events ADD COLUMN origin BIGINT;

-- Stores a report (and its case, if new, and its declared attachments) with a push event.
-- `outcome` is one of:
--   'created'        stored now;
--   'exists'         a report is stored under this id: `stored_sha256` and `stored_receipt`
--                    are its digest and receipt (the node tells a duplicate from a conflict);
--   'case_conflict'  the case id is taken with another secret; nothing stored;
--   'conflict'       the id was taken at the same moment and the row is gone again (retention).
-- PL/pgSQL runs each statement with a fresh snapshot (READ COMMITTED), so a row another node
-- committed while this call waited on its lock is seen by the next statement, as in the
-- transaction of separate statements this replaces.
CREATE FUNCTION tipline_submit(
    p_report_id    BYTEA,
    p_unit_id      TEXT,
    p_case_id      BYTEA,
    p_secret_hash  BYTEA,
    p_received_at  BIGINT,
    p_sha256       BYTEA,
    p_receipt      BYTEA,
    p_envelope     BYTEA,
    p_indexes      INTEGER[],
    p_sizes        BIGINT[],
    p_origin       BIGINT,
    p_now          BIGINT,
    OUT outcome         TEXT,
    OUT stored_sha256   BYTEA,
    OUT stored_receipt  BYTEA
) LANGUAGE plpgsql AS $$
DECLARE
    case_hash     BYTEA;
    case_created  INTEGER;
BEGIN
    SELECT r.envelope_sha256, r.receipt INTO stored_sha256, stored_receipt
    FROM reports r WHERE r.report_id = p_report_id;
    IF FOUND THEN
        outcome := 'exists';
        RETURN;
    END IF;
    -- The case: created, or found with the same secret (another report of the same reporter;
    -- the case stays with the unit that handles it now). One created at the same moment by
    -- another node is waited for by the insert, then read.
    INSERT INTO cases (case_id, unit_id, secret_hash, created_at)
    VALUES (p_case_id, p_unit_id, p_secret_hash, p_received_at)
    ON CONFLICT (case_id) DO NOTHING;
    GET DIAGNOSTICS case_created = ROW_COUNT;
    SELECT c.secret_hash INTO case_hash FROM cases c WHERE c.case_id = p_case_id FOR KEY SHARE;
    -- Digests compared, not the hashes themselves, so that the time the comparison takes says
    -- nothing about how much of a stored hash a guess got right.
    IF case_hash IS NULL OR sha256(case_hash) <> sha256(p_secret_hash) THEN
        outcome := 'case_conflict';
        RETURN;
    END IF;
    -- The same id raced to another node: this insert waits for the other transaction, then
    -- does nothing if it committed, and the stored row decides.
    INSERT INTO reports (report_id, unit_id, case_id, state, received_at, envelope_sha256, receipt, envelope)
    VALUES (p_report_id, p_unit_id, p_case_id, 'queued', p_received_at, p_sha256, p_receipt, p_envelope)
    ON CONFLICT (report_id) DO NOTHING;
    IF NOT FOUND THEN
        -- A case this call created for a report it did not store goes again.
        IF case_created > 0 THEN
            DELETE FROM cases WHERE case_id = p_case_id;
        END IF;
        SELECT r.envelope_sha256, r.receipt INTO stored_sha256, stored_receipt
        FROM reports r WHERE r.report_id = p_report_id;
        outcome := CASE WHEN FOUND THEN 'exists' ELSE 'conflict' END;
        RETURN;
    END IF;
    IF cardinality(p_indexes) > 0 THEN
        INSERT INTO attachments (report_id, idx, sealed_size, received, complete)
        SELECT p_report_id, d.idx, d.size, 0, d.size = 0
        FROM UNNEST(p_indexes, p_sizes) AS d (idx, size);
    END IF;
    INSERT INTO push_events (unit_id, created_at, origin) VALUES (p_unit_id, p_now, p_origin);
    outcome := 'created';
END;
$$;
