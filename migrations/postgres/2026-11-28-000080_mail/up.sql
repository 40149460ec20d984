-- The mail gateway: every message received or sent (exactly-once by Message-ID, threading
-- by References, the quarantine list), attachments stored content-addressed in the data
-- dir, and addresses that hard-bounced.

CREATE TABLE mail_messages (
  id BIGSERIAL PRIMARY KEY,
  direction TEXT NOT NULL,
  message_id TEXT NOT NULL UNIQUE,
  ticket_id BIGINT REFERENCES tickets(id),
  entry_id BIGINT REFERENCES ticket_entries(id),
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  from_addr TEXT NOT NULL DEFAULT '',
  to_addr TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  raw_sha256 TEXT,
  size BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL,
  resolved_at TIMESTAMP,
  resolved_by BIGINT REFERENCES users(id)
);
CREATE INDEX mail_messages_ticket ON mail_messages(ticket_id);
CREATE INDEX mail_messages_status ON mail_messages(direction, status, id);
CREATE INDEX mail_messages_to ON mail_messages(to_addr, kind, created_at);

CREATE TABLE mail_attachments (
  id BIGSERIAL PRIMARY KEY,
  ticket_id BIGINT NOT NULL REFERENCES tickets(id),
  entry_id BIGINT REFERENCES ticket_entries(id),
  filename TEXT NOT NULL,
  content_type TEXT NOT NULL,
  content_id TEXT,
  size BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX mail_attachments_ticket ON mail_attachments(ticket_id, sha256);

CREATE TABLE mail_undeliverable (
  email TEXT PRIMARY KEY NOT NULL,
  reason TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT '',
  ticket_id BIGINT REFERENCES tickets(id),
  created_at TIMESTAMP NOT NULL
);
