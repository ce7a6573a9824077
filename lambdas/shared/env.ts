import { z } from 'zod';
import { ConfigError } from './errors';

/**
 * Parses a Lambda's environment once, at cold start, against a schema. A missing or malformed variable fails the
 * init phase with a ConfigError naming every bad variable, so a misconfigured function never starts taking work
 * (and never fails half-way through a batch).
 */
export function loadEnv<S extends z.ZodType<unknown, Record<string, string | undefined>>>(
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.map(String).join('.') || '(environment)';
    const raw = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
    const shown = raw === undefined ? 'missing' : `= ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)}`;
    return `${name} ${shown}: ${issue.message}`;
  });
  throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
}

/** Reusable field schemas for environment variables (all env values arrive as strings). */
export const envField = {
  /** A non-empty string, e.g. a bucket name or table name. */
  name: () => z.string().trim().min(1, 'must not be empty'),
  /** An ARN of the given service, e.g. envField.arn('kms'). */
  arn: (service: string) =>
    z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]*:\\d{12}:.+$`), `must be a ${service} ARN`),
  /** A comma-separated list, empty entries dropped. */
  list: () =>
    z
      .string()
      .default('')
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x.length > 0),
      ),
  /** A positive integer with a default. */
  positiveInt: (fallback: number) =>
    z
      .string()
      .default(String(fallback))
      .refine((s) => /^[1-9]\d{0,15}$/.test(s), 'must be a positive integer')
      .transform(Number),
  /** `true`/`false` (also 1/0), with a default. */
  flag: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((s) => s === 'true' || s === '1'),
} as const;
