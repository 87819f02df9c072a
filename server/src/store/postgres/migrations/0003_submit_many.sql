-- Intake in batches: a node gathers the submissions that arrive while its earlier batches are
-- being committed and stores them with one call of `tipline_submit_many`, one round trip and one
-- commit for the lot (the node's side is `batch.rs`). The function works on the whole batch at
-- once, a few statements for all of its reports instead of `tipline_submit`'s statements for
-- each (five when every report is new, as under a surge), and decides for each report what
-- `tipline_submit` decides:
--   'created'        stored now;
--   'exists'         a report is stored under this id: `stored_sha256` and `stored_receipt`
--                    are its digest and receipt;
--   'case_conflict'  the case id is taken with another secret; nothing stored;
--   'conflict'       the id was taken at the same moment and the row is gone again (retention).
--
-- The arrays are parallel, one element per report, except the declared attachments:
-- `p_attachment_of[k]` is the position (from 1) of the report that declares attachment
-- `p_indexes[k]` of sealed size `p_sizes[k]`. The report ids of one batch are distinct (the
-- node stores a repeat within a batch after it, alone). One row is returned per report,
-- `item` its position. An error aborts the whole call, and the node then stores the batch's
-- reports one call each, so that a report PostgreSQL refuses fails alone.
--
-- As in `tipline_submit`, each statement runs with a fresh snapshot (READ COMMITTED), so a row
-- another node committed while a statement waited on its lock is seen by the next one. The
-- push event is one per unit of the batch, not per report: an event only wakes the unit's
-- desks, which then lease whatever is queued.
CREATE FUNCTION tipline_submit_many(
    p_report_ids     BYTEA[],
    p_unit_ids       TEXT[],
    p_case_ids       BYTEA[],
    p_secret_hashes  BYTEA[],
    p_received_at    BIGINT[],
    p_sha256         BYTEA[],
    p_receipts       BYTEA[],
    p_envelopes      BYTEA[],
    p_attachment_of  INTEGER[],
    p_indexes        INTEGER[],
    p_sizes          BIGINT[],
    p_origin         BIGINT,
    p_now            BIGINT
) RETURNS TABLE (item INTEGER, outcome TEXT, stored_sha256 BYTEA, stored_receipt BYTEA)
LANGUAGE plpgsql AS $$
DECLARE
    -- Per report, what is decided before the insert: NULL (to store), 'exists' (stored
    -- before), 'case_conflict' (its case has another secret).
    decided        TEXT[];
    -- How many reports are to store.
    candidates     INTEGER;
    created_cases  BYTEA[];
    stored         BYTEA[];
BEGIN
    -- Reports stored before.
    SELECT array_agg(CASE WHEN r.report_id IS NULL THEN NULL ELSE 'exists' END ORDER BY x.i),
           count(*) FILTER (WHERE r.report_id IS NULL)
    INTO decided, candidates
    FROM unnest(p_report_ids) WITH ORDINALITY AS x (id, i)
    LEFT JOIN reports r ON r.report_id = x.id;
    -- Their cases: created, or found with the same secret. Those created at the same moment by
    -- another node are waited for by the insert.
    WITH inserted AS (
        INSERT INTO cases (case_id, unit_id, secret_hash, created_at)
        SELECT x.case_id, x.unit_id, x.secret_hash, x.received_at
        FROM unnest(p_case_ids, p_unit_ids, p_secret_hashes, p_received_at) WITH ORDINALITY
             AS x (case_id, unit_id, secret_hash, received_at, i)
        WHERE decided[x.i] IS NULL
        ORDER BY x.case_id
        ON CONFLICT (case_id) DO NOTHING
        RETURNING case_id
    )
    SELECT coalesce(array_agg(case_id), '{}') INTO created_cases FROM inserted;
    -- Unless each report to store created a case of its own (then each has its secret), the
    -- cases found are locked against retention and their secrets compared: digests compared,
    -- not the hashes themselves, so that the time the comparison takes says nothing about how
    -- much of a stored hash a guess got right.
    IF cardinality(created_cases) < candidates THEN
        PERFORM 1 FROM cases c
        WHERE c.case_id = ANY (p_case_ids) AND NOT c.case_id = ANY (created_cases)
        ORDER BY c.case_id
        FOR KEY SHARE;
        decided := ARRAY(
            SELECT CASE
                WHEN x.decided IS NOT NULL THEN x.decided
                WHEN c.secret_hash IS NULL OR sha256(c.secret_hash) <> sha256(x.secret_hash) THEN 'case_conflict'
            END
            FROM unnest(p_case_ids, p_secret_hashes, decided) WITH ORDINALITY AS x (case_id, secret_hash, decided, i)
            LEFT JOIN cases c ON c.case_id = x.case_id
            ORDER BY x.i
        );
    END IF;
    -- The reports. One raced to another node waits for the other transaction, then is not
    -- inserted if it committed, and the stored row decides.
    WITH inserted AS (
        INSERT INTO reports (report_id, unit_id, case_id, state, received_at, envelope_sha256, receipt, envelope)
        SELECT x.report_id, x.unit_id, x.case_id, 'queued', x.received_at, x.sha256, x.receipt, x.envelope
        FROM unnest(p_report_ids, p_unit_ids, p_case_ids, p_received_at, p_sha256, p_receipts, p_envelopes)
             WITH ORDINALITY AS x (report_id, unit_id, case_id, received_at, sha256, receipt, envelope, i)
        WHERE decided[x.i] IS NULL
        ORDER BY x.case_id
        ON CONFLICT (report_id) DO NOTHING
        RETURNING report_id
    )
    SELECT coalesce(array_agg(report_id), '{}') INTO stored FROM inserted;
    -- A case this call created for a report it did not store goes again.
    IF cardinality(created_cases) > 0 AND cardinality(stored) < candidates THEN
        DELETE FROM cases
        WHERE case_id = ANY (created_cases)
          AND case_id IN (
              SELECT x.case_id FROM unnest(p_report_ids, p_case_ids, decided) AS x (report_id, case_id, decided)
              WHERE x.decided IS NULL AND NOT x.report_id = ANY (stored)
          );
    END IF;
    IF cardinality(p_attachment_of) > 0 THEN
        INSERT INTO attachments (report_id, idx, sealed_size, received, complete)
        SELECT p_report_ids[d.report], d.idx, d.size, 0, d.size = 0
        FROM unnest(p_attachment_of, p_indexes, p_sizes) AS d (report, idx, size)
        WHERE p_report_ids[d.report] = ANY (stored);
    END IF;
    INSERT INTO push_events (unit_id, created_at, origin)
    SELECT DISTINCT x.unit_id, p_now, p_origin
    FROM unnest(p_report_ids, p_unit_ids) AS x (report_id, unit_id)
    WHERE x.report_id = ANY (stored);
    RETURN QUERY
    SELECT x.i::INTEGER,
           CASE
               WHEN x.decided = 'case_conflict' THEN x.decided
               WHEN x.decided IS NULL AND x.report_id = ANY (stored) THEN 'created'
               WHEN r.report_id IS NOT NULL THEN 'exists'
               ELSE 'conflict'
           END,
           r.envelope_sha256,
           r.receipt
    FROM unnest(p_report_ids, decided) WITH ORDINALITY AS x (report_id, decided, i)
    LEFT JOIN reports r ON r.report_id = x.report_id
                       AND (x.decided = 'exists' OR (x.decided IS NULL AND NOT x.report_id = ANY (stored)))
    ORDER BY x.i;
END;
$$;

-- Every statement above reaches the tables by primary key, for a batch of at most a few dozen
-- reports: an index scan is always the right plan. The planner is told so (a sequential scan
-- is made to look prohibitively dear, not forbidden), and plans once per connection instead of
-- for each call. Without this, a plan made while the tables were small (a new database: no
-- statistics yet) scanned the whole of `reports` for each batch once they had grown.
ALTER FUNCTION tipline_submit_many SET enable_seqscan = off;
ALTER FUNCTION tipline_submit_many SET plan_cache_mode = force_generic_plan;
