-- The TAHOE tables (DESIGN.md §3.7). Column lists are generated from lambdas/schema/tables.ts by
-- renderTahoeTables() in lambdas/warehouse/ddl.ts; test/unit/warehouse/ddl-drift.test.ts fails when they drift.
-- Shared subset of Redshift and PostgreSQL: Redshift-only attributes are in sql/redshift/.

CREATE TABLE tahoe_raw (
  tenant VARCHAR(63) NOT NULL,
  object_sha256 VARCHAR(64) NOT NULL,
  record_no BIGINT NOT NULL,
  _hash VARCHAR(64) NOT NULL,
  sub_type VARCHAR(256) NOT NULL,
  timezone VARCHAR(64) NOT NULL,
  received_at TIMESTAMPTZ NOT NULL,
  object_key VARCHAR(1024) NOT NULL,
  data VARCHAR(65535),
  oversize BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY (tenant, object_sha256, record_no)
);
COMMENT ON COLUMN tahoe_raw.tenant IS 'Tenant that uploaded the object';
COMMENT ON COLUMN tahoe_raw.object_sha256 IS 'SHA-256 of the stored raw object';
COMMENT ON COLUMN tahoe_raw.record_no IS 'Position of the record in its object';
COMMENT ON COLUMN tahoe_raw._hash IS 'SHA-256 (64 lower-case hex) of the canonical TAHOE content, reference-identical; repeats when content repeats';
COMMENT ON COLUMN tahoe_raw.sub_type IS 'Typetag of the record';
COMMENT ON COLUMN tahoe_raw.timezone IS 'IANA time zone the shipper declared';
COMMENT ON COLUMN tahoe_raw.received_at IS 'When the upload was received (UTC)';
COMMENT ON COLUMN tahoe_raw.object_key IS 'S3 key of the raw object';
COMMENT ON COLUMN tahoe_raw.data IS 'The record as JSON text (ASCII, exact)';
COMMENT ON COLUMN tahoe_raw.oversize IS 'A JSON value of the row was too big for the warehouse: it is NULL here and whole in the Parquet file';

CREATE TABLE tahoe_instance (
  tenant VARCHAR(63) NOT NULL,
  _hash VARCHAR(64) NOT NULL,
  itype VARCHAR(16) NOT NULL,
  sub_type VARCHAR(256) NOT NULL,
  data VARCHAR(65535),
  orgid VARCHAR(64),
  event_ts DOUBLE PRECISION,
  category VARCHAR(16),
  start_time DOUBLE PRECISION,
  end_time DOUBLE PRECISION,
  duration VARCHAR(65535),
  oversize BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY (tenant, _hash)
);
COMMENT ON COLUMN tahoe_instance.tenant IS 'Tenant whose upload produced the instance';
COMMENT ON COLUMN tahoe_instance._hash IS 'SHA-256 (64 lower-case hex) of the canonical TAHOE content, reference-identical';
COMMENT ON COLUMN tahoe_instance.itype IS 'Kind of instance';
COMMENT ON COLUMN tahoe_instance.sub_type IS 'Attribute, object, event or session type';
COMMENT ON COLUMN tahoe_instance.data IS 'The instance data as JSON text (exact)';
COMMENT ON COLUMN tahoe_instance.orgid IS 'Events: organisation hash that is part of the hash';
COMMENT ON COLUMN tahoe_instance.event_ts IS 'Events: seconds since the epoch (UTC) as hashed';
COMMENT ON COLUMN tahoe_instance.category IS 'Events: verdict';
COMMENT ON COLUMN tahoe_instance.start_time IS 'Sessions: seconds since the epoch (UTC)';
COMMENT ON COLUMN tahoe_instance.end_time IS 'Sessions: seconds since the epoch (UTC)';
COMMENT ON COLUMN tahoe_instance.duration IS 'Sessions: the duration as JSON text';
COMMENT ON COLUMN tahoe_instance.oversize IS 'A JSON value of the row was too big for the warehouse: it is NULL here and whole in the Parquet file';

CREATE TABLE tahoe_edge (
  tenant VARCHAR(63) NOT NULL,
  parent_hash VARCHAR(64) NOT NULL,
  relation VARCHAR(16) NOT NULL,
  child_hash VARCHAR(64) NOT NULL,
  event_ts DOUBLE PRECISION,
  PRIMARY KEY (tenant, parent_hash, relation, child_hash)
);
COMMENT ON COLUMN tahoe_edge.tenant IS 'Tenant whose upload produced the edge';
COMMENT ON COLUMN tahoe_edge.parent_hash IS 'Referring instance (or raw, for raw_ref)';
COMMENT ON COLUMN tahoe_edge.relation IS 'Kind of reference';
COMMENT ON COLUMN tahoe_edge.child_hash IS 'Referred instance';
COMMENT ON COLUMN tahoe_edge.event_ts IS 'Time of the event the edge belongs to, if any';
