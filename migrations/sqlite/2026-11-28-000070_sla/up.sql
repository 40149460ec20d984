-- SLA engine: business calendars, policies (per priority targets), per-ticket clocks with
-- their stored running segments, and an append-only log of every clock change.

CREATE TABLE sla_calendars (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name TEXT NOT NULL UNIQUE,
  timezone TEXT NOT NULL,
  -- JSON: [{"weekday":0,"start":540,"end":1020}, ...] (minutes after local midnight)
  hours TEXT NOT NULL,
  -- JSON: [{"date":"2026-12-25","yearly":true,"name":"Christmas"}, ...]
  holidays TEXT NOT NULL DEFAULT '[]',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE sla_policies (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name TEXT NOT NULL UNIQUE,
  is_default BOOLEAN NOT NULL DEFAULT 0,
  -- NULL: targets count calendar time.
  calendar_id BIGINT REFERENCES sla_calendars(id),
  -- JSON: {"low":{"first_response":1440,"next_update":1440,"resolution":null}, ...} (minutes)
  targets TEXT NOT NULL,
  warn_percent BIGINT NOT NULL DEFAULT 75,
  pause_on_third_party BOOLEAN NOT NULL DEFAULT 0,
  breach_raise_priority BOOLEAN NOT NULL DEFAULT 0,
  breach_reassign_to BIGINT REFERENCES users(id),
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

-- A company's contract: its policy (companies without a row use the default policy).
CREATE TABLE sla_company_policies (
  company_id BIGINT PRIMARY KEY NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
  policy_id BIGINT NOT NULL REFERENCES sla_policies(id)
);
CREATE INDEX sla_company_policies_policy ON sla_company_policies(policy_id);

CREATE TABLE sla_clocks (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  ticket_id BIGINT NOT NULL REFERENCES tickets(id),
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  policy_id BIGINT,
  calendar_id BIGINT,
  target_minutes BIGINT,
  -- JSON: closed running segments [[start_us, end_us], ...]; the open one is running_since.
  segments TEXT NOT NULL DEFAULT '[]',
  running_since TIMESTAMP,
  warn_at TIMESTAMP,
  due_at TIMESTAMP,
  warned_at TIMESTAMP,
  breached_at TIMESTAMP,
  met_at TIMESTAMP,
  started_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  UNIQUE (ticket_id, kind)
);
CREATE INDEX sla_clocks_due ON sla_clocks(state, due_at);

CREATE TABLE sla_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  ticket_id BIGINT NOT NULL REFERENCES tickets(id),
  clock_kind TEXT NOT NULL,
  event TEXT NOT NULL,
  -- Business seconds the clock had run when this happened.
  elapsed_seconds BIGINT NOT NULL,
  target_minutes BIGINT,
  due_at TIMESTAMP,
  company_id BIGINT,
  assignee_id BIGINT,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX sla_events_ticket ON sla_events(ticket_id, id);
CREATE INDEX sla_events_created ON sla_events(created_at, event);

-- The job worker finds the earliest lease to expire without scanning every waiting job.
CREATE INDEX jobs_leased ON jobs(locked_until) WHERE locked_until IS NOT NULL;

-- The ticket's next running deadline, for sorting and filtering lists (far future: none).
ALTER TABLE tickets ADD COLUMN sla_due_at TIMESTAMP NOT NULL DEFAULT '9999-12-31 00:00:00';
CREATE INDEX tickets_sla_due ON tickets(sla_due_at, id);

INSERT INTO sla_policies (name, is_default, calendar_id, targets, warn_percent, created_at, updated_at) VALUES (
  'Default: 24-hour promise', 1, NULL,
  '{"low":{"first_response":1440,"next_update":1440,"resolution":null},"normal":{"first_response":1440,"next_update":1440,"resolution":null},"high":{"first_response":1440,"next_update":1440,"resolution":null},"urgent":{"first_response":1440,"next_update":1440,"resolution":null}}',
  75, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
