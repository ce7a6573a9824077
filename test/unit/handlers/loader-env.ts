/**
 * The environment the loader function gets from the WarehouseStack, with made-up names. Imported for its side effect
 * before lambdas/handlers/loader.ts, whose module scope parses `process.env` at load (as Lambda's init phase does).
 */
export const LOADER_TEST_ENV = {
  CURATED_BUCKET: 'curated',
  MANIFESTS_BUCKET: 'manifests',
  LEDGER_TABLE: 'cyberactive-ledger',
  RAW_BUCKET: 'raw',
  QUARANTINE_BUCKET: 'quarantine',
  TENANTS_TABLE: 'cyberactive-tenants',
  WAREHOUSE_WORKGROUP: 'cyberactive',
  WAREHOUSE_DATABASE: 'cyberactive',
  AWS_REGION: 'eu-west-1',
} as const;

for (const [name, value] of Object.entries(LOADER_TEST_ENV)) process.env[name] ??= value;
