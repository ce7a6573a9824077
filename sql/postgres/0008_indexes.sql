-- PostgreSQL access paths (Redshift has sort keys instead, sql/redshift/0006):
-- - events of a tenant by time: the loader's aggregate refresh reads one hour at a time;
-- - edges by child: "which events contain this attribute" starts from the attribute's hash. On child_hash alone, the
--   smallest index that serves it: a popular attribute is the child of many edges, and a B-tree stores such
--   duplicates once; the tenant is checked on the rows it finds;
-- - load_log by raw object: the ingest audit sums each object's loaded rows;
-- - ingest_file rows still to confirm in the ledger (the loader's outbox), and by content hash.
CREATE INDEX tahoe_instance_event_time ON tahoe_instance (tenant, event_ts) WHERE itype = 'event';
CREATE INDEX tahoe_edge_child ON tahoe_edge (child_hash);
CREATE INDEX load_log_raw_object ON load_log (tenant, raw_sha256);
CREATE INDEX ingest_file_unmarked ON ingest_file (recorded_at) WHERE status = 'LOADED' AND NOT ledger_marked;
CREATE INDEX ingest_file_sha256 ON ingest_file (tenant, sha256);
