-- Redshift-only physical design of the shared tables (sql/migrations/). Run outside an explicit transaction block
-- (ALTER DISTKEY/SORTKEY refuse to run inside one): the Redshift adapter executes each statement on its own.
-- Distribution: rows that are joined together share a slice. Instances and the edges leaving them are joined on
-- parent_hash = _hash; raw rows are read per object.
ALTER TABLE tahoe_raw ALTER DISTSTYLE KEY DISTKEY object_sha256;
ALTER TABLE tahoe_raw ALTER COMPOUND SORTKEY (tenant, received_at);
ALTER TABLE tahoe_instance ALTER DISTSTYLE KEY DISTKEY _hash;
ALTER TABLE tahoe_instance ALTER COMPOUND SORTKEY (tenant, itype, event_ts);
ALTER TABLE tahoe_edge ALTER DISTSTYLE KEY DISTKEY parent_hash;
ALTER TABLE tahoe_edge ALTER COMPOUND SORTKEY (tenant, relation, parent_hash);
ALTER TABLE agg_event_hourly ALTER DISTSTYLE ALL;
ALTER TABLE agg_event_hourly ALTER COMPOUND SORTKEY (tenant, hour);
ALTER TABLE load_log ALTER DISTSTYLE ALL;
ALTER TABLE load_log ALTER COMPOUND SORTKEY (loaded_at);
ALTER TABLE ingest_file ALTER DISTSTYLE ALL;
ALTER TABLE ingest_file ALTER COMPOUND SORTKEY (tenant, received_at);
ALTER TABLE analyst_tenant ALTER DISTSTYLE ALL;
