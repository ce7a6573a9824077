-- Row-level security (DESIGN.md §3.7): an analyst sees the rows of the tenants analyst_tenant maps one of their
-- roles to (directly or through role membership), and nothing else. The table owner (the loader) is not subject to
-- these policies; superusers never are. Views are made security_invoker by the migration runner so that they filter
-- for the analyst too (a plain view would run with its owner's rights).
--
-- analyst_tenant is itself filtered: an analyst reads only the mapping rows of their own roles, which is what the
-- policies' sub-select sees. Analysts need SELECT on the tables and views (granted by operators, see docs/warehouse.md).
ALTER TABLE analyst_tenant ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_roles ON analyst_tenant FOR SELECT
  USING (role_name IN (SELECT r.rolname FROM pg_roles r WHERE pg_has_role(current_user, r.oid, 'MEMBER')));

ALTER TABLE tahoe_raw ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tahoe_raw FOR SELECT USING (tenant IN (SELECT m.tenant FROM analyst_tenant m));

ALTER TABLE tahoe_instance ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tahoe_instance FOR SELECT USING (tenant IN (SELECT m.tenant FROM analyst_tenant m));

ALTER TABLE tahoe_edge ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tahoe_edge FOR SELECT USING (tenant IN (SELECT m.tenant FROM analyst_tenant m));

ALTER TABLE ingest_file ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ingest_file FOR SELECT USING (tenant IN (SELECT m.tenant FROM analyst_tenant m));

ALTER TABLE load_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON load_log FOR SELECT USING (tenant IN (SELECT m.tenant FROM analyst_tenant m));

ALTER TABLE agg_event_hourly ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON agg_event_hourly FOR SELECT
  USING (tenant IN (SELECT m.tenant FROM analyst_tenant m));
