-- Physical design of the tables sql/redshift/0006 did not cover (see there): purge_log, an operators' table read by
-- tenant and time, and schema_migrations, a handful of rows. Both small: a copy on every node.
ALTER TABLE purge_log ALTER DISTSTYLE ALL;
ALTER TABLE purge_log ALTER COMPOUND SORTKEY (tenant, recorded_at);
ALTER TABLE schema_migrations ALTER DISTSTYLE ALL;
