/** S3 notification bodies exactly as S3 puts them in SQS messages, for the handler and parser tests. */

export const KEY = 'raw/tenant=acme/typetag=cowrie/dt=2026-11-22/hour=09/01JD5Z3M8Q0000000000000001.gz.esdk';
export const ENCODED_KEY =
  'raw/tenant%3Dacme/typetag%3Dcowrie/dt%3D2026-11-22/hour%3D09/01JD5Z3M8Q0000000000000001.gz.esdk';

/** One record exactly as S3 sends it for a PUT to a versioned bucket. */
export function s3Record(
  overrides: { key?: string; bucket?: string; versionId?: string | null; eventName?: string } = {},
) {
  const object: Record<string, unknown> = {
    key: overrides.key ?? ENCODED_KEY,
    size: 4242,
    eTag: '0123456789abcdef0123456789abcdef',
    sequencer: '0067403F1B2C3D4E5F',
  };
  if (overrides.versionId !== null) object.versionId = overrides.versionId ?? '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY';
  const bucket = overrides.bucket ?? 'raw-bucket';
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'eu-west-1',
    eventTime: '2026-11-22T09:15:03.123Z',
    eventName: overrides.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'AWS:AROAEXAMPLE:presign' },
    requestParameters: { sourceIPAddress: '203.0.113.7' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'raw-object-created',
      bucket: { name: bucket, ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: `arn:aws:s3:::${bucket}` },
      object,
    },
  };
}

export const TEST_EVENT = {
  Service: 'Amazon S3',
  Event: 's3:TestEvent',
  Time: '2026-11-22T09:00:00.000Z',
  Bucket: 'raw-bucket',
  RequestId: '5582815E1AEA5ADF',
  HostId: '8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE',
};
