import { backoffSeconds, badData, PermanentError, TransientError } from '../../../lambdas/shared/errors';
import { redact } from '../../../lambdas/shared/observability';

describe('error classes', () => {
  it('badData makes a permanent BAD_DATA error that keeps its cause', () => {
    const cause = new Error('tag mismatch');
    const e = badData('authentication failed', cause);
    expect(e).toBeInstanceOf(PermanentError);
    expect(e.outcome).toBe('BAD_DATA');
    expect(e.cause).toBe(cause);
    expect(e.name).toBe('PermanentError');
  });

  it('a transient error carries an optional retry-after hint', () => {
    expect(new TransientError('throttled', { retryAfterSeconds: 7 }).retryAfterSeconds).toBe(7);
    expect(new TransientError('5xx').retryAfterSeconds).toBeUndefined();
  });
});

describe('backoffSeconds', () => {
  it('doubles per attempt with jitter below one second, as the seed does', () => {
    expect(backoffSeconds(0, 3600, () => 0)).toBe(1);
    expect(backoffSeconds(3, 3600, () => 0.5)).toBe(8.5);
  });

  it('never exceeds the per-hop cap, even for absurd attempt counts', () => {
    expect(backoffSeconds(12, 900, () => 0.99)).toBe(900);
    expect(backoffSeconds(10_000, 3600, () => 0.99)).toBe(3600);
    expect(backoffSeconds(-4, 3600, () => 0)).toBe(1);
  });
});

describe('redact', () => {
  it('hides API keys, presigned URLs and payloads at any depth but keeps the rest', () => {
    const out = redact({
      tenant: 'acme',
      headers: { 'x-api-key': 'secret', Authorization: 'Bearer x' },
      result: { url: 'https://bucket/key?X-Amz-Signature=abc', key: 'raw/…' },
      records: [{ plaintext: 'root:hunter2' }],
    });
    expect(out).toEqual({
      tenant: 'acme',
      headers: { 'x-api-key': '[redacted]', Authorization: '[redacted]' },
      result: { url: '[redacted]', key: 'raw/…' },
      records: [{ plaintext: '[redacted]' }],
    });
  });
});
