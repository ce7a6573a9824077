#!/usr/bin/env -S npx tsx
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lambdas/shared/errors';
import { buildApp } from '../lib/app';

// CDK app entry (cdk.json "app"). Pick the stage with `-c stage=dev|prod|all`.
try {
  buildApp(new App());
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`invalid configuration:\n${err.message}\n`);
  process.exitCode = 1;
}
