-- purge_log (sql/migrations/0009) under the tenant policy of sql/redshift/0007. It is an operators' table and
-- analysts need not read it, but an analyst granted SELECT on it sees at most the purges of their own tenants.
ATTACH RLS POLICY tenant_isolation ON purge_log TO ROLE cyberactive_analyst;

ALTER TABLE purge_log ROW LEVEL SECURITY ON;
