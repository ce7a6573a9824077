-- The sessions an event belongs to (cowrie: the SSH/Telnet session that produced the event).
CREATE VIEW v_event_session AS
SELECT
  x.tenant,
  x.child_hash AS event_hash,
  s._hash AS session_hash,
  s.sub_type AS session_type,
  s.data AS session_json,
  TIMESTAMP 'epoch' + s.start_time * INTERVAL '1 second' AS session_start,
  TIMESTAMP 'epoch' + s.end_time * INTERVAL '1 second' AS session_end,
  s.duration
FROM tahoe_edge x
JOIN tahoe_instance s ON s.tenant = x.tenant AND s._hash = x.parent_hash AND s.itype = 'session'
WHERE x.relation = 'session_event';
