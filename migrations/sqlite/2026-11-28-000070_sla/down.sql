DROP INDEX jobs_leased;
DROP INDEX tickets_sla_due;
ALTER TABLE tickets DROP COLUMN sla_due_at;
DROP TABLE sla_events;
DROP TABLE sla_clocks;
DROP TABLE sla_company_policies;
DROP TABLE sla_policies;
DROP TABLE sla_calendars;
