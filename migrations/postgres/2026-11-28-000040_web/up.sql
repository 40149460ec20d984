-- The web UI's sign-in state: server-side sessions (only a hash of the cookie is stored),
-- staff TOTP secrets and their one-time recovery codes, and contacts' invite links.
-- BIGSERIAL PRIMARY KEY is the auto-incrementing primary key, TIMESTAMP a UTC timestamp, BOOLEAN a boolean.

CREATE TABLE web_sessions (
  id BIGSERIAL PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
  contact_id BIGINT REFERENCES contacts(id) ON DELETE CASCADE,
  auth_version BIGINT NOT NULL,
  -- '' signed in; 'totp' waiting for the second factor; 'enrol' must set up TOTP first.
  pending TEXT NOT NULL DEFAULT '',
  client_addr TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  last_seen_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);
CREATE INDEX web_sessions_contact ON web_sessions(contact_id);
CREATE INDEX web_sessions_expires ON web_sessions(expires_at);

CREATE TABLE user_totp (
  user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  -- The shared secret, encrypted with a key derived from the master secret.
  secret_enc TEXT NOT NULL,
  confirmed_at TIMESTAMP,
  -- The last 30-second step a code was accepted for: a code is never accepted twice.
  last_step BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL
);

CREATE TABLE recovery_codes (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

CREATE TABLE contact_invites (
  id BIGSERIAL PRIMARY KEY,
  contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_by BIGINT REFERENCES users(id),
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP
);
CREATE INDEX contact_invites_contact ON contact_invites(contact_id);
