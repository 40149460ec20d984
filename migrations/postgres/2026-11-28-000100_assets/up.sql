-- Assets fed by server agents (wrench-agent and OCS/FusionInventory): enrollment keys,
-- agent credentials, the current snapshot with its history of changes, log lines, checks
-- with per-company and per-asset overrides, and the alerts that opened tickets.

CREATE TABLE asset_enrollment_keys (
  id BIGSERIAL PRIMARY KEY,
  company_id BIGINT NOT NULL REFERENCES companies(id),
  label TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  key_hint TEXT NOT NULL,
  created_by BIGINT REFERENCES users(id),
  created_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP,
  use_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX asset_enrollment_keys_company ON asset_enrollment_keys(company_id);

CREATE TABLE assets (
  id BIGSERIAL PRIMARY KEY,
  company_id BIGINT NOT NULL REFERENCES companies(id),
  hostname TEXT NOT NULL,
  source TEXT NOT NULL,
  device_id TEXT NOT NULL DEFAULT '',
  os_name TEXT NOT NULL DEFAULT '',
  os_version TEXT NOT NULL DEFAULT '',
  kernel TEXT NOT NULL DEFAULT '',
  snapshot TEXT,
  content_hash TEXT NOT NULL DEFAULT '',
  health TEXT,
  created_at TIMESTAMP NOT NULL,
  last_seen_at TIMESTAMP,
  inventory_at TIMESTAMP
);
CREATE INDEX assets_company ON assets(company_id, hostname, id);
CREATE INDEX assets_hostname ON assets(hostname, id);
CREATE UNIQUE INDEX assets_device ON assets(company_id, source, device_id) WHERE device_id <> '';

CREATE TABLE asset_agents (
  id BIGSERIAL PRIMARY KEY,
  asset_id BIGINT NOT NULL REFERENCES assets(id),
  enrollment_key_id BIGINT REFERENCES asset_enrollment_keys(id),
  token_hash TEXT NOT NULL UNIQUE,
  created_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP,
  last_used_at TIMESTAMP
);
CREATE INDEX asset_agents_asset ON asset_agents(asset_id);

CREATE TABLE asset_reports (
  id BIGSERIAL PRIMARY KEY,
  asset_id BIGINT NOT NULL REFERENCES assets(id),
  report_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  received_at TIMESTAMP NOT NULL,
  UNIQUE (asset_id, report_id)
);

CREATE TABLE asset_changes (
  id BIGSERIAL PRIMARY KEY,
  asset_id BIGINT NOT NULL REFERENCES assets(id),
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  old_value TEXT,
  new_value TEXT,
  seen_at TIMESTAMP NOT NULL
);
CREATE INDEX asset_changes_asset ON asset_changes(asset_id, id);

CREATE TABLE asset_logs (
  id BIGSERIAL PRIMARY KEY,
  asset_id BIGINT NOT NULL REFERENCES assets(id),
  source TEXT NOT NULL,
  line TEXT NOT NULL,
  received_at TIMESTAMP NOT NULL
);
CREATE INDEX asset_logs_asset ON asset_logs(asset_id, received_at, id);

CREATE TABLE asset_check_settings (
  id BIGSERIAL PRIMARY KEY,
  scope TEXT NOT NULL,
  company_id BIGINT REFERENCES companies(id),
  asset_id BIGINT REFERENCES assets(id),
  check_kind TEXT NOT NULL,
  enabled BOOLEAN NOT NULL,
  threshold BIGINT,
  pattern TEXT,
  updated_at TIMESTAMP NOT NULL,
  UNIQUE (scope, check_kind)
);

CREATE TABLE asset_alerts (
  id BIGSERIAL PRIMARY KEY,
  asset_id BIGINT NOT NULL REFERENCES assets(id),
  check_key TEXT NOT NULL,
  ticket_id BIGINT REFERENCES tickets(id),
  detail TEXT NOT NULL,
  opened_at TIMESTAMP NOT NULL,
  last_failed_at TIMESTAMP NOT NULL,
  failures BIGINT NOT NULL DEFAULT 1,
  noted_at TIMESTAMP NOT NULL,
  resolved_at TIMESTAMP
);
CREATE UNIQUE INDEX asset_alerts_open ON asset_alerts(asset_id, check_key) WHERE resolved_at IS NULL;
CREATE INDEX asset_alerts_asset ON asset_alerts(asset_id, id);

CREATE TABLE ocs_credentials (
  id BIGSERIAL PRIMARY KEY,
  company_id BIGINT NOT NULL REFERENCES companies(id),
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP,
  last_used_at TIMESTAMP
);
