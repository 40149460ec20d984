DROP INDEX dev_release_notices_by_ticket;
DROP INDEX mail_undeliverable_ticket;
DROP INDEX asset_alerts_ticket;
DROP INDEX ticket_watchers_ticket;
DROP INDEX notifications_ticket;
DROP INDEX tickets_merged_into;
