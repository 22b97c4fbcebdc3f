-- agentwire event store, schema version 1 (docs/events.md, "PostgreSQL").
-- The broker applies this itself on start (--events postgres://...), inside a transaction, under an
-- advisory lock, and records it in agentwire_schema. Operators who run migrations themselves apply
-- this file first (psql -v ON_ERROR_STOP=1 -1 -f 001_events.sql); the broker then finds version 1
-- recorded and changes nothing.

CREATE TABLE IF NOT EXISTS agentwire_schema (
  version    integer PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- One append-only table for every broker of a mesh.
CREATE TABLE agentwire_events (
  -- Global order. Appends take agentwire_append's lock, so positions are handed out in commit
  -- order: a reader that saw position p never later finds a new event below p.
  position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- <broker_id>.e<incarnation>-<n>: the writing broker process and the event's number in it.
  -- Unique by construction (agentwire_writers skips what a process already wrote).
  event_id        text        NOT NULL,
  -- task-<id>, agent-<id>, request-<id>, topic-<topic>; later workflow-<id>.
  stream          text        NOT NULL,
  -- 1, 2, 3, ... within the stream, across brokers, without gaps.
  stream_position integer     NOT NULL,
  type            text        NOT NULL,
  -- When it happened, by the recording broker's clock.
  recorded_at     timestamptz NOT NULL,
  broker_id       text        NOT NULL,
  -- The bus's event (TaskEvent, AgentEvent, MessageEvent) without its payload. json, not jsonb:
  -- stored as written, which costs the database half the CPU per event of jsonb (bench/README).
  data            json        NOT NULL,
  -- A task's input or output, or a message body, with --events-payloads (one MessagePack document).
  payload         bytea,
  -- broker_id, agent_id, correlation_id (the task or request id), causation (the cause).
  metadata        json        NOT NULL DEFAULT '{}'::json,
  UNIQUE (stream, stream_position)
);

-- Time ranges: rows arrive in time order, so a BRIN index finds a range for almost no write cost.
CREATE INDEX agentwire_events_recorded_at ON agentwire_events USING brin (recorded_at);

-- The last event number each broker process wrote: a batch sent again after a lost answer is
-- skipped up to it. A process writes its events in order, one batch at a time.
CREATE TABLE agentwire_writers (
  writer     text   PRIMARY KEY,
  last_seq   bigint NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now()
);

-- Appends a batch of one broker process: one call, one transaction. `batch` is a JSON array of
-- {"n", "stream", "type", "at", "broker", "data", "payload" (base64 or null), "meta"} in the order
-- of n; `last` is its highest n. The advisory lock orders appends from every broker, so positions
-- follow commit order and stream positions are counted from what is committed. Events the process
-- already wrote (n <= its last_seq) are skipped, before positions are given.
CREATE FUNCTION agentwire_append(p_writer text, p_batch json, p_last bigint) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  done     bigint;
  inserted integer;
BEGIN
  PERFORM pg_advisory_xact_lock(7420001);
  SELECT w.last_seq INTO done FROM agentwire_writers w WHERE w.writer = p_writer;
  WITH v AS (
    SELECT r.* FROM json_to_recordset(p_batch)
      AS r(n bigint, stream text, type text, at bigint, broker text, data json, payload text, meta json)
    WHERE r.n > COALESCE(done, 0)
  ), heads AS (
    SELECT s.stream, COALESCE((SELECT max(e.stream_position) FROM agentwire_events e WHERE e.stream = s.stream), 0) AS last
    FROM (SELECT DISTINCT v.stream FROM v) s
  )
  INSERT INTO agentwire_events (event_id, stream, stream_position, type, recorded_at, broker_id, data, payload, metadata)
  SELECT p_writer || v.n, v.stream, h.last + row_number() OVER (PARTITION BY v.stream ORDER BY v.n), v.type,
         'epoch'::timestamptz + v.at * interval '1 millisecond', v.broker, v.data, decode(v.payload, 'base64'), v.meta
  FROM v JOIN heads h ON h.stream = v.stream
  ORDER BY v.n;
  GET DIAGNOSTICS inserted = ROW_COUNT;
  INSERT INTO agentwire_writers AS w (writer, last_seq) VALUES (p_writer, p_last)
  ON CONFLICT (writer) DO UPDATE SET last_seq = greatest(w.last_seq, excluded.last_seq), written_at = now();
  RETURN inserted;
END $$;

INSERT INTO agentwire_schema (version) VALUES (1);
