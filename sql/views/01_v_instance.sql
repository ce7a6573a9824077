-- TAHOE instances with their JSON parsed where the warehouse's JSON type accepts it (JSONB on PostgreSQL, SUPER
-- on Redshift); data stays as its exact text next to it. data_json is NULL when the text is not valid JSON for the
-- warehouse (NaN, lone surrogates) or when the value was too big (oversize: read it from the Parquet file).
CREATE VIEW v_instance AS
SELECT
  i.tenant,
  i._hash,
  i.itype,
  i.sub_type,
  i.data,
  CASE WHEN CAN_JSON_PARSE(i.data) THEN JSON_PARSE(i.data) END AS data_json,
  i.orgid,
  i.event_ts,
  TIMESTAMP 'epoch' + i.event_ts * INTERVAL '1 second' AS event_time,
  i.category,
  TIMESTAMP 'epoch' + i.start_time * INTERVAL '1 second' AS session_start,
  TIMESTAMP 'epoch' + i.end_time * INTERVAL '1 second' AS session_end,
  i.duration,
  i.oversize
FROM tahoe_instance i;
