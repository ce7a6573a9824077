-- Events per tenant, event type and hour (UTC), refreshed by the loader in the load transaction for every hour a
-- load touched. distinct_attackers: distinct IP attributes (ipv4, ipv6) the events of the hour name as malicious
-- (mal_ref), the same definition as the v_top_attacker_ip_daily view.
CREATE TABLE agg_event_hourly (
  tenant VARCHAR(63) NOT NULL,
  sub_type VARCHAR(256) NOT NULL,
  hour TIMESTAMP NOT NULL,
  events BIGINT NOT NULL,
  distinct_attackers BIGINT NOT NULL,
  PRIMARY KEY (tenant, sub_type, hour)
);
COMMENT ON COLUMN agg_event_hourly.hour IS 'Start of the hour, UTC (events by their event_ts)';
