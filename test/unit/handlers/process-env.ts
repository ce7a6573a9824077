/**
 * The environment the process function gets from the ProcessingStack, with made-up resource names. Imported for its
 * side effect before lambdas/handlers/process.ts, whose module scope parses `process.env` at load (as Lambda's
 * init phase does); jest gives each test file its own copy of `process.env`.
 */
export const PROCESS_TEST_ENV = {
  RAW_BUCKET: 'raw-bucket',
  CURATED_BUCKET: 'curated-bucket',
  QUARANTINE_BUCKET: 'quarantine-bucket',
  LEDGER_TABLE: 'cyberactive-ledger',
  TENANTS_TABLE: 'cyberactive-tenants',
  EVENT_BUS_NAME: 'cyberactive-bus',
  ENVELOPE_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  ALLOWED_TYPETAGS: 'cowrie,unr_honeypot,sighting,email,openphish_feed,phishtank_feed',
  ROWS_PER_PART: '100000',
  MAX_RECORD_BYTES: '1048576',
  MAX_ATTEMPTS: '10',
  LEASE_MS: '120000',
  AWS_REGION: 'eu-west-1',
} as const;

for (const [name, value] of Object.entries(PROCESS_TEST_ENV)) process.env[name] ??= value;
