-- Intake in fewer statements.
--
-- `tipline_submit_many` decides each report as migration 0003's did, in three statements
-- instead of five when every report of the batch is new (as under a surge): the lookup of the
-- reports stored before and the insert of the new cases are one statement, the insert of the
-- reports and of their push events another, and the outcomes are returned without reading
-- the stored rows back when every report was stored now. The lookup and the insert of the
-- cases now share one snapshot instead of two a moment apart; a report another node stores in
-- that moment is met, as before, by the insert of the reports, which waits for the other
-- transaction and leaves the stored row to decide.

CREATE OR REPLACE FUNCTION tipline_submit_many(
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
    decided        TEXT[];
    candidates     INTEGER;
    created_cases  BYTEA[];
    stored         BYTEA[];
BEGIN
    -- Reports stored before, and the cases of the others: created, or found (then decided
    -- below). Those created at the same moment by another node are waited for by the insert.
    WITH x AS (
        SELECT u.case_id, u.unit_id, u.secret_hash, u.received_at, u.i, r.report_id IS NOT NULL AS found
        FROM unnest(p_report_ids, p_case_ids, p_unit_ids, p_secret_hashes, p_received_at) WITH ORDINALITY
             AS u (report_id, case_id, unit_id, secret_hash, received_at, i)
        LEFT JOIN reports r ON r.report_id = u.report_id
    ), inserted AS (
        INSERT INTO cases (case_id, unit_id, secret_hash, created_at)
        SELECT x.case_id, x.unit_id, x.secret_hash, x.received_at FROM x
        WHERE NOT x.found
        ORDER BY x.case_id
        ON CONFLICT (case_id) DO NOTHING
        RETURNING case_id
    )
    SELECT array_agg(CASE WHEN x.found THEN 'exists' END ORDER BY x.i),
           count(*) FILTER (WHERE NOT x.found),
           (SELECT coalesce(array_agg(inserted.case_id), '{}') FROM inserted)
    INTO decided, candidates, created_cases
    FROM x;
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
    -- The reports, and a push event per unit of those stored. One raced to another node waits
    -- for the other transaction, then is not inserted if it committed, and the stored row
    -- decides.
    WITH inserted AS (
        INSERT INTO reports (report_id, unit_id, case_id, state, received_at, envelope_sha256, receipt, envelope)
        SELECT x.report_id, x.unit_id, x.case_id, 'queued', x.received_at, x.sha256, x.receipt, x.envelope
        FROM unnest(p_report_ids, p_unit_ids, p_case_ids, p_received_at, p_sha256, p_receipts, p_envelopes)
             WITH ORDINALITY AS x (report_id, unit_id, case_id, received_at, sha256, receipt, envelope, i)
        WHERE decided[x.i] IS NULL
        ORDER BY x.case_id
        ON CONFLICT (report_id) DO NOTHING
        RETURNING report_id, unit_id
    ), events AS (
        INSERT INTO push_events (unit_id, created_at, origin)
        SELECT DISTINCT inserted.unit_id, p_now, p_origin FROM inserted
    )
    SELECT coalesce(array_agg(inserted.report_id), '{}') INTO stored FROM inserted;
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
    -- Every report stored now (as under a surge): nothing to read back.
    IF cardinality(stored) = cardinality(p_report_ids) THEN
        RETURN QUERY SELECT g::INTEGER, 'created'::TEXT, NULL::BYTEA, NULL::BYTEA
                     FROM generate_series(1, cardinality(p_report_ids)) AS g;
        RETURN;
    END IF;
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
ALTER FUNCTION tipline_submit_many SET enable_seqscan = off;
ALTER FUNCTION tipline_submit_many SET plan_cache_mode = force_generic_plan;

