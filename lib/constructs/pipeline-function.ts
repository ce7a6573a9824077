import { join, resolve } from 'node:path';
import { type Duration, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { rules } from 'cdk-nag';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../lambdas/shared/observability';

/** The repository root: entries, the lock file and esbuild's working directory are resolved from it. */
const PROJECT_ROOT = resolve(__dirname, '..', '..');

/** Modules the Lambda Node.js runtime provides (AWS SDK v3 and the Smithy packages it is built on). */
export const RUNTIME_PROVIDED_MODULES = ['@aws-sdk/*', '@smithy/*'];

/** Why a group of wildcard permissions of a function's role is acceptable, for the cdk-nag IAM5 rule. */
export interface WildcardPermissionReason {
  /**
   * Matched against each IAM5 finding of the role's policy: `Action::<action>` or `Resource::<resource>`, where a
   * resource from another stack may be rendered either as `<LogicalId.Arn>` or as the reference that replaces it
   * at synthesis, so match the literal part (e.g. `/\/raw\/\*$/`).
   */
  readonly finding: RegExp;
  /** Why the wildcard is needed and what bounds it. */
  readonly reason: string;
}

/** Properties of a {@link PipelineFunction}. */
export interface PipelineFunctionProps {
  /** Handler file, relative to the repository root, e.g. `lambdas/handlers/process.ts`. It must export `handler`. */
  readonly entry: string;
  /** Powertools service name (`POWERTOOLS_SERVICE_NAME`): names the function in logs, metrics and traces. */
  readonly serviceName: string;
  /** Shown in the Lambda console. */
  readonly description: string;
  /** Memory in MB; CPU is allotted in proportion (1769 MB = one vCPU). */
  readonly memoryMb: number;
  /** Maximum run time of one invocation. */
  readonly timeout: Duration;
  /** Days the function's logs are kept; one of the values CloudWatch Logs accepts. */
  readonly logRetentionDays: number;
  /**
   * Extra environment variables. Variables naming resources are set by the grant helpers that give access to them.
   *
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Size of `/tmp` in MiB (512–10240). Functions that stage output on disk before committing it need more.
   * @default 512
   */
  readonly ephemeralStorageMb?: number;
  /**
   * Caps the V8 old-generation heap at this share of `memoryMb`. Without a cap V8 grows its heap lazily up to the
   * function's memory, and a large file can then hit the memory limit instead of collecting garbage.
   * @default - no cap
   */
  readonly heapShareOfMemory?: number;
}

/**
 * A Node.js Lambda function with this project's defaults: nodejs22.x on ARM64 (Graviton: lower cost per GB-second),
 * explicit memory and timeout, active X-Ray tracing, a log group of its own with a retention period, JSON log
 * format, and a role that can write only to that log group (no `AWSLambdaBasicExecutionRole`, whose
 * `logs:CreateLogGroup` on `*` is more than a function with a pre-created log group needs).
 *
 * The code is bundled by esbuild on the machine running `cdk synth` (no Docker): minified, with a source map that
 * `NODE_OPTIONS=--enable-source-maps` makes the runtime apply to stack traces. The AWS SDK is not bundled; the
 * runtime provides it.
 */
export class PipelineFunction extends nodejs.NodejsFunction {
  /** The function's log group. */
  public readonly functionLogGroup: logs.LogGroup;
  /** The execution role (created without AWS managed policies). */
  public readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const where = `${scope.node.path}/${id}`;
    if (!Number.isInteger(props.memoryMb) || props.memoryMb < 128 || props.memoryMb > 10_240) {
      throw new Error(`${where}: memoryMb = ${props.memoryMb}: must be an integer from 128 to 10240`);
    }
    const timeoutSeconds = props.timeout.toSeconds();
    if (timeoutSeconds < 1 || timeoutSeconds > 900) {
      throw new Error(`${where}: timeout = ${timeoutSeconds} s: must be from 1 to 900 seconds`);
    }
    const ephemeralMb = props.ephemeralStorageMb ?? 512;
    if (!Number.isInteger(ephemeralMb) || ephemeralMb < 512 || ephemeralMb > 10_240) {
      throw new Error(`${where}: ephemeralStorageMb = ${ephemeralMb}: must be an integer from 512 to 10240`);
    }
    const share = props.heapShareOfMemory;
    if (share !== undefined && !(share > 0 && share < 1)) {
      throw new Error(`${where}: heapShareOfMemory = ${share}: must be between 0 and 1`);
    }
    const nodeOptions = ['--enable-source-maps'];
    if (share !== undefined) nodeOptions.push(`--max-old-space-size=${Math.floor(props.memoryMb * share)}`);
    // Created before super() so that they can be passed in, hence siblings of the function: `<id>LogGroup`, `<id>Role`.
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.serviceName}: execution role`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      entry: join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMb,
      ephemeralStorageSize: Size.mebibytes(ephemeralMb),
      timeout: props.timeout,
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      role,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: nodeOptions.join(' '),
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        target: 'node22',
        externalModules: RUNTIME_PROVIDED_MODULES,
      },
    });
    this.functionLogGroup = logGroup;
    this.executionRole = role;
    Validations.of(this.node.defaultChild as lambda.CfnFunction).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x, the runtime the code is built and tested for (esbuild target node22); moving to a newer runtime is a deliberate, tested change.',
    });
  }

  /**
   * Acknowledges the cdk-nag `AwsSolutions-IAM5` findings of this function's role policy that match one of
   * `reasons`, each finding separately and on the policy resource alone. Findings that match no reason stay
   * reported, so a new wildcard needs a reason of its own.
   *
   * Findings are computed twice: now, and again during synthesis, after references to other stacks have been
   * replaced by the intrinsics that import them (which changes how their resources are rendered in the findings).
   * Call it after the grants.
   */
  public acknowledgeWildcardPermissions(reasons: readonly WildcardPermissionReason[]): void {
    const acknowledge = () => {
      const policy = this.executionRole.node.tryFindChild('DefaultPolicy')?.node.defaultChild;
      if (!(policy instanceof iam.CfnPolicy)) return;
      const findings = rules.iam.IAMNoWildcardPermissions(policy);
      if (!Array.isArray(findings)) return;
      for (const finding of findings) {
        const match = reasons.find((r) => r.finding.test(finding));
        if (match) Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason: match.reason });
      }
    };
    acknowledge();
    // Construct validations run after cross-stack references are resolved and before validation plugins (cdk-nag).
    this.node.addValidation({
      validate: () => {
        acknowledge();
        return [];
      },
    });
  }
}
