-- Every column that references tickets(id) gets an index, so the foreign-key checks when a
-- ticket's id is referenced or a ticket is deleted are index look-ups, not scans of these
-- tables (tickets itself among them, through merged_into_id).
CREATE INDEX tickets_merged_into ON tickets(merged_into_id) WHERE merged_into_id IS NOT NULL;
CREATE INDEX notifications_ticket ON notifications(ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX ticket_watchers_ticket ON ticket_watchers(ticket_id);
CREATE INDEX asset_alerts_ticket ON asset_alerts(ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX mail_undeliverable_ticket ON mail_undeliverable(ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX dev_release_notices_by_ticket ON dev_release_notices(ticket_id) WHERE ticket_id IS NOT NULL;
