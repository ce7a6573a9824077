-- Hourly event counts (UTC) per tenant and event type, from the aggregate the loader keeps current.
CREATE VIEW v_event_hourly AS
SELECT a.tenant, a.sub_type AS event_type, a.hour, a.events, a.distinct_attackers
FROM agg_event_hourly a;
