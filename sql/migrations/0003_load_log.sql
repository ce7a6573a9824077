-- One row per Parquet file the loader has dealt with, LOADED or REJECTED, written in the load's transaction: a file
-- with a row here is never loaded again (the primary key is the backstop of exactly-once, DESIGN.md §3.8).
CREATE TABLE load_log (
  file_key VARCHAR(1024) NOT NULL,
  load_id VARCHAR(26) NOT NULL,
  table_name VARCHAR(64) NOT NULL,
  tenant VARCHAR(63) NOT NULL,
  raw_sha256 VARCHAR(64) NOT NULL,
  bytes BIGINT NOT NULL,
  row_count BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  error_message VARCHAR(4096),
  manifest_key VARCHAR(1024) NOT NULL,
  loaded_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (file_key)
);
COMMENT ON COLUMN load_log.file_key IS 'Key of the Parquet file in the curated bucket (tahoe/<table>/tenant=…/dt=…/<raw sha256>-<part>.parquet)';
COMMENT ON COLUMN load_log.row_count IS 'Rows the file held (copied into staging); 0 when REJECTED';
COMMENT ON COLUMN load_log.status IS 'LOADED, or REJECTED: the file could not be copied (error_message says why) and is never retried';
COMMENT ON COLUMN load_log.manifest_key IS 'The manifest of the load attempt that recorded the file';
