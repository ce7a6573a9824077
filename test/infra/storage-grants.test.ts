import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { loadConfigs } from '../../lib/config';
import { StorageStack } from '../../lib/stacks/storage-stack';
import { cdkJsonContext } from './helpers';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** A storage stack and a consumer stack in one app, the way later stacks use the grant helpers. */
function setup() {
  const context = cdkJsonContext();
  const app = new App({ context });
  const [config] = loadConfigs(context['cyberactive:stages'], 'dev');
  if (!config) throw new Error('no dev config');
  const storage = new StorageStack(app, 'Storage', { config });
  const consumer = new Stack(app, 'Consumer');
  const fn = new lambda.Function(consumer, 'Fn', {
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => undefined;'),
  });
  const role = new iam.Role(consumer, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  return { storage, consumer, fn, role };
}

function statementsOf(consumer: Stack): Statement[] {
  return Object.values(Template.fromStack(consumer).findResources('AWS::IAM::Policy')).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Statement[],
  );
}

function actionsOn(statements: Statement[], fragment: string): string[] {
  return statements
    .filter((s) => JSON.stringify(s.Resource).includes(fragment))
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

function exportFragment(storage: StorageStack, construct: IConstruct): string {
  return storage.getLogicalId(construct.node.defaultChild as CfnElement);
}

describe('StorageStack grant helpers', () => {
  test('grantRawRead gives a function read access under raw/ and tells it the bucket name', () => {
    const { storage, consumer, fn } = setup();
    storage.grantRawRead(fn);
    const statements = statementsOf(consumer);
    const raw = statements.filter((s) =>
      JSON.stringify(s.Resource).includes(exportFragment(storage, storage.rawBucket)),
    );
    expect(raw.flatMap((s) => s.Action)).toEqual(expect.arrayContaining(['s3:GetObject*', 's3:List*']));
    expect(JSON.stringify(raw.map((s) => s.Resource))).toContain('/raw/*');
    expect(actionsOn(statements, exportFragment(storage, storage.dataKey))).toContain('kms:Decrypt');
    const env = Template.fromStack(consumer).findResources('AWS::Lambda::Function');
    const vars = Object.values(env)[0]?.Properties.Environment.Variables;
    expect(Object.keys(vars)).toEqual(['RAW_BUCKET']);
  });

  test('grantRawWrite allows creating objects but not deleting them', () => {
    const { storage, consumer, role } = setup();
    storage.grantRawWrite(role);
    const granted = actionsOn(statementsOf(consumer), exportFragment(storage, storage.rawBucket));
    expect(granted).toContain('s3:PutObject');
    expect(granted.some((a) => a.startsWith('s3:Delete'))).toBe(false);
  });

  test('grantEnvelopeUnwrap allows kms:Decrypt on the envelope key only', () => {
    const { storage, consumer, role } = setup();
    storage.grantEnvelopeUnwrap(role);
    const statements = statementsOf(consumer);
    expect(actionsOn(statements, exportFragment(storage, storage.envelopeKey))).toEqual(['kms:Decrypt']);
    expect(actionsOn(statements, exportFragment(storage, storage.dataKey))).toEqual([]);
  });

  test('grantEnvelopePublicKey allows reading the public key and nothing that decrypts', () => {
    const { storage, consumer, role } = setup();
    storage.grantEnvelopePublicKey(role);
    const granted = actionsOn(statementsOf(consumer), exportFragment(storage, storage.envelopeKey));
    expect(granted.sort()).toEqual(['kms:DescribeKey', 'kms:GetPublicKey']);
  });

  test('grantLedgerReadWrite covers the table and its indexes', () => {
    const { storage, consumer, fn } = setup();
    storage.grantLedgerReadWrite(fn);
    const statements = statementsOf(consumer);
    const ledger = statements.filter((s) =>
      JSON.stringify(s.Resource).includes(exportFragment(storage, storage.ledgerTable)),
    );
    expect(ledger.flatMap((s) => s.Action)).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:Query']));
    expect(JSON.stringify(ledger.map((s) => s.Resource))).toContain('/index/*');
  });

  test('grantPutEvents allows events:PutEvents on the pipeline bus', () => {
    const { storage, consumer, role } = setup();
    storage.grantPutEvents(role);
    expect(actionsOn(statementsOf(consumer), exportFragment(storage, storage.eventBus))).toEqual(['events:PutEvents']);
  });
});
