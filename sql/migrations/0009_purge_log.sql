-- One row per age-off or purge the warehouse carried out (lambdas/warehouse/retention-sql.ts), written in the same
-- transaction as the removal it records, with the rows it removed per table. A dry run is never recorded. An
-- operators' table: the record that data was removed, and why, outlives the data. Analysts need not read it; the
-- tenant policy of sql/postgres/0010 and sql/redshift/0010 still covers it, because the usual analyst grant (SELECT
-- on every table of the schema, docs/warehouse.md) would otherwise show them other tenants' purges.
CREATE TABLE purge_log (
  id VARCHAR(26) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  tenant VARCHAR(63) NOT NULL,
  sha256 VARCHAR(64),
  before_ts TIMESTAMPTZ,
  raws BIGINT NOT NULL,
  instances BIGINT NOT NULL,
  edges BIGINT NOT NULL,
  aggregate_rows BIGINT NOT NULL,
  load_log_rows BIGINT NOT NULL,
  ingest_files BIGINT NOT NULL,
  recorded_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (id)
);
COMMENT ON COLUMN purge_log.id IS 'ULID naming the removal';
COMMENT ON COLUMN purge_log.kind IS 'AGE_OFF, PURGE_OBJECT or PURGE_TENANT (rows removed), FORGET_FILES (a purge''s second step: the purged files'' load_log rows forgotten once the files are gone)';
COMMENT ON COLUMN purge_log.tenant IS 'Tenant whose rows were removed';
COMMENT ON COLUMN purge_log.sha256 IS 'PURGE_OBJECT: SHA-256 of the raw object purged';
COMMENT ON COLUMN purge_log.before_ts IS 'AGE_OFF: raws received before this time were removed';
COMMENT ON COLUMN purge_log.raws IS 'tahoe_raw rows deleted';
COMMENT ON COLUMN purge_log.instances IS 'tahoe_instance rows deleted (those nothing that remains refers to)';
COMMENT ON COLUMN purge_log.edges IS 'tahoe_edge rows deleted';
COMMENT ON COLUMN purge_log.aggregate_rows IS 'agg_event_hourly rows gone (hours still holding events are recomputed, not counted)';
COMMENT ON COLUMN purge_log.load_log_rows IS 'PURGE_*: load_log rows of the purged files deleted, so that the same content loads again if uploaded again';
COMMENT ON COLUMN purge_log.ingest_files IS 'PURGE_*: ingest_file rows set to status PURGED';
COMMENT ON COLUMN purge_log.recorded_at IS 'When the removal was carried out (UTC)';
