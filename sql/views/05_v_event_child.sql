-- The direct children of an event (its cref: objects and attributes it is made of), and the raw records the event
-- was derived from (relation raw_ref, child_itype 'raw', the record's JSON text in child_json).
CREATE VIEW v_event_child AS
SELECT
  x.tenant,
  x.parent_hash AS event_hash,
  x.relation,
  c._hash AS child_hash,
  c.itype AS child_itype,
  c.sub_type AS child_type,
  c.data AS child_json
FROM tahoe_edge x
JOIN tahoe_instance e ON e.tenant = x.tenant AND e._hash = x.parent_hash AND e.itype = 'event'
JOIN tahoe_instance c ON c.tenant = x.tenant AND c._hash = x.child_hash
WHERE x.relation = 'cref'
UNION ALL
SELECT
  x.tenant,
  x.child_hash AS event_hash,
  x.relation,
  r._hash AS child_hash,
  'raw' AS child_itype,
  r.sub_type AS child_type,
  r.data AS child_json
FROM tahoe_edge x
JOIN tahoe_raw r ON r.tenant = x.tenant AND r._hash = x.parent_hash
WHERE x.relation = 'raw_ref';
