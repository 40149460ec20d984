DROP INDEX sla_clocks_warn_pending;
