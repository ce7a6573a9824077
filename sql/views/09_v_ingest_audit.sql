-- The ingest audit: per raw object, what the ledger recorded (outcome, per-outcome counts) next to what the
-- warehouse loaded from its Parquet files, with the checks an auditor makes:
--   counts_add_up  every record ended in exactly one outcome (DESIGN.md §3.6)
--   rows_match     the rows loaded per table equal the rows the process step wrote (raws, instances, edges)
--   fully_loaded   every Parquet file of the object is LOADED, none REJECTED
CREATE VIEW v_ingest_audit AS
SELECT
  f.tenant,
  f.typetag,
  f.bucket,
  f.object_key,
  f.version_id,
  f.sha256,
  f.size,
  f.received_at,
  f.status,
  f.outcome,
  f.reason,
  f.records_in,
  f.success,
  f.success_invalid,
  f.not_supported,
  f.error,
  f.bad_data,
  f.quarantined,
  CASE
    WHEN f.success + f.success_invalid + f.not_supported + f.error
      + f.bad_data = f.records_in THEN TRUE
    ELSE FALSE
  END AS counts_add_up,
  f.raws,
  f.instances,
  f.edges,
  COALESCE(l.raw_rows, 0) AS raw_rows_loaded,
  COALESCE(l.instance_rows, 0) AS instance_rows_loaded,
  COALESCE(l.edge_rows, 0) AS edge_rows_loaded,
  CASE
    WHEN COALESCE(l.raw_rows, 0) = f.raws AND COALESCE(l.instance_rows, 0) = f.instances
      AND COALESCE(l.edge_rows, 0) = f.edges THEN TRUE
    ELSE FALSE
  END AS rows_match,
  f.parquet_files,
  COALESCE(l.files_loaded, 0) AS files_loaded,
  COALESCE(l.files_rejected, 0) AS files_rejected,
  CASE WHEN COALESCE(l.files_loaded, 0) = f.parquet_files AND COALESCE(l.files_rejected, 0) = 0 THEN TRUE ELSE FALSE END
    AS fully_loaded,
  f.load_id,
  f.loaded_at,
  f.ledger_marked,
  f.proof_batch,
  f.notarised_at
FROM ingest_file f
LEFT JOIN (
  SELECT
    g.tenant,
    g.raw_sha256,
    SUM(CASE WHEN g.status = 'LOADED' AND g.table_name = 'tahoe_raw' THEN g.row_count ELSE 0 END) AS raw_rows,
    SUM(CASE WHEN g.status = 'LOADED' AND g.table_name = 'tahoe_instance' THEN g.row_count ELSE 0 END) AS instance_rows,
    SUM(CASE WHEN g.status = 'LOADED' AND g.table_name = 'tahoe_edge' THEN g.row_count ELSE 0 END) AS edge_rows,
    SUM(CASE WHEN g.status = 'LOADED' THEN 1 ELSE 0 END) AS files_loaded,
    SUM(CASE WHEN g.status = 'REJECTED' THEN 1 ELSE 0 END) AS files_rejected
  FROM load_log g
  GROUP BY g.tenant, g.raw_sha256
) l ON l.tenant = f.tenant AND l.raw_sha256 = f.sha256;
