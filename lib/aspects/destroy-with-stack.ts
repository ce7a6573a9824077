import { AspectPriority, Aspects, CfnResource, type IAspect, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { IConstruct } from 'constructs';
import type { Config } from '../config';

/**
 * Makes every resource of a scope go away with its stack: `DeletionPolicy: Delete` and no DynamoDB deletion
 * protection. Meant for ephemeral stages only; apply it through {@link applyStageRemovalPolicy}, never directly.
 *
 * Buckets are not emptied (no `autoDeleteObjects`, which would add a custom-resource Lambda): CloudFormation
 * fails to delete a bucket that still holds objects, which is the intended last line of defence.
 */
export class DestroyWithStack implements IAspect {
  public visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node)) return;
    node.applyRemovalPolicy(RemovalPolicy.DESTROY);
    if (node instanceof dynamodb.CfnTable) node.deletionProtectionEnabled = false;
  }
}

/**
 * The stage gate: only a stage configured `destroyable` gets {@link DestroyWithStack}; every other stage keeps the
 * RETAIN policies its constructs declare.
 */
export function applyStageRemovalPolicy(scope: IConstruct, config: Pick<Config, 'destroyable'>): void {
  if (config.destroyable) {
    Aspects.of(scope).add(new DestroyWithStack(), { priority: AspectPriority.MUTATING });
  }
}
