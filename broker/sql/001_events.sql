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
  -- Made by the broker (its id, process incarnation, sequence): a retried append skips ids it finds.
  event_id        text        NOT NULL UNIQUE,
  -- task-<id>, agent-<id>, request-<id>, topic-<topic>; later workflow-<id>.
  stream          text        NOT NULL,
  -- 1, 2, 3, ... within the stream, across brokers, without gaps.
  stream_position integer     NOT NULL,
  type            text        NOT NULL,
  -- When it happened, by the recording broker's clock.
  recorded_at     timestamptz NOT NULL,
  broker_id       text        NOT NULL,
  -- The bus's event (TaskEvent, AgentEvent, MessageEvent) without its payload.
  data            jsonb       NOT NULL,
  -- A task's input or output, or a message body, with --events-payloads (one MessagePack document).
  payload         bytea,
  -- broker_id, agent_id, correlation (the task or request id), causation (the cause).
  metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  UNIQUE (stream, stream_position)
);

CREATE INDEX agentwire_events_recorded_at ON agentwire_events (recorded_at, position);
CREATE INDEX agentwire_events_type ON agentwire_events (type, position);

-- Appends a batch: one call, one transaction. The advisory lock orders appends from every broker, so
-- positions follow commit order and stream positions are counted from what is committed. Rows whose
-- event_id is already stored (a retry after a lost answer) are skipped, before positions are given.
CREATE FUNCTION agentwire_append(
  ids text[], streams text[], types text[], ats bigint[], brokers text[], datas jsonb[], payloads bytea[], metas jsonb[]
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  inserted integer;
BEGIN
  PERFORM pg_advisory_xact_lock(7420001);
  INSERT INTO agentwire_events (event_id, stream, stream_position, type, recorded_at, broker_id, data, payload, metadata)
  SELECT v.id, v.stream,
         COALESCE((SELECT max(e.stream_position) FROM agentwire_events e WHERE e.stream = v.stream), 0)
           + row_number() OVER (PARTITION BY v.stream ORDER BY v.ord),
         v.type, 'epoch'::timestamptz + v.at * interval '1 millisecond', v.broker, v.data, v.payload, v.meta
  FROM unnest(ids, streams, types, ats, brokers, datas, payloads, metas)
       WITH ORDINALITY AS v(id, stream, type, at, broker, data, payload, meta, ord)
  WHERE NOT EXISTS (SELECT 1 FROM agentwire_events e WHERE e.event_id = v.id)
  ORDER BY v.ord;
  GET DIAGNOSTICS inserted = ROW_COUNT;
  RETURN inserted;
END $$;

INSERT INTO agentwire_schema (version) VALUES (1);
