import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ConfigError } from '../../lambdas/shared/errors';
import { buildApp, stackName } from '../../lib/app';
import { buildStage, cdkJsonContext, stageSettings } from './helpers';

describe.each([
  ['dev', ['Cyberactive-Dev-Storage', 'Cyberactive-Dev-Processing', 'Cyberactive-Dev-Warehouse']],
  ['prod', ['Cyberactive-Prod-Storage', 'Cyberactive-Prod-Processing', 'Cyberactive-Prod-Warehouse']],
])('synthesising stage %s', (stage, expectedStacks) => {
  test('produces an environment-agnostic template offline, with an empty validation report', () => {
    const { app } = buildStage(stage);
    const assembly = app.synth();
    expect(assembly.stacks.map((s) => s.stackName)).toEqual(expectedStacks);
    const [artifact] = assembly.stacks;
    expect(artifact?.environment).toMatchObject({ account: 'unknown-account', region: 'unknown-region' });
    expect(Object.keys(artifact?.template.Resources ?? {}).length).toBeGreaterThan(10);
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect(report.pluginReports).toEqual([]);
  });
});

describe('buildApp', () => {
  test('builds the dev stage when no stage is selected', () => {
    const app = new App({ context: cdkJsonContext() });
    const built = buildApp(app);
    expect(built.map((b) => b.storage.stackName)).toEqual(['Cyberactive-Dev-Storage']);
  });

  test('builds every stage with -c stage=all', () => {
    const app = new App({ context: { ...cdkJsonContext(), stage: 'all' } });
    const built = buildApp(app);
    expect(built.map((b) => b.storage.stackName)).toEqual(['Cyberactive-Dev-Storage', 'Cyberactive-Prod-Storage']);
    expect(() => app.synth()).not.toThrow();
  });

  test('refuses an unknown stage', () => {
    const app = new App({ context: { ...cdkJsonContext(), stage: 'qa' } });
    expect(() => buildApp(app)).toThrow(new ConfigError('unknown stage "qa": expected one of dev, prod, all'));
  });

  test('fails before building anything when a setting is invalid, naming stage, key and value', () => {
    const context = cdkJsonContext();
    const stages = context['cyberactive:stages'] as Record<string, unknown>;
    const prod = {
      ...stageSettings('prod'),
      retention: { ...(stageSettings('prod').retention as object), rawDays: -3 },
    };
    const app = new App({ context: { ...context, stage: 'prod', 'cyberactive:stages': { ...stages, prod } } });
    expect(() => buildApp(app)).toThrow('stage prod: retention.rawDays = -3: must be a positive integer');
    expect(app.node.children).toHaveLength(0);
  });

  test('turns an unacknowledged cdk-nag finding into a failed synthesis', () => {
    const { app, storage } = buildStage('dev');
    new kms.Key(storage, 'UnrotatedKey', { enableKeyRotation: false });
    expect(() => app.synth()).toThrow(/AwsSolutions-KMS5/);
  });

  test('builds the warehouse after storage, with termination protection outside destroyable stages', () => {
    const dev = buildStage('dev');
    const prod = buildStage('prod');
    expect(dev.warehouse.dependencies).toContain(dev.storage);
    expect(prod.warehouse.dependencies).toContain(prod.storage);
    expect(dev.warehouse.terminationProtection).toBe(false);
    expect(prod.warehouse.terminationProtection).toBe(true);
  });

  test('names stacks Cyberactive-<Stage>-<Part>', () => {
    expect(stackName('dev', 'Storage')).toBe('Cyberactive-Dev-Storage');
    expect(stackName('prod', 'Ingest')).toBe('Cyberactive-Prod-Ingest');
  });
});
