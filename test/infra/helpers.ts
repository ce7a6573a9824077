import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp, type StageStacks } from '../../lib/app';

/** The context of the real cdk.json: feature flags and the `cyberactive:stages` settings. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

/** The settings of one stage as written in cdk.json. */
export function stageSettings(stage: string): Record<string, unknown> {
  const stages = cdkJsonContext()['cyberactive:stages'] as Record<string, Record<string, unknown>>;
  const settings = stages[stage];
  if (!settings) throw new Error(`cdk.json has no stage ${stage}`);
  return settings;
}

/** Builds the app exactly as `cdk synth -c stage=<stage>` does, with cdk.json's context. */
export function buildStage(stage: string, extraContext: Record<string, unknown> = {}): { app: App } & StageStacks {
  const app = new App({ context: { ...cdkJsonContext(), stage, ...extraContext } });
  const [built] = buildApp(app);
  if (!built) throw new Error(`no stacks built for stage ${stage}`);
  return { app, ...built };
}
