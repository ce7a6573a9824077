import fc from 'fast-check';
import { dumps, PyFloat, type PyValue } from '../../../lambdas/tahoe/json';
import type { Instance, TahoeEvent, TahoeSession } from '../../../lambdas/tahoe/model';
import { type ParsemainOptions, parsemain, type TahoeRecordResult } from '../../../lambdas/tahoe/parsemain';
import { must } from './golden';

const ORG = '96bee5cae04c4672c759adcbf98ce927f874a9094590cd5e7390b7943aff6307';
const TZ = 'America/New_York';
const RECEIVED = 1617029427.912206;

function run(typetag: string, record: string | Buffer, options: Partial<ParsemainOptions> = {}): TahoeRecordResult {
  return parsemain(typetag, ORG, TZ, record, { receivedAt: RECEIVED, ...options });
}

function cowrie(fields: Record<string, unknown>): string {
  return JSON.stringify({
    session: 'e0e1e2e3',
    sensor: 'f89597a7c9bc',
    src_ip: '203.0.113.9',
    timestamp: '2021-03-01T12:00:00.000001Z',
    ...fields,
  });
}

function events(r: TahoeRecordResult): TahoeEvent[] {
  return r.instances.filter((i): i is TahoeEvent => i.itype === 'event');
}

function sessions(r: TahoeRecordResult): TahoeSession[] {
  return r.instances.filter((i): i is TahoeSession => i.itype === 'session');
}

function dataOf(i: Instance): string {
  return dumps(i.data as PyValue);
}

describe('parsemain outcomes', () => {
  it('wraps text that json.loads rejects as {"data": text} and flags it invalid when the filter cannot read it', () => {
    const r = run('cowrie', 'not json at all');
    expect(r.outcome).toBe('SUCCESS_INVALID');
    expect(r.stage).toBe('filter');
    expect(r.reason).toMatch(/Cowrie found nothing/);
    expect(dumps(r.raw?.data ?? null)).toBe('{"data":"not json at all"}');
  });

  it.each([
    ['a UTF-8 BOM prefix', '\ufeff{"eventid":"cowrie.log.open"}'],
    [
      'two events in one record',
      `${cowrie({ eventid: 'cowrie.log.open' })}\n${cowrie({ eventid: 'cowrie.log.open' })}`,
    ],
    ['a trailing comma', '{"eventid":"cowrie.log.open",}'],
    ['a raw control character in a string', '{"eventid":"cowrie\u0001"}'],
  ])('keeps %s as text, as the reference does', (_name, text) => {
    const r = run('cowrie', text);
    expect(r.outcome).toBe('SUCCESS_INVALID');
    expect(dumps(r.raw?.data ?? null)).toBe(dumps(new Map([['data', text]])));
  });

  it('accepts any JSON value as raw data', () => {
    for (const text of ['null', '1', '1.0', '"str"', '[]', '123456789012345678901234', 'NaN']) {
      const r = run('données', text);
      expect(r.outcome).toBe('SUCCESS_INVALID');
      expect(r.filter).toBeNull();
      expect(r.raw?.hash).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(run('x', '1').raw?.hash).not.toBe(run('x', '1.0').raw?.hash);
  });

  it.each([
    ['', 'UnknownTypetag'],
    ['unr-honeypot', 'ValueError'],
    ['1abc', 'ValueError'],
    ['cowrie ', 'ValueError'],
  ])('refuses typetag %j as NOT_SUPPORTED at stage parsemain (%s)', (typetag, errorType) => {
    const r = run(typetag, cowrie({ eventid: 'cowrie.log.open' }));
    expect(r).toMatchObject({ outcome: 'NOT_SUPPORTED', stage: 'parsemain', errorType, raw: null });
    expect(r.reason).toBeTruthy();
  });

  it('accepts identifiers Python accepts (non-ASCII letters, keywords) and is case-sensitive', () => {
    expect(run('données', '{}').outcome).toBe('SUCCESS_INVALID');
    expect(run('class', '{}').outcome).toBe('SUCCESS_INVALID');
    const r = run('Cowrie', cowrie({ eventid: 'cowrie.log.open' }));
    expect(r.filter).toBeNull();
    expect(r.instances).toEqual([]);
  });

  it('refuses a typetag outside the deployment/tenant allow-list', () => {
    const r = run('sighting', '{"ipv4":"1.2.3.4"}', { enabledTypetags: new Set(['cowrie']) });
    expect(r).toMatchObject({ outcome: 'NOT_SUPPORTED', stage: 'parsemain', errorType: 'NotSupported' });
    expect(run('sighting', '{"ipv4":"1.2.3.4"}', { enabledTypetags: ['sighting'] }).outcome).toBe('SUCCESS');
  });

  it.each([
    ['a truncated sequence', Buffer.from([0x7b, 0x22, 0xc3])],
    ['an encoded surrogate', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])],
    ['an overlong encoding', Buffer.from([0x22, 0xc0, 0xaf, 0x22])],
    ['a Latin-1 byte', Buffer.from('"caf\xe9"', 'latin1')],
  ])('refuses bytes with %s as BAD_DATA at stage decode', (_name, bytes) => {
    expect(run('cowrie', bytes)).toMatchObject({
      outcome: 'BAD_DATA',
      stage: 'decode',
      errorType: 'UnicodeDecodeError',
      raw: null,
    });
  });

  it('decodes valid UTF-8 bytes, astral characters included', () => {
    const r = run('cowrie', Buffer.from(cowrie({ eventid: 'cowrie.log.open', x: '😀' }), 'utf8'));
    expect(r.outcome).toBe('SUCCESS');
    expect(dumps(r.raw?.data ?? null)).toContain('"x":"\\ud83d\\ude00"');
  });

  it('refuses a record over the size limit before reading it', () => {
    const r = run('cowrie', Buffer.alloc(2048, 0x20), { limits: { maxRecordBytes: 1024 } });
    expect(r).toMatchObject({ outcome: 'BAD_DATA', stage: 'decode', errorType: 'RecordTooLarge' });
    expect(r.reason).toMatch(/2048 bytes/);
  });

  it('refuses nesting deeper than the limit, and a canonical form whose double encoding explodes', () => {
    const deep = `${'['.repeat(65)}${']'.repeat(65)}`;
    expect(run('x', deep)).toMatchObject({ outcome: 'BAD_DATA', stage: 'decode', errorType: 'NestingTooDeep' });
    // 60 levels are within the depth limit but would need 2^60 backslashes: refused within the budget.
    const nested = `${'['.repeat(60)}"a"${']'.repeat(60)}`;
    expect(run('x', nested)).toMatchObject({ outcome: 'BAD_DATA', stage: 'parsemain', errorType: 'MemoryError' });
    const shallow = `${'['.repeat(12)}"a"${']'.repeat(12)}`;
    expect(run('x', shallow).outcome).toBe('SUCCESS_INVALID');
  });

  it('keeps lone surrogates from escapes in the raw and in attributes', () => {
    const r = run('cowrie', cowrie({ eventid: 'cowrie.login.failed', username: '\ud800', password: 'x' }));
    expect(r.outcome).toBe('SUCCESS');
    const user = r.instances.find((i) => i.subType === 'username');
    expect(user?.data).toBe('\ud800');
    expect(dumps(r.raw?.data ?? null)).toContain('"username":"\\ud800"');
  });
});

describe('cowrie filter', () => {
  it('flags a record without eventid invalid rather than failing it', () => {
    const r = run('cowrie', '{"session":"a","sensor":"b"}');
    expect(r).toMatchObject({ outcome: 'SUCCESS_INVALID', instances: [] });
  });

  it.each([
    ['a missing timestamp', { timestamp: undefined, eventid: 'cowrie.log.open' }, 'KeyError'],
    ['a lowercase z', { timestamp: '2021-03-01T12:00:00z', eventid: 'cowrie.log.open' }, 'ValueError'],
    ['a numeric timestamp', { timestamp: 1614600000, eventid: 'cowrie.log.open' }, 'AttributeError'],
    ['a null timestamp', { timestamp: null, eventid: 'cowrie.log.open' }, 'AttributeError'],
    ['5 fractional digits', { timestamp: '2021-03-01T12:00:00.12345Z', eventid: 'cowrie.log.open' }, 'ValueError'],
    ['a missing session', { session: undefined, eventid: 'cowrie.client.version' }, 'KeyError'],
    [
      'a missing src_ip on a login',
      { src_ip: undefined, eventid: 'cowrie.login.failed', username: 'a', password: 'b' },
      'KeyError',
    ],
    ['a list username', { eventid: 'cowrie.login.failed', username: ['root'], password: 'root' }, 'TypeError'],
    [
      'a dict message on upload',
      { eventid: 'cowrie.session.file_upload', filename: 'f', shasum: 's', message: {} },
      'TypeError',
    ],
    ['a missing duration on close', { eventid: 'cowrie.session.closed' }, 'KeyError'],
  ])('fails a record with %s at stage filter, keeping the raw and no instance', (_name, fields, errorType) => {
    const r = run('cowrie', cowrie(fields));
    expect(r).toMatchObject({ outcome: 'ERROR', stage: 'filter', errorType, instances: [], rawRef: [] });
    expect(r.raw?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.reason).toBeTruthy();
  });

  it.each([
    ['a number', 'NaN', "argument of type 'float'"],
    ['a list holding "eventid"', '["eventid"]', 'list indices'],
    ['a string decoding to a string holding "eventid"', JSON.stringify(JSON.stringify('eventid')), 'string indices'],
    ['a string that is not JSON', '"eventid here"', 'char'],
  ])('fails raw data that is %s as the reference does', (_name, text, message) => {
    const r = run('cowrie', text);
    expect(r.outcome).toBe('ERROR');
    expect(r.reason).toContain(message);
  });

  it('still creates the session for ignored and unknown event ids (null, numbers, odd case)', () => {
    for (const eventid of ['cowrie.client.kex', 'cowrie.log.closed', null, 5, 'COWRIE.LOGIN.FAILED', 'x ']) {
      const r = run('cowrie', cowrie({ eventid }));
      expect(r.outcome).toBe('SUCCESS');
      expect(sessions(r)).toHaveLength(1);
      expect(events(r)).toEqual([]);
      expect(r.rawRef).toEqual([sessions(r)[0]?.hash]);
    }
  });

  it('builds a malicious login event with the attacker in malicious context, joined to its session', () => {
    const r = run('cowrie', cowrie({ eventid: 'cowrie.login.success', username: 'root', password: '123456' }));
    const [event] = events(r);
    const [session] = sessions(r);
    expect(event?.category).toBe('malicious');
    expect(dataOf(event as Instance)).toBe(
      '{"attacker":[{"ipv4":["203.0.113.9"]}],"credential":[{"password":["123456"],"username":["root"]}],' +
        '"method":["ssh"],"success":[true]}',
    );
    const ip = r.instances.find((i) => i.subType === 'ipv4');
    expect(event?.malRef).toContain(ip?.hash);
    expect(session?.eventRefs).toEqual([event?.hash]);
    expect(dataOf(session as Instance)).toBe('{"sesnor":["f89597a7c9bc"],"sessionid":["e0e1e2e3"]}');
    expect([...r.rawRef].sort()).toEqual([...new Set([...(event?.ref ?? []), event?.hash, session?.hash])].sort());
  });

  it('gives every direct-tcpip request its own destination (no shared mutable default)', () => {
    const first = run('cowrie', cowrie({ eventid: 'cowrie.direct-tcpip.request', dst_ip: 'ya.ru', dst_port: 80 }));
    const second = run(
      'cowrie',
      cowrie({ eventid: 'cowrie.direct-tcpip.request', dst_ip: 'api.example', dst_port: 443 }),
    );
    expect(dataOf(events(second)[0] as Instance)).toBe(
      '{"attacker":[{"ipv4":["203.0.113.9"]}],"dst":[{"port":[443],"url":["api.example"]}],"protocol":["TCP"]}',
    );
    const again = run('cowrie', cowrie({ eventid: 'cowrie.direct-tcpip.request', dst_ip: 'ya.ru', dst_port: 80 }));
    expect(events(again)[0]?.hash).toBe(events(first)[0]?.hash);
  });

  it('strips the download URL and takes the file name from its last segment, query string included', () => {
    const r = run(
      'cowrie',
      cowrie({ eventid: 'cowrie.session.file_download', url: ' http://x.test/a/b.sh?x=1 ', shasum: 'ab' }),
    );
    expect(r.instances.find((i) => i.subType === 'url')?.data).toBe('http://x.test/a/b.sh?x=1');
    expect(r.instances.find((i) => i.subType === 'filename')?.data).toBe('b.sh?x=1');
    const failed = run('cowrie', cowrie({ eventid: 'cowrie.session.file_download.failed', url: 'http://x.test/' }));
    expect(failed.instances.find((i) => i.subType === 'filename')?.data).toBe('');
  });

  it('adds method and output path to an upload only when the message starts with SFTP', () => {
    const base = { eventid: 'cowrie.session.file_upload', filename: 'f', shasum: 's', outfile: 'o' };
    const sftp = run('cowrie', cowrie({ ...base, message: 'SFTP Uploaded file' }));
    expect([...(must(events(sftp)[0]).data as Map<string, PyValue>).keys()]).toEqual([
      'attacker',
      'file',
      'method',
      'output_file_path',
    ]);
    const list = run('cowrie', cowrie({ ...base, message: ['SFTP'] }));
    expect([...(must(events(list)[0]).data as Map<string, PyValue>).keys()]).toEqual(['attacker', 'file']);
  });

  it('sets a session start on connect and end plus duration (kept as given, even NaN) on close', () => {
    const open = run('cowrie', cowrie({ eventid: 'cowrie.session.connect' }));
    expect(sessions(open)[0]?.startTime).toBe(1614600000.000001);
    const close = run('cowrie', cowrie({ eventid: 'cowrie.session.closed' }).replace('}', ',"duration":NaN}'));
    const s = sessions(close)[0];
    expect(s?.endTime).toBe(1614600000.000001);
    expect(s?.duration).toBeInstanceOf(PyFloat);
    expect(Number.isNaN((must(s).duration as PyFloat).value)).toBe(true);
  });

  it('decodes a cowrie event given as a JSON string', () => {
    const direct = run('cowrie', cowrie({ eventid: 'cowrie.command.input', input: 'uname -a' }));
    const wrapped = run('cowrie', JSON.stringify(cowrie({ eventid: 'cowrie.command.input', input: 'uname -a' })));
    expect(wrapped.outcome).toBe('SUCCESS');
    expect(wrapped.rawRef).toEqual(direct.rawRef);
    expect(wrapped.raw?.hash).not.toBe(direct.raw?.hash);
  });

  it('fails an event when the tenant orgid cannot be encoded (lone surrogate), as hashing it would', () => {
    const r = parsemain('cowrie', 'org\ud800', TZ, cowrie({ eventid: 'cowrie.command.input', input: 'id' }), {
      receivedAt: RECEIVED,
    });
    expect(r).toMatchObject({ outcome: 'ERROR', errorType: 'UnicodeEncodeError' });
  });

  it('reuses the data of an instance already known (first writer wins)', () => {
    const first = run('sighting', '{"ipv4":"192.0.2.44","timestamp":1600000020}');
    const known = new Map(first.instances.map((i) => [i.hash, i.data as PyValue]));
    const twin = run('sighting', '{"ipv4":"192.0.2.44\u3000","timestamp":1600000021}', {
      knownData: (h) => known.get(h),
    });
    expect(twin.instances.find((i) => i.itype === 'attribute')?.data).toBe('192.0.2.44');
    expect(dataOf(events(twin)[0] as Instance)).toBe('{"ipv4":["192.0.2.44"]}');
  });
});

describe('unr_honeypot filter', () => {
  it('yields the events the same cowrie line yields, from the unwrapped message', () => {
    const line = cowrie({ eventid: 'cowrie.command.input', input: 'wget http://x' });
    const direct = run('cowrie', line);
    const wrapped = run('unr_honeypot', JSON.stringify({ '@timestamp': 'x', message: line }));
    expect(wrapped.outcome).toBe('SUCCESS');
    expect(wrapped.filter?.name).toBe('UnrHoneypot');
    expect(wrapped.rawRef).toEqual(direct.rawRef);
  });

  it('flags a wrapper without a string message invalid', () => {
    expect(run('unr_honeypot', '{"message":5}').outcome).toBe('SUCCESS_INVALID');
    expect(run('unr_honeypot', '{ }').outcome).toBe('SUCCESS_INVALID');
  });
});

describe('sighting filter', () => {
  it('makes one malicious sighting event per key, each with its value in malicious context', () => {
    const r = run('sighting', '{"ipv4":"182.63.216.81","port":22,"timestamp":1596644300}');
    expect(r.outcome).toBe('SUCCESS');
    const evs = events(r);
    expect(evs.map((e) => dataOf(e)).sort()).toEqual(['{"ipv4":["182.63.216.81"]}', '{"port":[22]}']);
    for (const e of evs) {
      expect(e.category).toBe('malicious');
      expect(e.timestamp).toBe(1596644300);
      expect(e.malRef).toEqual(e.cref);
    }
  });

  it('dates a sighting without timestamp at the upload’s received time, never at "now"', () => {
    const a = run('sighting', '{"ipv4":"1.2.3.4"}');
    const b = run('sighting', '{"ipv4":"1.2.3.4"}');
    expect(events(a)[0]?.timestamp).toBe(RECEIVED);
    expect(events(b)[0]?.hash).toBe(events(a)[0]?.hash);
    const dated = run('sighting', '{"ipv4":"1.2.3.4"}', { receivedAt: new Date('2021-03-29T14:50:27.912Z') });
    expect(events(dated)[0]?.timestamp).toBe(1617029427.912);
  });

  it('accepts NaN, Infinity and true as timestamps, like float() does', () => {
    expect(events(run('sighting', '{"a":"x","timestamp":NaN}'))[0]?.timestamp).toBeNaN();
    expect(events(run('sighting', '{"a":"x","timestamp":Infinity}'))[0]?.timestamp).toBe(Number.POSITIVE_INFINITY);
    expect(events(run('sighting', '{"a":"x","timestamp":true}'))[0]?.timestamp).toBe(1);
  });

  it.each([
    ['a string timestamp', '{"a":"x","timestamp":"2021"}', 'TypeError'],
    ['a null timestamp', '{"a":"x","timestamp":null}', 'TypeError'],
    ['a huge integer timestamp', `{"a":"x","timestamp":1${'0'.repeat(400)}}`, 'OverflowError'],
    ['a list value', '{"a":["x"]}', 'TypeError'],
    ['a dict value', '{"a":{"b":1}}', 'TypeError'],
    ['a key that is not an identifier', '{"ip-v4":"x"}', 'ValueError'],
    ['an empty key', '{"":"x","timestamp":1600000008}', 'ValueError'],
    ['a list record', '[1,2]', 'TypeError'],
    ['a number record', '5', 'AttributeError'],
  ])('fails a sighting with %s', (_name, text, errorType) => {
    expect(run('sighting', text)).toMatchObject({ outcome: 'ERROR', stage: 'filter', errorType, instances: [] });
  });

  it('flags a sighting with nothing but a timestamp invalid', () => {
    expect(run('sighting', '{"timestamp":1600000000}').outcome).toBe('SUCCESS_INVALID');
    expect(run('sighting', '{}').outcome).toBe('SUCCESS_INVALID');
  });
});

describe('feed filters', () => {
  it('splits a feed on LF only and strips each line the Python way', () => {
    const r = run('openphish_feed', 'http://a.test/1\r\n\thttp://b.test/2 \x85\nhttp://c.test/\u2028x\n\n');
    const urls = r.instances.filter((i) => i.itype === 'attribute').map((i) => i.data);
    expect(urls.sort()).toEqual(['http://a.test/1', 'http://b.test/2', 'http://c.test/\u2028x']);
    expect(events(r).every((e) => e.category === 'malicious' && e.timestamp === RECEIVED)).toBe(true);
  });

  it('gives a duplicated URL one event', () => {
    const r = run('phishtank_feed', 'http://a.test/\nhttp://a.test/\n');
    expect(events(r)).toHaveLength(1);
  });

  it('flags an empty feed invalid and fails a feed that happens to be JSON', () => {
    expect(run('openphish_feed', '\n \n').outcome).toBe('SUCCESS_INVALID');
    expect(run('openphish_feed', '12345')).toMatchObject({ outcome: 'ERROR', errorType: 'TypeError' });
    expect(run('openphish_feed', '"http://a.test/"')).toMatchObject({ outcome: 'ERROR', errorType: 'JSONDecodeError' });
  });
});

describe('parsemain robustness', () => {
  const OUTCOMES = ['SUCCESS', 'SUCCESS_INVALID', 'NOT_SUPPORTED', 'ERROR', 'BAD_DATA'];
  const TYPETAGS = ['cowrie', 'unr_honeypot', 'sighting', 'openphish_feed', 'phishtank_feed', 'email', 'other'];

  function assertWellFormed(r: TahoeRecordResult): void {
    expect(OUTCOMES).toContain(r.outcome);
    if (r.outcome !== 'SUCCESS') {
      expect(r.stage).toBeDefined();
      expect(r.reason).toBeTruthy();
    }
    if (r.outcome === 'ERROR' || r.outcome === 'BAD_DATA' || r.outcome === 'NOT_SUPPORTED') {
      expect(r.instances).toEqual([]);
    }
  }

  it('never throws and always ends in one outcome with a reason, for arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TYPETAGS), fc.uint8Array({ maxLength: 200 }), (typetag, bytes) => {
        assertWellFormed(run(typetag, Buffer.from(bytes)));
      }),
    );
  });

  it('never throws for arbitrary JSON-shaped cowrie and sighting records (property)', () => {
    const field = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string()),
    );
    const record = fc.record(
      {
        eventid: fc.constantFrom(
          'cowrie.login.failed',
          'cowrie.login.success',
          'cowrie.command.input',
          'cowrie.command.failed',
          'cowrie.direct-tcpip.data',
          'cowrie.direct-tcpip.request',
          'cowrie.session.file_download',
          'cowrie.session.file_download.failed',
          'cowrie.session.file_upload',
          'cowrie.session.connect',
          'cowrie.session.closed',
          'cowrie.client.version',
        ),
        session: field,
        sensor: field,
        src_ip: field,
        timestamp: fc.oneof(field, fc.constant('2021-03-01T12:00:00Z')),
        username: field,
        password: field,
        input: field,
        dst_ip: field,
        dst_port: field,
        url: field,
        shasum: field,
        filename: field,
        message: field,
        duration: field,
        data: field,
      },
      { requiredKeys: ['eventid'] },
    );
    fc.assert(
      fc.property(record, fc.constantFrom('cowrie', 'sighting'), (rec, typetag) => {
        assertWellFormed(run(typetag, JSON.stringify(rec)));
      }),
    );
  });
});
