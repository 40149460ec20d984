-- Development threads: products and their releases, bug reports and feature requests
-- customers join, vote on and hear back from.

CREATE TABLE products (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL
);

CREATE TABLE releases (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  product_id BIGINT NOT NULL REFERENCES products(id),
  version TEXT NOT NULL,
  build TEXT NOT NULL,
  status TEXT NOT NULL,
  release_date TIMESTAMP,
  notes TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  UNIQUE (product_id, build)
);

CREATE TABLE dev_threads (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  product_id BIGINT NOT NULL REFERENCES products(id),
  affected_release_id BIGINT REFERENCES releases(id),
  fixed_in_release_id BIGINT REFERENCES releases(id),
  status TEXT NOT NULL,
  duplicate_of_id BIGINT REFERENCES dev_threads(id),
  visibility TEXT NOT NULL,
  owner_user_id BIGINT REFERENCES users(id),
  shortcut TEXT NOT NULL UNIQUE,
  vote_count BIGINT NOT NULL DEFAULT 0,
  subscriber_count BIGINT NOT NULL DEFAULT 0,
  last_activity_at TIMESTAMP NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX dev_threads_votes ON dev_threads(visibility, vote_count, id);
CREATE INDEX dev_threads_activity ON dev_threads(visibility, last_activity_at, id);
CREATE INDEX dev_threads_status ON dev_threads(status, id);
CREATE INDEX dev_threads_votes_all ON dev_threads(vote_count, id);
CREATE INDEX dev_threads_activity_all ON dev_threads(last_activity_at, id);
CREATE INDEX dev_threads_release ON dev_threads(fixed_in_release_id);

CREATE TABLE dev_labels (
  thread_id BIGINT NOT NULL REFERENCES dev_threads(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  PRIMARY KEY (thread_id, label)
);

CREATE TABLE dev_comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  thread_id BIGINT NOT NULL REFERENCES dev_threads(id),
  internal BOOLEAN NOT NULL,
  author_user_id BIGINT REFERENCES users(id),
  author_contact_id BIGINT REFERENCES contacts(id),
  body TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX dev_comments_thread ON dev_comments(thread_id, id);

-- One vote per person and thread (a person is a staff user or a contact).
CREATE TABLE dev_votes (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  thread_id BIGINT NOT NULL REFERENCES dev_threads(id),
  user_id BIGINT REFERENCES users(id),
  contact_id BIGINT REFERENCES contacts(id),
  created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX dev_votes_user ON dev_votes(thread_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX dev_votes_contact ON dev_votes(thread_id, contact_id) WHERE contact_id IS NOT NULL;

CREATE TABLE dev_subscriptions (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  thread_id BIGINT NOT NULL REFERENCES dev_threads(id),
  user_id BIGINT REFERENCES users(id),
  contact_id BIGINT REFERENCES contacts(id),
  created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX dev_subscriptions_user ON dev_subscriptions(thread_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX dev_subscriptions_contact ON dev_subscriptions(thread_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX dev_subscriptions_contact_list ON dev_subscriptions(contact_id, thread_id);

CREATE TABLE dev_ticket_links (
  thread_id BIGINT NOT NULL REFERENCES dev_threads(id),
  ticket_id BIGINT NOT NULL REFERENCES tickets(id),
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (thread_id, ticket_id)
);
CREATE INDEX dev_ticket_links_ticket ON dev_ticket_links(ticket_id);

-- Who has heard that a release shipped (so a replayed fan-out tells nobody twice), and
-- which linked tickets got their "fixed in build" reply.
CREATE TABLE dev_release_notices (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  release_id BIGINT NOT NULL REFERENCES releases(id),
  user_id BIGINT REFERENCES users(id),
  contact_id BIGINT REFERENCES contacts(id),
  ticket_id BIGINT REFERENCES tickets(id),
  created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX dev_release_notices_user ON dev_release_notices(release_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX dev_release_notices_contact ON dev_release_notices(release_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE UNIQUE INDEX dev_release_notices_ticket ON dev_release_notices(release_id, ticket_id) WHERE ticket_id IS NOT NULL;
