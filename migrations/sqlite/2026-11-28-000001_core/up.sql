-- Core ticketing: companies, people, queues, tickets and their threads, plus the
-- plumbing every feature shares (change log, jobs, notifications, audit log).
-- INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL is the auto-incrementing primary key, TIMESTAMP a UTC timestamp, BOOLEAN a boolean.

CREATE TABLE companies (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name TEXT NOT NULL,
  name_key TEXT NOT NULL UNIQUE,
  phone TEXT NOT NULL DEFAULT '',
  notes TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE company_domains (
  domain TEXT PRIMARY KEY NOT NULL,
  company_id BIGINT NOT NULL REFERENCES companies(id) ON DELETE CASCADE
);
CREATE INDEX company_domains_company ON company_domains(company_id);

CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  active BOOLEAN NOT NULL DEFAULT 1,
  auth_version BIGINT NOT NULL DEFAULT 1,
  timezone TEXT NOT NULL DEFAULT 'UTC',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE contacts (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  company_id BIGINT NOT NULL REFERENCES companies(id),
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  phone TEXT NOT NULL DEFAULT '',
  password_hash TEXT,
  active BOOLEAN NOT NULL DEFAULT 1,
  auth_version BIGINT NOT NULL DEFAULT 1,
  timezone TEXT NOT NULL DEFAULT 'UTC',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE INDEX contacts_company ON contacts(company_id, name);

CREATE TABLE queues (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name TEXT NOT NULL UNIQUE,
  is_triage BOOLEAN NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL
);

CREATE TABLE queue_members (
  queue_id BIGINT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES users(id),
  is_dispatcher BOOLEAN NOT NULL DEFAULT 0,
  PRIMARY KEY (queue_id, user_id)
);

CREATE TABLE tickets (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  subject TEXT NOT NULL,
  company_id BIGINT REFERENCES companies(id),
  requester_id BIGINT REFERENCES contacts(id),
  status TEXT NOT NULL,
  priority BIGINT NOT NULL,
  queue_id BIGINT NOT NULL REFERENCES queues(id),
  assignee_id BIGINT REFERENCES users(id),
  merged_into_id BIGINT REFERENCES tickets(id),
  source TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  last_activity_at TIMESTAMP NOT NULL,
  resolved_at TIMESTAMP,
  closed_at TIMESTAMP
);
CREATE INDEX tickets_created ON tickets(created_at, id);
CREATE INDEX tickets_updated ON tickets(updated_at, id);
CREATE INDEX tickets_company_status ON tickets(company_id, status, created_at, id);
CREATE INDEX tickets_status ON tickets(status, created_at, id);
CREATE INDEX tickets_assignee ON tickets(assignee_id, status);
CREATE INDEX tickets_queue ON tickets(queue_id, status);
CREATE INDEX tickets_requester ON tickets(requester_id);

CREATE TABLE ticket_tags (
  ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (ticket_id, tag)
);
CREATE INDEX ticket_tags_tag ON ticket_tags(tag, ticket_id);

CREATE TABLE ticket_watchers (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  user_id BIGINT REFERENCES users(id),
  contact_id BIGINT REFERENCES contacts(id)
);
CREATE UNIQUE INDEX ticket_watchers_user ON ticket_watchers(ticket_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX ticket_watchers_contact ON ticket_watchers(ticket_id, contact_id) WHERE contact_id IS NOT NULL;

-- The thread: public replies (staff or contact) and internal notes (staff only).
CREATE TABLE ticket_entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  ticket_id BIGINT NOT NULL REFERENCES tickets(id),
  kind TEXT NOT NULL,
  author_user_id BIGINT REFERENCES users(id),
  author_contact_id BIGINT REFERENCES contacts(id),
  author_label TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL,
  body_html TEXT,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_entries_ticket ON ticket_entries(ticket_id, created_at, id);

CREATE TABLE time_entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  ticket_id BIGINT NOT NULL REFERENCES tickets(id),
  user_id BIGINT NOT NULL REFERENCES users(id),
  entry_id BIGINT REFERENCES ticket_entries(id),
  minutes BIGINT NOT NULL,
  billable BOOLEAN NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX time_entries_ticket ON time_entries(ticket_id);

CREATE TABLE ticket_links (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  ticket_id BIGINT NOT NULL REFERENCES tickets(id),
  other_ticket_id BIGINT NOT NULL REFERENCES tickets(id),
  kind TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  UNIQUE (ticket_id, other_ticket_id, kind)
);
CREATE INDEX ticket_links_other ON ticket_links(other_ticket_id);

-- Every change to a ticket: who, what, when, old -> new.
CREATE TABLE ticket_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  ticket_id BIGINT NOT NULL REFERENCES tickets(id),
  actor_user_id BIGINT REFERENCES users(id),
  actor_contact_id BIGINT REFERENCES contacts(id),
  kind TEXT NOT NULL,
  old_value TEXT,
  new_value TEXT,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id);

CREATE TABLE notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id BIGINT REFERENCES users(id),
  contact_id BIGINT REFERENCES contacts(id),
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '',
  ticket_id BIGINT REFERENCES tickets(id),
  link TEXT NOT NULL DEFAULT '',
  read_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX notifications_user ON notifications(user_id, read_at, id);
CREATE INDEX notifications_contact ON notifications(contact_id, read_at, id);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  actor_user_id BIGINT REFERENCES users(id),
  action TEXT NOT NULL,
  target_kind TEXT NOT NULL,
  target_id BIGINT,
  detail TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_created ON audit_log(created_at, id);

CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  token_prefix TEXT NOT NULL,
  scope TEXT NOT NULL,
  auth_version BIGINT NOT NULL,
  expires_at TIMESTAMP,
  revoked_at TIMESTAMP,
  last_used_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

-- Append-only log of what changed, tailed by the search indexer (and later readers).
CREATE TABLE change_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  entity TEXT NOT NULL,
  entity_id BIGINT NOT NULL,
  created_at TIMESTAMP NOT NULL
);

-- Durable work: claimed with a lease, handlers idempotent.
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  dedupe_key TEXT UNIQUE,
  run_at TIMESTAMP NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  locked_until TIMESTAMP,
  last_error TEXT,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX jobs_due ON jobs(run_at, id);

CREATE TABLE settings (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);

INSERT INTO queues (name, is_triage, created_at) VALUES ('Support', 0, CURRENT_TIMESTAMP);
INSERT INTO queues (name, is_triage, created_at) VALUES ('Triage', 1, CURRENT_TIMESTAMP);
