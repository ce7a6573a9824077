-- Row-level security on Redshift (the PostgreSQL form is sql/postgres/0007): one policy, keyed by the tenant
-- column, attached to the analysts' role. A user sees the rows of the tenants analyst_tenant maps their user name
-- to. Once RLS is ON, a user with no attached policy sees no rows at all (deny by default), so the loader's role
-- needs `GRANT IGNORE RLS TO ROLE <loader role>` (operators, see docs/warehouse.md). The policy reads
-- analyst_tenant with the rights granted to the policy itself, not to the analyst.
CREATE ROLE cyberactive_analyst;

CREATE RLS POLICY tenant_isolation
WITH (tenant VARCHAR(63))
USING (tenant IN (SELECT m.tenant FROM analyst_tenant m WHERE m.role_name = current_user));

GRANT SELECT ON analyst_tenant TO RLS POLICY tenant_isolation;

ATTACH RLS POLICY tenant_isolation ON tahoe_raw, tahoe_instance, tahoe_edge, ingest_file, load_log, agg_event_hourly
TO ROLE cyberactive_analyst;

ALTER TABLE tahoe_raw ROW LEVEL SECURITY ON;
ALTER TABLE tahoe_instance ROW LEVEL SECURITY ON;
ALTER TABLE tahoe_edge ROW LEVEL SECURITY ON;
ALTER TABLE ingest_file ROW LEVEL SECURITY ON;
ALTER TABLE load_log ROW LEVEL SECURITY ON;
ALTER TABLE agg_event_hourly ROW LEVEL SECURITY ON;
