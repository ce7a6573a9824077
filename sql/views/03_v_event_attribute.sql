-- Events containing an attribute: one row per (event, attribute it refers to, directly or through an object).
-- Look an attribute up by hash (attribute_hash) or by value: attribute_value is the attribute's JSON text without
-- its quotes when it is a plain JSON string (no escapes), else the JSON text itself (numbers, booleans, strings
-- with escapes). malicious/benign: the event names the attribute in its mal_ref/ben_ref context.
CREATE VIEW v_event_attribute AS
SELECT
  r.tenant,
  e._hash AS event_hash,
  e.sub_type AS event_type,
  TIMESTAMP 'epoch' + e.event_ts * INTERVAL '1 second' AS event_time,
  e.category,
  a._hash AS attribute_hash,
  a.sub_type AS attribute_type,
  CASE
    WHEN a.data LIKE '"%"' AND STRPOS(a.data, CHR(92)) = 0 THEN SUBSTRING(a.data, 2, CHAR_LENGTH(a.data) - 2)
    ELSE a.data
  END AS attribute_value,
  a.data AS attribute_json,
  CASE WHEN m.child_hash IS NULL THEN FALSE ELSE TRUE END AS malicious,
  CASE WHEN b.child_hash IS NULL THEN FALSE ELSE TRUE END AS benign
FROM tahoe_edge r
JOIN tahoe_instance e ON e.tenant = r.tenant AND e._hash = r.parent_hash AND e.itype = 'event'
JOIN tahoe_instance a ON a.tenant = r.tenant AND a._hash = r.child_hash AND a.itype = 'attribute'
LEFT JOIN tahoe_edge m
  ON m.tenant = r.tenant AND m.parent_hash = r.parent_hash AND m.relation = 'mal_ref' AND m.child_hash = r.child_hash
LEFT JOIN tahoe_edge b
  ON b.tenant = r.tenant AND b.parent_hash = r.parent_hash AND b.relation = 'ben_ref' AND b.child_hash = r.child_hash
WHERE r.relation = 'ref';
