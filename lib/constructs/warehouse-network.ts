import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Properties of a {@link WarehouseNetwork}. */
export interface WarehouseNetworkProps {
  /**
   * Address range of the VPC. Each of the three subnets gets a /20 of it (4 091 usable addresses): Redshift
   * Serverless needs free addresses in every subnet, more as the workgroup's capacity grows
   * (https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-known-issues.html).
   *
   * @default '10.64.0.0/16'
   */
  readonly cidr?: string;
  /** Days the VPC flow logs are kept; one of the values CloudWatch Logs accepts. */
  readonly flowLogRetentionDays: number;
}

/**
 * The private network of the warehouse: a VPC with isolated subnets only (no internet gateway, no NAT), in three
 * Availability Zones because a Redshift Serverless workgroup needs subnets in at least three
 * (https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-usage-considerations.html).
 *
 * Nothing in it can reach the internet. AWS services are reached through VPC endpoints:
 * - gateway endpoints (free) for S3 — the loader's listing and manifests, and Redshift's COPY, which enhanced VPC
 *   routing sends through this VPC — and for DynamoDB (the ledger);
 * - interface endpoints for the Redshift Data API and X-Ray (trace segments of an active-tracing function in a VPC
 *   leave through it).
 * No endpoint for Secrets Manager or KMS: the function never calls them. The Data API reads the admin secret and
 * KMS decrypts S3 objects and that secret on the caller's behalf, service to service
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_forward_access_sessions.html).
 *
 * Interface endpoints admit HTTPS only from the loader's security group. Every flow is logged.
 */
export class WarehouseNetwork extends Construct {
  public readonly vpc: ec2.Vpc;
  /** The isolated subnets, one per Availability Zone. */
  public readonly subnets: ec2.SubnetSelection;
  /** The loader function's security group: no ingress; HTTPS out (only endpoints are reachable). */
  public readonly loaderSecurityGroup: ec2.SecurityGroup;
  /** The workgroup's security group: no ingress at all; HTTPS out for COPY through the S3 gateway endpoint. */
  public readonly workgroupSecurityGroup: ec2.SecurityGroup;
  /** The interface endpoints' security group: HTTPS in from the loader only. */
  public readonly endpointSecurityGroup: ec2.SecurityGroup;
  /** VPC flow logs (accepted and rejected traffic). */
  public readonly flowLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WarehouseNetworkProps) {
    super(scope, id);
    this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr ?? '10.64.0.0/16'),
      maxAzs: 3,
      natGateways: 0,
      createInternetGateway: false,
      subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 20 }],
      // The default security group is left without rules (the account-wide feature flag does this through a custom
      // resource): nothing uses it, and a resource that fell back to it would be able to talk to no one.
      restrictDefaultSecurityGroup: true,
    });
    this.logFlows();
    if (this.vpc.availabilityZones.length < 3) {
      throw new Error(
        `${this.node.path}: a Redshift Serverless workgroup needs subnets in 3 Availability Zones, the stack offers ${this.vpc.availabilityZones.length}`,
      );
    }
    this.subnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

    this.loaderSecurityGroup = new ec2.SecurityGroup(this, 'LoaderSecurityGroup', {
      vpc: this.vpc,
      description: 'Warehouse loader function: no ingress; HTTPS out to VPC endpoints',
      allowAllOutbound: false,
    });
    // The subnets have no route out of the VPC: HTTPS "anywhere" reaches only the gateway endpoints' prefix lists
    // and the interface endpoints. Naming the S3 and DynamoDB prefix lists instead would need a lookup at synth time.
    this.loaderSecurityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to VPC endpoints (isolated subnets)',
    );

    this.workgroupSecurityGroup = new ec2.SecurityGroup(this, 'WorkgroupSecurityGroup', {
      vpc: this.vpc,
      description: 'Redshift Serverless workgroup: no ingress; HTTPS out for COPY through the S3 gateway endpoint',
      allowAllOutbound: false,
    });
    this.workgroupSecurityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to S3 through the gateway endpoint (enhanced VPC routing)',
    );

    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'Interface VPC endpoints: HTTPS in from the warehouse loader only',
      allowAllOutbound: false,
    });
    this.endpointSecurityGroup.addIngressRule(this.loaderSecurityGroup, ec2.Port.tcp(443), 'HTTPS from the loader');

    this.vpc.addGatewayEndpoint('S3Endpoint', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [this.subnets],
    });
    this.vpc.addGatewayEndpoint('DynamoDbEndpoint', {
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: [this.subnets],
    });
    const interfaceEndpoint = (endpointId: string, service: ec2.InterfaceVpcEndpointAwsService) =>
      this.vpc.addInterfaceEndpoint(endpointId, {
        service,
        subnets: this.subnets,
        privateDnsEnabled: true,
        securityGroups: [this.endpointSecurityGroup],
        // `open: true` would add an ingress rule for the whole VPC range; only the loader needs the endpoints.
        open: false,
      });
    interfaceEndpoint('RedshiftDataEndpoint', ec2.InterfaceVpcEndpointAwsService.REDSHIFT_DATA);
    interfaceEndpoint('XRayEndpoint', ec2.InterfaceVpcEndpointAwsService.XRAY);
  }

  /**
   * Every flow of the VPC to the flow-log group, delivered with a role that only the flow-logs service of this
   * account can assume, for flow logs of this account (confused-deputy conditions,
   * https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html), and that may only write that group.
   * Written as the CloudFormation resource so that the role's trust can carry those conditions.
   */
  private logFlows(): void {
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'FlowLogRole', {
      assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({ service: 'ec2', resource: 'vpc-flow-log', resourceName: '*' }),
          },
        },
      }),
      description: 'Delivers the warehouse VPC flow logs to their log group',
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [this.flowLogGroup.logGroupArn],
      }),
    );
    const flowLog = new ec2.CfnFlowLog(this, 'FlowLog', {
      resourceId: this.vpc.vpcId,
      resourceType: 'VPC',
      trafficType: 'ALL',
      logDestinationType: 'cloud-watch-logs',
      logGroupName: this.flowLogGroup.logGroupName,
      deliverLogsPermissionArn: role.roleArn,
    });
    // The role must be able to write before the first delivery.
    flowLog.node.addDependency(role);
  }

  /** The subnet ids the loader function and the workgroup are placed in. */
  public subnetIds(): string[] {
    return this.vpc.selectSubnets(this.subnets).subnetIds;
  }
}
