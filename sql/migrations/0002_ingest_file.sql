-- The ledger (DESIGN.md §3.6) as a table, for analysts and audits: one row per raw object version whose Parquet
-- files the loader has seen. The loader writes it in the load transaction; the ledger stays the source of truth for
-- processing, the warehouse for loading (ledger_marked: the ledger was told LOADED, see sql/views/ingest_audit).
CREATE TABLE ingest_file (
  bucket VARCHAR(63) NOT NULL,
  object_key VARCHAR(1024) NOT NULL,
  version_id VARCHAR(1024) NOT NULL,
  tenant VARCHAR(63) NOT NULL,
  typetag VARCHAR(64) NOT NULL,
  sha256 VARCHAR(64),
  size BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  outcome VARCHAR(16),
  reason VARCHAR(4096),
  attempts INTEGER NOT NULL,
  received_at TIMESTAMPTZ NOT NULL,
  finished_at TIMESTAMPTZ,
  records_in BIGINT,
  raws BIGINT,
  instances BIGINT,
  edges BIGINT,
  quarantined BIGINT,
  success BIGINT,
  success_invalid BIGINT,
  not_supported BIGINT,
  error BIGINT,
  bad_data BIGINT,
  parquet_files INTEGER NOT NULL,
  quarantine_key VARCHAR(1024),
  load_id VARCHAR(26),
  loaded_at TIMESTAMPTZ,
  ledger_marked BOOLEAN NOT NULL,
  proof_batch VARCHAR(64),
  notarised_at TIMESTAMPTZ,
  recorded_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (bucket, object_key, version_id)
);
COMMENT ON COLUMN ingest_file.status IS 'Ledger state: PROCESSED, QUARANTINED or LOADED (LOADED once every Parquet file is loaded)';
COMMENT ON COLUMN ingest_file.parquet_files IS 'Number of Parquet files the object produced (the ledger''s outputs)';
COMMENT ON COLUMN ingest_file.ledger_marked IS 'The ledger item was marked LOADED after the load committed';
