import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { applyStageRemovalPolicy } from './aspects/destroy-with-stack';
import { type Config, loadConfigs, STAGE_CONTEXT_KEY, STAGES_CONTEXT_KEY } from './config';
import { ProcessingStack } from './stacks/processing-stack';
import { StorageStack } from './stacks/storage-stack';
import { WarehouseStack } from './stacks/warehouse-stack';

/** What the app is built from: the stage selector and the per-stage settings (normally cdk.json context). */
export interface AppContext {
  /** `dev`, `prod`, … or `all`. @default 'dev' */
  readonly stage?: unknown;
  /** The `cyberactive:stages` object. */
  readonly stages?: unknown;
}

/** The stacks built for one stage. */
export interface StageStacks {
  readonly config: Config;
  readonly storage: StorageStack;
  readonly processing: ProcessingStack;
  readonly warehouse: WarehouseStack;
}

/** `Cyberactive-<Stage>-<Part>`, e.g. `Cyberactive-Prod-Storage`. Stack names are part of the deployment contract. */
export function stackName(stage: string, part: string): string {
  return `Cyberactive-${stage.charAt(0).toUpperCase()}${stage.slice(1)}-${part}`;
}

export function contextOf(app: App): AppContext {
  return {
    stage: app.node.tryGetContext(STAGE_CONTEXT_KEY),
    stages: app.node.tryGetContext(STAGES_CONTEXT_KEY),
  };
}

/**
 * Builds every stack of the selected stage(s) into `app` and registers the cdk-nag AWS Solutions checks, so that
 * any unacknowledged finding fails synthesis. Stacks are environment-agnostic: synth needs no AWS account.
 */
export function buildApp(app: App, context: AppContext = contextOf(app)): StageStacks[] {
  const configs = loadConfigs(context.stages, context.stage);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return configs.map((config) => {
    const production = !config.destroyable;
    const storage = new StorageStack(app, stackName(config.stage, 'Storage'), {
      config,
      description: `cyberactive ${config.stage}: keys, buckets, tables and the pipeline event bus`,
      terminationProtection: production,
      tags: { project: 'cyberactive', stage: config.stage },
    });
    applyStageRemovalPolicy(storage, config);
    const processing = new ProcessingStack(app, stackName(config.stage, 'Processing'), {
      config,
      storage,
      description: `cyberactive ${config.stage}: raw-events queue, process function and its alarms`,
      terminationProtection: production,
      tags: { project: 'cyberactive', stage: config.stage },
    });
    processing.addStackDependency(storage, 'grants and notifications reference the keys, buckets and tables');
    applyStageRemovalPolicy(processing, config);
    const warehouse = new WarehouseStack(app, stackName(config.stage, 'Warehouse'), {
      config,
      storage,
      description: `cyberactive ${config.stage}: Redshift Serverless in an isolated VPC and the scheduled loader`,
      terminationProtection: production,
      tags: { project: 'cyberactive', stage: config.stage },
    });
    warehouse.addStackDependency(
      storage,
      'the namespace is encrypted with the data key; COPY reads the curated and manifests buckets',
    );
    applyStageRemovalPolicy(warehouse, config);
    return { config, storage, processing, warehouse };
  });
}
