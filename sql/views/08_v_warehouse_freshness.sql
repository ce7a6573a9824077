-- How current the warehouse is, per tenant: the last successful load, how long ago it was, the latest event hour
-- loaded, and how many files were loaded or rejected. The WarehouseFreshnessSeconds alarm reads the same figure.
CREATE VIEW v_warehouse_freshness AS
SELECT
  l.tenant,
  MAX(CASE WHEN l.status = 'LOADED' THEN l.loaded_at END) AS last_loaded_at,
  EXTRACT(EPOCH FROM GETDATE()) - EXTRACT(EPOCH FROM MAX(CASE WHEN l.status = 'LOADED' THEN l.loaded_at END))
    AS seconds_since_load,
  MAX(h.last_event_hour) AS last_event_hour,
  SUM(CASE WHEN l.status = 'LOADED' THEN 1 ELSE 0 END) AS files_loaded,
  SUM(CASE WHEN l.status = 'REJECTED' THEN 1 ELSE 0 END) AS files_rejected,
  SUM(l.row_count) AS rows_loaded
FROM load_log l
LEFT JOIN (SELECT a.tenant, MAX(a.hour) AS last_event_hour FROM agg_event_hourly a GROUP BY a.tenant) h
  ON h.tenant = l.tenant
GROUP BY l.tenant;
