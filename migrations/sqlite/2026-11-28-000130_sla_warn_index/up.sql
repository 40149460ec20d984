-- Deadline jobs fire every warning that fell due in one indexed range scan: only running
-- clocks that have not warned yet are in this index (breaches use sla_clocks_due).
CREATE INDEX sla_clocks_warn_pending ON sla_clocks(warn_at) WHERE running_since IS NOT NULL AND warned_at IS NULL;
