import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError } from '../../lambdas/shared/errors';
import { loadConfigs, MAX_SINGLE_PUT_BYTES, parseStageConfig, scheduleProblem } from '../../lib/config';

const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
  context: { 'cyberactive:stages': Record<string, Record<string, unknown>> };
};
const stagesFromCdkJson = cdkJson.context['cyberactive:stages'];

/** The smallest valid stage: only the keys without a default. */
const minimal = { tsaUrls: ['https://tsa.example.org/tsr'], alarmEmail: 'ops@example.org' };

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfigs', () => {
  test('parses the dev and prod stages of cdk.json', () => {
    const [dev, prod] = loadConfigs(stagesFromCdkJson, 'all');
    expect(dev).toMatchObject({ stage: 'dev', destroyable: true });
    expect(prod).toMatchObject({
      stage: 'prod',
      destroyable: false,
      proofsObjectLock: { mode: 'COMPLIANCE', days: 3650 },
      maxUploadBytes: MAX_SINGLE_PUT_BYTES,
    });
    expect(prod?.retention.proofsDays).toBe(3650);
    expect(dev?.processing.maxConcurrency).toBe(5);
    expect(prod?.processing.maxConcurrency).toBe(50);
  });

  test('fills documented defaults for keys left out', () => {
    const [config] = loadConfigs({ dev: minimal }, 'dev');
    expect(config).toEqual({
      stage: 'dev',
      ...minimal,
      destroyable: false,
      maxUploadBytes: 5 * 1024 ** 3,
      processing: {
        memoryMb: 1769,
        timeoutSeconds: 900,
        batchSize: 1,
        maxConcurrency: 10,
        maxReceiveCount: 5,
        rowsPerPart: 100_000,
        maxRecordBytes: 1024 ** 2,
        queueAgeAlarmSeconds: 3600,
      },
      schedules: {
        notary: 'rate(15 minutes)',
        loader: 'rate(5 minutes)',
        ageOff: 'cron(0 3 * * ? *)',
        fullLoad: 'cron(30 2 * * ? *)',
      },
      warehouse: {
        baseCapacity: 8,
        databaseName: 'cyberactive',
        adminUsername: 'cyberactive_admin',
        loaderMemoryMb: 512,
        loaderTimeoutSeconds: 900,
        freshnessAlarmSeconds: 3600,
        loadRecentDays: 2,
      },
      allowedTypetags: ['cowrie', 'unr_honeypot', 'sighting', 'email', 'openphish_feed', 'phishtank_feed'],
      retention: {
        rawDays: 400,
        curatedDays: 400,
        quarantineDays: 90,
        proofsDays: 3650,
        manifestsDays: 30,
        accessLogsDays: 365,
        noncurrentVersionDays: 30,
        incompleteUploadDays: 7,
        eventArchiveDays: 90,
        logDays: 90,
      },
    });
  });

  test('reads processing.maxConcurrency, defaulting to 10', () => {
    expect(parseStageConfig('dev', { ...minimal, processing: { maxConcurrency: 8 } }).processing.maxConcurrency).toBe(
      8,
    );
    expect(parseStageConfig('dev', minimal).processing.maxConcurrency).toBe(10);
  });

  test('refuses the unknown top-level key processConcurrency', () => {
    expect(messageOf(() => parseStageConfig('dev', { ...minimal, processConcurrency: 7 }))).toMatch(
      /processConcurrency/,
    );
  });

  test('selects dev when no stage is given', () => {
    expect(loadConfigs({ dev: minimal, prod: minimal }, undefined).map((c) => c.stage)).toEqual(['dev']);
  });

  test('fails on an unknown stage, listing the known ones', () => {
    expect(messageOf(() => loadConfigs({ dev: minimal, prod: minimal }, 'staging'))).toBe(
      'unknown stage "staging": expected one of dev, prod, all',
    );
  });

  test('fails when the stages context is missing', () => {
    expect(messageOf(() => loadConfigs(undefined, 'dev'))).toMatch(/context cyberactive:stages must be an object/);
  });

  test('reports the problems of every stage at once with -c stage=all', () => {
    const message = messageOf(() =>
      loadConfigs(
        { dev: { ...minimal, processing: { maxConcurrency: 0 } }, prod: { ...minimal, alarmEmail: 'x' } },
        'all',
      ),
    );
    expect(message.split('\n')).toEqual([
      'stage dev: processing.maxConcurrency = 0: must be an integer from 2 to 1000',
      'stage prod: alarmEmail = "x": must be an e-mail address',
    ]);
  });

  test('refuses stage names that cannot become stack names, and the reserved name "all"', () => {
    expect(messageOf(() => parseStageConfig('Prod-EU', minimal))).toMatch(/^stage "Prod-EU": stage names must match/);
    expect(messageOf(() => loadConfigs({ all: minimal }, 'all'))).toMatch(/stage "all"/);
  });
});

describe('parseStageConfig rejects each invalid value, naming stage, key and value', () => {
  test.each<[string, Record<string, unknown>, string]>([
    [
      'negative retention',
      { retention: { rawDays: -3 } },
      'stage prod: retention.rawDays = -3: must be a positive integer',
    ],
    [
      'fractional retention',
      { retention: { accessLogsDays: 1.5 } },
      'stage prod: retention.accessLogsDays = 1.5: must be a positive integer',
    ],
    ['misspelt key', { retention: { rawDay: 30 } }, 'stage prod: retention.rawDay: unknown key'],
    ['unknown top-level key', { colour: 'blue' }, 'stage prod: colour: unknown key'],
    [
      'typetag that is not an identifier',
      { allowedTypetags: ['cowrie', 'unr-honeypot'] },
      'stage prod: allowedTypetags[1] = "unr-honeypot": must be an identifier (typetag)',
    ],
    [
      'duplicate typetag',
      { allowedTypetags: ['email', 'email'] },
      'stage prod: allowedTypetags[1] = "email": duplicate typetag',
    ],
    ['empty typetag list', { allowedTypetags: [] }, 'stage prod: allowedTypetags = []: must list at least one typetag'],
    [
      'plain-http TSA',
      { tsaUrls: ['http://tsa.example.org/tsr'] },
      'stage prod: tsaUrls[0] = "http://tsa.example.org/tsr": must be an https URL',
    ],
    ['TSA that is not a URL', { tsaUrls: ['tsa'] }, 'stage prod: tsaUrls[0] = "tsa": must be an https URL'],
    ['no TSA', { tsaUrls: [] }, 'stage prod: tsaUrls = []: must list at least one TSA URL'],
    [
      'alarm address without @',
      { alarmEmail: 'ops.example.org' },
      'stage prod: alarmEmail = "ops.example.org": must be an e-mail address',
    ],
    [
      'upload limit above 5 GiB',
      { maxUploadBytes: MAX_SINGLE_PUT_BYTES + 1 },
      `stage prod: maxUploadBytes = ${MAX_SINGLE_PUT_BYTES + 1}: must be at most ${MAX_SINGLE_PUT_BYTES} (5 GiB, the largest single PUT that S3 accepts)`,
    ],
    ['zero upload limit', { maxUploadBytes: 0 }, 'stage prod: maxUploadBytes = 0: must be a positive integer'],
    [
      'schedule that is not an expression',
      { schedules: { notary: 'every 5 minutes' } },
      'stage prod: schedules.notary = "every 5 minutes": must be a rate(...) or cron(...) expression',
    ],
    [
      'cron with both day fields',
      { schedules: { loader: 'cron(0 * * * * *)' } },
      `stage prod: schedules.loader = "cron(0 * * * * *)": exactly one of day-of-month and day-of-week must be '?'`,
    ],
    [
      'age-off schedule that is one-time',
      { schedules: { ageOff: 'at(2026-11-22T03:00:00)' } },
      'stage prod: schedules.ageOff = "at(2026-11-22T03:00:00)": must be a rate(...) or cron(...) expression',
    ],
    ['destroyable as a string', { destroyable: 'no' }, 'stage prod: destroyable = "no": must be true or false'],
    [
      'destroyable production stage',
      { destroyable: true },
      'stage prod: destroyable = true: must be false for the prod stage',
    ],
    [
      'unknown Object Lock mode',
      { proofsObjectLock: { mode: 'STRICT', days: 10 } },
      'stage prod: proofsObjectLock.mode = "STRICT": must be GOVERNANCE or COMPLIANCE',
    ],
    [
      'Object Lock longer than the proofs retention',
      { retention: { proofsDays: 365 }, proofsObjectLock: { mode: 'COMPLIANCE', days: 400 } },
      'stage prod: proofsObjectLock.days = 400: must not exceed retention.proofsDays (365)',
    ],
    [
      'concurrency of one',
      { processing: { maxConcurrency: 1 } },
      'stage prod: processing.maxConcurrency = 1: must be an integer from 2 to 1000',
    ],
    [
      'memory below the Lambda minimum',
      { processing: { memoryMb: 100 } },
      'stage prod: processing.memoryMb = 100: must be an integer from 128 to 10240',
    ],
    [
      'timeout above the Lambda maximum',
      { processing: { timeoutSeconds: 901 } },
      'stage prod: processing.timeoutSeconds = 901: must be an integer from 1 to 900',
    ],
    [
      'batch that needs a batching window',
      { processing: { batchSize: 11 } },
      'stage prod: processing.batchSize = 11: must be an integer from 1 to 10',
    ],
    [
      'maximum concurrency of one',
      { processing: { maxConcurrency: 1 } },
      'stage prod: processing.maxConcurrency = 1: must be an integer from 2 to 1000',
    ],
    [
      'no delivery before the DLQ',
      { processing: { maxReceiveCount: 0 } },
      'stage prod: processing.maxReceiveCount = 0: must be an integer from 1 to 1000',
    ],
    [
      'fractional part size',
      { processing: { rowsPerPart: 10.5 } },
      'stage prod: processing.rowsPerPart = 10.5: must be an integer from 1 to 10000000',
    ],
    [
      'queue-age alarm under a minute',
      { processing: { queueAgeAlarmSeconds: 30 } },
      'stage prod: processing.queueAgeAlarmSeconds = 30: must be an integer from 60 to 1209600',
    ],
    ['misspelt processing key', { processing: { memory: 512 } }, 'stage prod: processing.memory: unknown key'],
    [
      'log retention CloudWatch does not offer',
      { retention: { logDays: 10 } },
      'stage prod: retention.logDays = 10: must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653',
    ],
    [
      'warehouse capacity below 8 RPU',
      { warehouse: { baseCapacity: 4 } },
      'stage prod: warehouse.baseCapacity = 4: must be an integer from 8 to 512',
    ],
    [
      'warehouse capacity above 512 RPU',
      { warehouse: { baseCapacity: 520 } },
      'stage prod: warehouse.baseCapacity = 520: must be an integer from 8 to 512',
    ],
    [
      'warehouse capacity between steps of 8 RPU',
      { warehouse: { baseCapacity: 12 } },
      'stage prod: warehouse.baseCapacity = 12: must be a multiple of 8',
    ],
    [
      'database name with an upper-case letter',
      { warehouse: { databaseName: 'Cyber' } },
      'stage prod: warehouse.databaseName = "Cyber": must be a lower-case SQL name: a letter, then letters, digits or _ (at most 63)',
    ],
    [
      'database name that could break out of an identifier',
      { warehouse: { databaseName: 'x"; drop' } },
      `stage prod: warehouse.databaseName = ${JSON.stringify('x"; drop')}: must be a lower-case SQL name: a letter, then letters, digits or _ (at most 63)`,
    ],
    [
      'admin user named after a reserved word',
      { warehouse: { adminUsername: 'user' } },
      'stage prod: warehouse.adminUsername = "user": is a reserved name in Redshift',
    ],
    [
      'loader timeout above the Lambda maximum',
      { warehouse: { loaderTimeoutSeconds: 901 } },
      'stage prod: warehouse.loaderTimeoutSeconds = 901: must be an integer from 60 to 900',
    ],
    [
      'freshness alarm under five minutes',
      { warehouse: { freshnessAlarmSeconds: 60 } },
      'stage prod: warehouse.freshnessAlarmSeconds = 60: must be an integer from 300 to 86400',
    ],
    [
      'recent load window of today only',
      { warehouse: { loadRecentDays: 0 } },
      'stage prod: warehouse.loadRecentDays = 0: must be an integer from 1 to 31',
    ],
    [
      'full-load schedule that is one-time',
      { schedules: { fullLoad: 'at(2026-11-22T02:30:00)' } },
      'stage prod: schedules.fullLoad = "at(2026-11-22T02:30:00)": must be a rate(...) or cron(...) expression',
    ],
    ['misspelt warehouse key', { warehouse: { rpu: 8 } }, 'stage prod: warehouse.rpu: unknown key'],
    [
      'concurrency above the SQS limit',
      { processing: { maxConcurrency: 1001 } },
      'stage prod: processing.maxConcurrency = 1001: must be an integer from 2 to 1000',
    ],
  ])('%s', (_name, change, expected) => {
    expect(messageOf(() => parseStageConfig('prod', { ...minimal, ...change })).split('\n')).toContain(expected);
  });

  test('names a missing required key', () => {
    expect(messageOf(() => parseStageConfig('dev', { tsaUrls: minimal.tsaUrls }))).toBe(
      'stage dev: alarmEmail: is required',
    );
  });

  test('refuses Object Lock on a destroyable stage', () => {
    expect(
      messageOf(() =>
        parseStageConfig('dev', { ...minimal, destroyable: true, proofsObjectLock: { mode: 'GOVERNANCE', days: 1 } }),
      ),
    ).toBe(
      'stage dev: destroyable = true: must be false when proofsObjectLock is set (locked objects cannot be deleted)',
    );
  });

  test('refuses settings that are not an object', () => {
    expect(messageOf(() => parseStageConfig('dev', ['a']))).toBe('stage dev: settings must be an object, got ["a"]');
  });

  test('accepts every positive whole number of retention days and rejects every other number', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), (days) => {
        const config = parseStageConfig('dev', { ...minimal, retention: { quarantineDays: days } });
        return config.retention.quarantineDays === days;
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ max: 0 }),
          fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)),
        ),
        (days) => {
          const message = messageOf(() => parseStageConfig('dev', { ...minimal, retention: { quarantineDays: days } }));
          return message === `stage dev: retention.quarantineDays = ${days}: must be a positive integer`;
        },
      ),
    );
  });
});

describe('warehouse settings', () => {
  test('accept every multiple of 8 RPU from 8 to 512 as base capacity', () => {
    for (let rpu = 8; rpu <= 512; rpu += 8) {
      expect(parseStageConfig('dev', { ...minimal, warehouse: { baseCapacity: rpu } }).warehouse.baseCapacity).toBe(
        rpu,
      );
    }
  });

  test('keep the other defaults when one key is set', () => {
    const { warehouse } = parseStageConfig('dev', { ...minimal, warehouse: { databaseName: 'threats' } });
    expect(warehouse).toMatchObject({ databaseName: 'threats', adminUsername: 'cyberactive_admin', baseCapacity: 8 });
  });
});

describe('scheduleProblem', () => {
  test.each([
    'rate(1 minute)',
    'rate(5 minutes)',
    'rate(1 hour)',
    'rate(2 days)',
    'cron(0 12 * * ? *)',
    'cron(0/15 8-18 ? * MON-FRI *)',
  ])('accepts %s', (expression) => {
    expect(scheduleProblem(expression)).toBeUndefined();
  });

  test.each([
    ['rate(1 minutes)', 'use the singular unit with a rate of 1'],
    ['rate(5 minute)', 'use the plural unit with a rate of 5'],
    ['rate(0 minutes)', 'rate value must be at least 1'],
    ['rate(5 weeks)', 'must be a rate(...) or cron(...) expression'],
    ['cron(0 12 * * ?)', 'cron() needs 6 fields: minutes hours day-of-month month day-of-week year'],
    ['cron(0 12 ? * ? *)', "exactly one of day-of-month and day-of-week must be '?'"],
    ['cron(0 12 * * ? $)', 'cron() field holds an unexpected character'],
    ['at(2030-01-01T00:00:00)', 'must be a rate(...) or cron(...) expression'],
  ])('rejects %s', (expression, problem) => {
    expect(scheduleProblem(expression)).toBe(problem);
  });
});
