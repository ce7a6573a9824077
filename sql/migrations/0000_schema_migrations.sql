-- Which migrations (and which version of the analyst views) the warehouse holds. The runner
-- (lambdas/warehouse/migrations.ts) executes this file before every run, under the load lock, so it must stay
-- idempotent: it is the one migration that creates its table IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS schema_migrations (
  version VARCHAR(64) NOT NULL,
  name VARCHAR(256) NOT NULL,
  checksum VARCHAR(64) NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (version)
);
