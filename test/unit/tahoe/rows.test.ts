import {
  TABLES,
  type TahoeEdgeRecord,
  type TahoeInstanceRecord,
  type TahoeRawRecord,
} from '../../../lambdas/schema/tables';
import { parsemain } from '../../../lambdas/tahoe/parsemain';
import { type RowContext, toRows } from '../../../lambdas/tahoe/rows';

const ORG = '96bee5cae04c4672c759adcbf98ce927f874a9094590cd5e7390b7943aff6307';
const CTX: RowContext = {
  tenant: 'demo-public',
  objectSha256: 'ab'.repeat(32),
  recordNo: 7,
  objectKey: 'raw/tenant=demo-public/typetag=cowrie/dt=2021-03-01/hour=12/01J.jsonl',
  receivedAt: new Date('2021-03-01T12:00:05.000Z'),
  timezone: 'America/New_York',
  orgid: ORG,
};

function rowsOf(typetag: string, text: string) {
  return toRows(parsemain(typetag, ORG, CTX.timezone, text, { receivedAt: 1614600005 }), CTX);
}

const LOGIN =
  '{"eventid":"cowrie.login.failed","username":"root","password":"x","session":"s1","sensor":"n1",' +
  '"src_ip":"203.0.113.9","timestamp":"2021-03-01T12:00:00.500Z","big":123456789012345678901234,"f":1.0}';

describe('toRows', () => {
  it('writes the raw row with its exact JSON text (big ints, float lexemes) and provenance', () => {
    const { raw } = rowsOf('cowrie', LOGIN);
    expect(raw).toMatchObject({
      tenant: 'demo-public',
      object_sha256: CTX.objectSha256,
      record_no: 7,
      sub_type: 'cowrie',
      timezone: 'America/New_York',
      received_at: '2021-03-01T12:00:05.000Z',
      object_key: CTX.objectKey,
    });
    expect(raw?.data).toBe(LOGIN);
    expect(raw?._hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes one row per instance with data as JSON text and event fields only on events', () => {
    const { instances } = rowsOf('cowrie', LOGIN);
    expect(new Set(instances.map((i) => i._hash)).size).toBe(instances.length);
    const event = instances.find((i) => i.itype === 'event');
    expect(event).toMatchObject({ sub_type: 'login', orgid: ORG, event_ts: 1614600000.5, category: 'malicious' });
    expect(event?.data).toBe(
      '{"attacker":[{"ipv4":["203.0.113.9"]}],"credential":[{"password":["x"],"username":["root"]}],' +
        '"method":["ssh"],"success":[false]}',
    );
    const attr = instances.find((i) => i.itype === 'attribute' && i.sub_type === 'success');
    expect(attr).toMatchObject({ data: 'false', orgid: null, event_ts: null, category: null });
  });

  it('writes every edge once, raw_ref and session_event included, with the event time on event edges', () => {
    const r = parsemain('cowrie', ORG, CTX.timezone, LOGIN, { receivedAt: 0 });
    const { edges } = toRows(r, CTX);
    const keys = edges.map((e) => `${e.parent_hash} ${e.relation} ${e.child_hash}`);
    expect(new Set(keys).size).toBe(keys.length);
    const rawRefs = edges.filter((e) => e.relation === 'raw_ref');
    expect(rawRefs.map((e) => e.child_hash).sort()).toEqual([...r.rawRef].sort());
    const event = r.instances.find((i) => i.itype === 'event');
    const session = edges.find((e) => e.relation === 'session_event');
    expect(session).toMatchObject({ child_hash: event?.hash, event_ts: 1614600000.5 });
    expect(edges.filter((e) => e.parent_hash === event?.hash).every((e) => e.event_ts === 1614600000.5)).toBe(true);
    expect(edges.find((e) => e.relation === 'mal_ref')).toBeDefined();
    expect(edges.every((e) => e.tenant === 'demo-public')).toBe(true);
  });

  it('produces rows with exactly the columns and types of the warehouse schema', () => {
    const rows = rowsOf('cowrie', LOGIN);
    // Compile-time: the rows are the schema's row types.
    const raw: TahoeRawRecord | null = rows.raw;
    const instances: readonly TahoeInstanceRecord[] = rows.instances;
    const edges: readonly TahoeEdgeRecord[] = rows.edges;
    const columns = (name: keyof typeof TABLES) => TABLES[name].columns.map((c) => c.name).sort();
    expect(Object.keys(raw ?? {}).sort()).toEqual(columns('tahoe_raw'));
    for (const i of instances) expect(Object.keys(i).sort()).toEqual(columns('tahoe_instance'));
    for (const e of edges) expect(Object.keys(e).sort()).toEqual(columns('tahoe_edge'));
  });

  it('writes session start, end and duration as session fields', () => {
    const closed = rowsOf(
      'cowrie',
      '{"eventid":"cowrie.session.closed","duration":24.7,"session":"s1","sensor":"n1","timestamp":"2021-03-01T12:00:30Z"}',
    );
    expect(closed.instances.find((i) => i.itype === 'session')).toMatchObject({
      start_time: null,
      end_time: 1614600030,
      duration: '24.7',
    });
  });

  it('keeps the raw of a failed record and nothing derived from it', () => {
    const failed = rowsOf('cowrie', '{"eventid":"cowrie.login.failed","username":["root"]}');
    expect(failed.raw).not.toBeNull();
    expect(failed.instances).toEqual([]);
    expect(failed.edges).toEqual([]);
  });

  it('writes nothing for a record that never became a raw', () => {
    expect(rowsOf('not-an-identifier', LOGIN)).toEqual({ raw: null, instances: [], edges: [] });
  });

  it('writes a non-finite event time as null and keeps the event', () => {
    const r = rowsOf('sighting', '{"ipv4":"1.2.3.4","timestamp":NaN}');
    expect(r.instances.find((i) => i.itype === 'event')).toMatchObject({ event_ts: null });
    expect(r.raw?.data).toBe('{"ipv4":"1.2.3.4","timestamp":NaN}');
  });

  it('refuses to attribute an event to a tenant whose orgid is not the event’s', () => {
    const r = parsemain('cowrie', 'other-org', CTX.timezone, LOGIN, { receivedAt: 0 });
    expect(() => toRows(r, CTX)).toThrow(/orgid/);
  });
});
