import { z } from 'zod';
import { envField, loadEnv } from '../../../lambdas/shared/env';
import { ConfigError } from '../../../lambdas/shared/errors';

const schema = z.object({
  RAW_BUCKET: envField.name(),
  ENVELOPE_KEY_ARN: envField.arn('kms'),
  ALLOWED_TYPETAGS: envField.list(),
  MAX_RECORD_BYTES: envField.positiveInt(1024),
  DRY_RUN: envField.flag(false),
});

describe('loadEnv', () => {
  it('parses and types a complete environment, applying defaults', () => {
    const env = loadEnv(schema, {
      RAW_BUCKET: 'raw-bucket',
      ENVELOPE_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/abc',
      ALLOWED_TYPETAGS: 'cowrie, email,,sighting',
    });
    expect(env).toEqual({
      RAW_BUCKET: 'raw-bucket',
      ENVELOPE_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/abc',
      ALLOWED_TYPETAGS: ['cowrie', 'email', 'sighting'],
      MAX_RECORD_BYTES: 1024,
      DRY_RUN: false,
    });
  });

  it('fails with a ConfigError naming every missing or malformed variable and its value', () => {
    let error: unknown;
    try {
      loadEnv(schema, { ENVELOPE_KEY_ARN: 'arn:aws:s3:::bucket', MAX_RECORD_BYTES: '-5', DRY_RUN: 'yes' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('RAW_BUCKET missing');
    expect(message).toContain('ENVELOPE_KEY_ARN = "arn:aws:s3:::bucket": must be a kms ARN');
    expect(message).toContain('MAX_RECORD_BYTES = "-5": must be a positive integer');
    expect(message).toContain('DRY_RUN = "yes"');
  });
});
