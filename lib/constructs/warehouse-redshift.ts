import { ArnFormat, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as redshift from 'aws-cdk-lib/aws-redshiftserverless';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { rules } from 'cdk-nag';
import { Construct, type IConstruct } from 'constructs';
import type { WildcardPermissionReason } from './pipeline-function';
import type { WarehouseNetwork } from './warehouse-network';

/** A bucket and the one key prefix of it that COPY may read, e.g. the curated bucket's `tahoe/`. */
export interface CopySource {
  readonly bucket: s3.IBucket;
  /** Ends with `/`. */
  readonly prefix: string;
}

/** Properties of a {@link RedshiftServerlessWarehouse}. */
export interface RedshiftServerlessWarehouseProps {
  readonly network: WarehouseNetwork;
  /**
   * The stage's data key: encrypts the namespace (data, snapshots) and, through the Data API's grant, the statements
   * and results the Data API keeps. Its key policy gains the statements that let Redshift use it.
   */
  readonly dataKey: kms.IKey;
  /** The only objects the COPY role may read: Parquet files and the manifests that list them. */
  readonly copySources: readonly CopySource[];
  /** The first database of the namespace. */
  readonly databaseName: string;
  /** The admin user; its password is generated, stored and rotated by Redshift in Secrets Manager. */
  readonly adminUsername: string;
  /** Base capacity of the workgroup in RPUs. */
  readonly baseCapacity: number;
  /**
   * What happens to the namespace (the data) when it leaves the stack. Destroyable stages get DESTROY through the
   * stage Aspect.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Environment variables set on a function by {@link RedshiftServerlessWarehouse.grantDataApi}. */
export const WAREHOUSE_ENV = {
  workgroup: 'WAREHOUSE_WORKGROUP',
  database: 'WAREHOUSE_DATABASE',
  secret: 'WAREHOUSE_SECRET',
} as const;

/** Audit logs the namespace exports to CloudWatch Logs (connections, user changes, every query's text). */
export const WAREHOUSE_LOG_EXPORTS = ['connectionlog', 'userlog', 'useractivitylog'] as const;

/**
 * Acknowledges the cdk-nag `AwsSolutions-IAM5` findings of `role`'s default policy that match one of `reasons`, each
 * finding on its own and on the policy resource alone, as `PipelineFunction.acknowledgeWildcardPermissions` does for
 * function roles: now, and again once references to other stacks are resolved (which changes how their resources
 * read in the findings). A finding that matches no reason stays reported. Call it after the grants.
 */
export function acknowledgeRoleWildcards(role: iam.IRole, reasons: readonly WildcardPermissionReason[]): void {
  const acknowledge = () => {
    const policy = role.node.tryFindChild('DefaultPolicy')?.node.defaultChild;
    if (!(policy instanceof iam.CfnPolicy)) return;
    const findings = rules.iam.IAMNoWildcardPermissions(policy);
    if (!Array.isArray(findings)) return;
    for (const finding of findings) {
      const match = reasons.find((r) => r.finding.test(finding));
      if (match) Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason: match.reason });
    }
  };
  acknowledge();
  role.node.addValidation({
    validate: () => {
      acknowledge();
      return [];
    },
  });
}

/**
 * A physical name for a resource whose CloudFormation type requires one (namespace and workgroup names are
 * mandatory): derived from the construct path, so it is stable while the construct id is, unique per stack, and made
 * of the lower-case letters, digits and hyphens Redshift Serverless accepts (3–64 characters).
 */
export function redshiftServerlessName(construct: IConstruct): string {
  return Names.uniqueResourceName(construct, { maxLength: 64, separator: '-', allowedSpecialCharacters: '-' })
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '');
}

/**
 * A Redshift Serverless namespace and workgroup with this project's defaults:
 *
 * - encrypted with the stage's data key;
 * - admin credentials generated and kept by Redshift in Secrets Manager (`ManageAdminPassword`), which also rotates
 *   them (managed rotation, https://docs.aws.amazon.com/redshift/latest/mgmt/redshift-secrets-manager-integration.html):
 *   no password in the template, no rotation function to run;
 * - audit logs (connections, users, user activity) exported to CloudWatch Logs;
 * - a default IAM role for COPY that can read only the given prefixes (objects and their SSE-KMS key), so SQL run with
 *   `IAM_ROLE default` needs no role ARN in its text and can read nothing else;
 * - the workgroup in the isolated subnets, not publicly accessible, with enhanced VPC routing (COPY traffic to S3
 *   goes through the VPC's S3 gateway endpoint, where flow logs see it), TLS required, and a security group without
 *   ingress (the Data API reaches the workgroup through the service, not the network).
 */
export class RedshiftServerlessWarehouse extends Construct {
  public readonly namespace: redshift.CfnNamespace;
  public readonly workgroup: redshift.CfnWorkgroup;
  /** The namespace's default IAM role: what `COPY … IAM_ROLE default` runs as. */
  public readonly copyRole: iam.Role;
  public readonly namespaceName: string;
  public readonly workgroupName: string;
  public readonly workgroupArn: string;
  public readonly databaseName: string;
  /**
   * The name of the admin secret Redshift creates, `redshift!<namespace>-<admin user>`: the Data API takes a secret's
   * name or ARN, and CloudFormation returns no attribute holding the ARN.
   */
  public readonly adminSecretName: string;
  /** ARN pattern of the admin secret (Secrets Manager appends `-` and six random characters to the name). */
  public readonly adminSecretArnPattern: string;
  private readonly dataKey: kms.IKey;

  constructor(scope: Construct, id: string, props: RedshiftServerlessWarehouseProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.dataKey = props.dataKey;
    this.databaseName = props.databaseName;
    if (!Number.isInteger(props.baseCapacity) || props.baseCapacity < 8 || props.baseCapacity > 512) {
      throw new Error(`${this.node.path}: baseCapacity = ${props.baseCapacity}: must be an integer from 8 to 512`);
    }
    if (props.copySources.length === 0 || props.copySources.some((s) => !/^[A-Za-z0-9_.=-]+\/$/.test(s.prefix))) {
      throw new Error(`${this.node.path}: copySources must name at least one bucket prefix ending with /`);
    }

    this.copyRole = new iam.Role(this, 'CopyRole', {
      // Redshift Serverless assumes a namespace's roles as either principal, depending on the feature.
      // https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-iam.html
      assumedBy: new iam.CompositePrincipal(
        new iam.ServicePrincipal('redshift.amazonaws.com'),
        new iam.ServicePrincipal('redshift-serverless.amazonaws.com'),
      ),
      description: 'Default IAM role of the warehouse namespace: COPY reads Parquet and manifests, nothing else',
    });
    for (const source of props.copySources) {
      this.copyRole.addToPolicy(
        new iam.PolicyStatement({
          sid: `Read${source.prefix.replace(/[^A-Za-z0-9]/g, '')}Objects`,
          actions: ['s3:GetObject'],
          resources: [source.bucket.arnForObjects(`${source.prefix}*`)],
        }),
      );
      // COPY lists the bucket to check the files it is given; the listing is confined to the same prefix.
      // https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-access-permissions.html
      this.copyRole.addToPolicy(
        new iam.PolicyStatement({
          sid: `List${source.prefix.replace(/[^A-Za-z0-9]/g, '')}Prefix`,
          actions: ['s3:ListBucket'],
          resources: [source.bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${source.prefix}*`] } },
        }),
      );
    }
    // The objects are SSE-KMS under the data key: S3 decrypts them for the role only if the role may use the key,
    // and the key policy admits that use only through S3.
    this.copyRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptObjectsThroughS3',
        actions: ['kms:Decrypt'],
        resources: [props.dataKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
      }),
    );

    acknowledgeRoleWildcards(this.copyRole, [
      {
        finding: new RegExp(
          `^Resource::.+/(${props.copySources.map((c) => c.prefix.replace(/[^A-Za-z0-9]/g, '')).join('|')})/\\*$`,
        ),
        reason:
          'COPY reads files named per load (Parquet parts, manifests); the role may read only objects under these key prefixes, nothing else of the buckets.',
      },
    ]);

    this.allowRedshiftToUseKey(props.dataKey);

    this.namespace = new redshift.CfnNamespace(this, 'Namespace', {
      namespaceName: 'placeholder',
      dbName: props.databaseName,
      adminUsername: props.adminUsername,
      manageAdminPassword: true,
      kmsKeyId: props.dataKey.keyArn,
      defaultIamRoleArn: this.copyRole.roleArn,
      iamRoles: [this.copyRole.roleArn],
      logExports: [...WAREHOUSE_LOG_EXPORTS],
    });
    this.namespaceName = redshiftServerlessName(this.namespace);
    this.namespace.namespaceName = this.namespaceName;
    this.namespace.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    // The role's permissions exist before the namespace can hand the role to a COPY.
    this.namespace.node.addDependency(this.copyRole);

    this.workgroup = new redshift.CfnWorkgroup(this, 'Workgroup', {
      workgroupName: 'placeholder',
      namespaceName: this.namespace.ref,
      baseCapacity: props.baseCapacity,
      publiclyAccessible: false,
      enhancedVpcRouting: true,
      subnetIds: props.network.subnetIds(),
      securityGroupIds: [props.network.workgroupSecurityGroup.securityGroupId],
      // https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-workgroup-config-parameters.html
      configParameters: [
        // Without it the useractivitylog export stays empty.
        { parameterKey: 'enable_user_activity_logging', parameterValue: 'true' },
        { parameterKey: 'require_ssl', parameterValue: 'true' },
      ],
    });
    this.workgroupName = redshiftServerlessName(this.workgroup);
    this.workgroup.workgroupName = this.workgroupName;
    this.workgroupArn = this.workgroup.attrWorkgroupWorkgroupArn;

    this.adminSecretName = `redshift!${this.namespaceName}-${props.adminUsername}`;
    this.adminSecretArnPattern = stack.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${this.adminSecretName}-??????`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /**
   * Lets `grantee` run SQL through the Redshift Data API on this workgroup as the admin user (Secrets Manager
   * authentication), and nothing else:
   * - `ExecuteStatement` / `BatchExecuteStatement` on this workgroup only;
   * - `DescribeStatement` / `GetStatementResult` / `CancelStatement` on its own statements only (these actions have
   *   no resource type; the managed policy's owner condition confines them,
   *   https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-access.html);
   * - `GetSecretValue` on the admin secret, which the Data API reads with the caller's credentials;
   * - `kms:CreateGrant` / `kms:DescribeKey` on the data key through the Data API, which keeps statements and results
   *   encrypted under the workgroup's key (https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-kms.html).
   * A function also learns the workgroup, database and secret from this call ({@link WAREHOUSE_ENV}).
   */
  public grantDataApi(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    if (grantee instanceof lambda.Function) {
      grantee.addEnvironment(WAREHOUSE_ENV.workgroup, this.workgroupName);
      grantee.addEnvironment(WAREHOUSE_ENV.database, this.databaseName);
      grantee.addEnvironment(WAREHOUSE_ENV.secret, this.adminSecretName);
    }
    const run = iam.Grant.addToPrincipal({
      grantee,
      actions: ['redshift-data:ExecuteStatement', 'redshift-data:BatchExecuteStatement'],
      resourceArns: [this.workgroupArn],
    });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DataApiOwnStatements',
        actions: [
          'redshift-data:DescribeStatement',
          'redshift-data:GetStatementResult',
          'redshift-data:CancelStatement',
        ],
        resources: ['*'],
        // An IAM policy variable, resolved per request to the caller's unique id (not a template placeholder).
        // biome-ignore lint/suspicious/noTemplateCurlyInString: IAM policy variable
        conditions: { StringEquals: { 'redshift-data:statement-owner-iam-userid': '${aws:userid}' } },
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DataApiAdminSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [this.adminSecretArnPattern],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DataApiKeyGrant',
        actions: ['kms:CreateGrant', 'kms:DescribeKey'],
        resources: [this.dataKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `redshift-data.${stack.region}.amazonaws.com` } },
      }),
    );
    return run;
  }

  /**
   * Key policy statements for Redshift (https://docs.aws.amazon.com/redshift/latest/mgmt/authorizing-kms-customer-managed-key.html):
   * principals of this account — CloudFormation creating the namespace, Redshift working on its behalf, the Data
   * API for its callers — may use the key only through Redshift Serverless or the Data API, and only as far as their
   * IAM policies allow (the statements name the account, not a role).
   */
  private allowRedshiftToUseKey(key: kms.IKey): void {
    const stack = Stack.of(key);
    const account = stack.account;
    const region = stack.region;
    const redshiftServices = [`redshift-serverless.${region}.amazonaws.com`, `redshift.${region}.amazonaws.com`];
    const statements = [
      new iam.PolicyStatement({
        sid: 'UseThroughRedshiftServerless',
        principals: [new iam.AccountRootPrincipal()],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:CallerAccount': account, 'kms:ViaService': redshiftServices } },
      }),
      new iam.PolicyStatement({
        sid: 'RedshiftServerlessGrants',
        principals: [new iam.AccountRootPrincipal()],
        actions: ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'kms:CallerAccount': account, 'kms:ViaService': redshiftServices },
          Bool: { 'kms:GrantIsForAWSResource': 'true' },
        },
      }),
      new iam.PolicyStatement({
        sid: 'RedshiftDataApiGrants',
        principals: [new iam.AccountRootPrincipal()],
        actions: ['kms:CreateGrant', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'kms:CallerAccount': account, 'kms:ViaService': `redshift-data.${region}.amazonaws.com` },
        },
      }),
    ];
    for (const statement of statements) {
      const { statementAdded } = key.addToResourcePolicy(statement);
      if (!statementAdded) {
        throw new Error(`${this.node.path}: the data key must be a key of this app: its policy needs ${statement.sid}`);
      }
    }
  }
}
