-- Which tenants each analyst role may see. The row-level security policies (sql/postgres/0007, sql/redshift/0007)
-- filter every table with a tenant column through it. Maintained by operators:
--   INSERT INTO analyst_tenant (role_name, tenant) VALUES ('alice', 'acme');
CREATE TABLE analyst_tenant (
  role_name VARCHAR(128) NOT NULL,
  tenant VARCHAR(63) NOT NULL,
  PRIMARY KEY (role_name, tenant)
);
