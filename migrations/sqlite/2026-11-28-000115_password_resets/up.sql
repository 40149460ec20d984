-- One-time password reset links, for staff users and portal contacts: only a hash of the
-- token is stored; a link expires, works once (a conditional update sets used_at), and a
-- successful reset voids the account's other open links.
-- INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL is the auto-incrementing primary key, TIMESTAMP a UTC timestamp.

CREATE TABLE password_resets (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
  contact_id BIGINT REFERENCES contacts(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  -- The client address that asked for the link (shown in the mail, kept for the audit).
  client_addr TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP
);
CREATE INDEX password_resets_user ON password_resets(user_id);
CREATE INDEX password_resets_contact ON password_resets(contact_id);
