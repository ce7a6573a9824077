-- purge_log (sql/migrations/0009) under the same tenant policy as the other tables with a tenant column
-- (sql/postgres/0007). It is an operators' table and analysts need not read it, but the usual analyst grant (SELECT
-- on every table of the schema) reaches it: with the policy, an analyst sees at most the purges of their own tenants.
ALTER TABLE purge_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON purge_log FOR SELECT USING (tenant IN (SELECT m.tenant FROM analyst_tenant m));
