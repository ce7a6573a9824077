-- Uploaded records with their JSON parsed where valid (see v_instance).
CREATE VIEW v_raw AS
SELECT
  r.tenant,
  r.object_sha256,
  r.record_no,
  r._hash,
  r.sub_type,
  r.timezone,
  r.received_at,
  r.object_key,
  r.data,
  CASE WHEN CAN_JSON_PARSE(r.data) THEN JSON_PARSE(r.data) END AS data_json,
  r.oversize
FROM tahoe_raw r;
