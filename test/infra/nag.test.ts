import { App, CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { PipelineFunction } from '../../lib/constructs/pipeline-function';
import { SecureBucket } from '../../lib/constructs/secure-bucket';
import { buildStage } from './helpers';

interface Acknowledgment {
  path: string;
  id: string;
  reason: string;
  scope: IConstruct;
}

/** Every `Validations.of(x).acknowledge()` recorded in the tree, with the construct it was recorded on. */
function acknowledgments(root: IConstruct): Acknowledgment[] {
  return root.node.findAll().flatMap((scope) =>
    scope.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: scope.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
          scope,
        })),
      ),
  );
}

/** Findings of the AWS Solutions pack that are neither compliant nor acknowledged, as readable lines. */
function findings(root: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(root);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}: ${v.description}`),
  );
}

describe.each(['dev', 'prod'])('cdk-nag AwsSolutionsChecks (%s)', (stage) => {
  test('reports no unacknowledged error or warning', () => {
    const { app } = buildStage(stage);
    expect(findings(app)).toEqual([]);
  });

  test('synthesis succeeds with the checks registered on the app', () => {
    const { app } = buildStage(stage);
    const assembly = app.synth();
    const title = `${stage.charAt(0).toUpperCase()}${stage.slice(1)}`;
    expect(assembly.stacks.map((s) => s.stackName)).toEqual([
      `Cyberactive-${title}-Storage`,
      `Cyberactive-${title}-Processing`,
      `Cyberactive-${title}-Warehouse`,
    ]);
  });

  test('checks the warehouse stack: its VPC, Redshift, loader and schedule resources are in the report scope', () => {
    const { app, warehouse } = buildStage(stage);
    // A finding planted in the warehouse stack must surface, so a clean report above means a checked stack.
    new kms.Key(warehouse, 'UnrotatedProbeKey', { enableKeyRotation: false });
    expect(findings(app)).toEqual([
      expect.stringMatching(/AwsSolutions-KMS5 at Cyberactive-\w+-Warehouse\/UnrotatedProbeKey/),
    ]);
  });

  test("acknowledges the warehouse roles' wildcards finding by finding, on their policies alone", () => {
    const { app, warehouse } = buildStage(stage);
    const acks = acknowledgments(app).filter((a) => a.path.startsWith(`${warehouse.stackName}/`));
    const ids = acks.map((a) => `${a.path.replace(`${warehouse.stackName}/`, '')} ${a.id}`);
    expect(ids).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^Warehouse\/CopyRole\/DefaultPolicy\/Resource AwsSolutions-IAM5\[Resource::.+\/tahoe\/\*\]$/,
        ),
        expect.stringMatching(
          /^Warehouse\/CopyRole\/DefaultPolicy\/Resource AwsSolutions-IAM5\[Resource::.+\/manifests\/\*\]$/,
        ),
        expect.stringMatching(/^LoaderFunctionRole\/DefaultPolicy\/Resource AwsSolutions-IAM5\[Resource::\*\]$/),
        expect.stringMatching(/^LoaderScheduleDeadLetterQueue\/Resource AwsSolutions-SQS3$/),
      ]),
    );
    // No blanket acknowledgment of a whole rule on a role policy: IAM5 is always acknowledged per finding.
    expect(ids.filter((id) => / AwsSolutions-IAM5$/.test(id))).toEqual([]);
  });

  test('every acknowledgment is scoped to one resource and gives a reason', () => {
    const { app } = buildStage(stage);
    const acks = acknowledgments(app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.scope).not.toBeInstanceOf(App);
      expect(Stack.isStack(ack.scope)).toBe(false);
      // Exactly one CloudFormation resource at or below the acknowledged construct.
      const resources = ack.scope.node.findAll().filter((c) => CfnResource.isCfnResource(c));
      expect({ path: ack.path, resources: resources.length }).toEqual({ path: ack.path, resources: 1 });
      expect(ack.reason.length).toBeGreaterThan(40);
    }
  });
});

describe('the cdk-nag harness', () => {
  test('detects an access-log target bucket that nobody acknowledged', () => {
    const app = new App();
    const stack = new Stack(app, 'Probe');
    new SecureBucket(stack, 'Logs', { accessLogTarget: true });
    expect(findings(app)).toEqual([expect.stringMatching(/AwsSolutions-S1 at Probe\/Logs\/Resource/)]);
  });

  test('detects a wildcard permission of a pipeline function that no reason covers', () => {
    const app = new App();
    const stack = new Stack(app, 'Probe');
    const bucket = new s3.Bucket(stack, 'Bucket');
    const fn = new PipelineFunction(stack, 'Fn', {
      entry: 'lambdas/handlers/process.ts',
      serviceName: 'probe',
      description: 'probe',
      memoryMb: 128,
      timeout: Duration.seconds(10),
      logRetentionDays: 1,
    });
    bucket.grantRead(fn, 'in/*');
    fn.acknowledgeWildcardPermissions([
      { finding: /^Resource::\*$/, reason: 'X-Ray has no resource-level permissions, which is all this covers.' },
      {
        finding: /^Action::s3:(GetObject|GetBucket|List)\*$/,
        reason: 'Read action groups of one prefix of one bucket.',
      },
    ]);
    expect(findings(app).filter((f) => f.includes('AwsSolutions-IAM5'))).toEqual([
      expect.stringMatching(
        /AwsSolutions-IAM5\[Resource::<Bucket83908E77\.Arn>\/in\/\*\] at Probe\/FnRole\/DefaultPolicy/,
      ),
    ]);
  });

  test('detects a symmetric key without rotation', () => {
    const app = new App();
    const stack = new Stack(app, 'Probe');
    new kms.Key(stack, 'Key', { enableKeyRotation: false });
    expect(findings(app)).toEqual([expect.stringMatching(/AwsSolutions-KMS5 at Probe\/Key\/Resource/)]);
  });
});
