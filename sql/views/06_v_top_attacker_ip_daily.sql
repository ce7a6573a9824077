-- Attacker IPs per tenant and day (UTC), ranked by the number of distinct events that name them as malicious:
--   SELECT * FROM v_top_attacker_ip_daily WHERE day = DATE '2020-05-03' AND attacker_rank <= 10;
CREATE VIEW v_top_attacker_ip_daily AS
SELECT
  t.tenant,
  t.day,
  t.ip,
  t.events,
  ROW_NUMBER() OVER (PARTITION BY t.tenant, t.day ORDER BY t.events DESC, t.ip) AS attacker_rank
FROM (
  SELECT
    v.tenant,
    CAST(DATE_TRUNC('day', v.event_time) AS DATE) AS day,
    v.attribute_value AS ip,
    COUNT(DISTINCT v.event_hash) AS events
  FROM v_event_attribute v
  WHERE v.malicious AND v.attribute_type IN ('ipv4', 'ipv6') AND v.event_time IS NOT NULL
  GROUP BY v.tenant, CAST(DATE_TRUNC('day', v.event_time) AS DATE), v.attribute_value
) t;
