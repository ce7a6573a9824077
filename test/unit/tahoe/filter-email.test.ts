import type { Attribute, Instance, TahoeEvent } from '../../../lambdas/tahoe/model';
import { parsemain, type TahoeRecordResult } from '../../../lambdas/tahoe/parsemain';
import { must } from './golden';

const ORG = '96bee5cae04c4672c759adcbf98ce927f874a9094590cd5e7390b7943aff6307';

function mail(headers: Record<string, string>, body = 'Please verify your account.\n'): string {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `${lines.join('\n')}\nContent-Type: text/plain; charset="utf-8"\n\n${body}`;
}

const BASE = {
  From: 'IT Helpdesk <helpdesk@phish.test>',
  To: 'user@example.com',
  Subject: 'Password expiry',
  Date: 'Thu, 08 Apr 2021 10:00:00 +0000',
};

function run(text: string, timezone = 'UTC'): TahoeRecordResult {
  return parsemain('email', ORG, timezone, text, { receivedAt: 0 });
}

function event(r: TahoeRecordResult): TahoeEvent {
  return must(
    r.instances.find((i): i is TahoeEvent => i.itype === 'event'),
    'email event',
  );
}

function values(r: TahoeRecordResult, subType: string): unknown[] {
  return r.instances
    .filter((i: Instance): i is Attribute => i.itype === 'attribute' && i.subType === subType)
    .map((a) => a.data);
}

describe('email filter', () => {
  it('makes one email event of unknown category with src, dst, subject and body', () => {
    const r = run(mail(BASE));
    expect(r.outcome).toBe('SUCCESS');
    const e = event(r);
    expect(e.category).toBe('unknown');
    expect(e.malRef).toEqual([]);
    expect([...e.data.keys()]).toEqual(['body', 'dst', 'src', 'subject']);
    expect(e.timestamp).toBe(1617876000);
    expect(r.rawRef).toContain(e.hash);
  });

  it('splits a display name from an address in angle brackets and keeps a bare address whole', () => {
    const r = run(mail({ ...BASE, To: 'a@example.com, b@example.com' }));
    expect(values(r, 'name')).toEqual(['IT Helpdesk']);
    expect(values(r, 'email_addr').sort()).toEqual(['a@example.com, b@example.com', 'helpdesk@phish.test']);
  });

  it('adds reply_to and the Mailgun sending address when present', () => {
    const r = run(mail({ ...BASE, 'Reply-To': 'alex@example.org', 'X-Mailgun-Sending-Ip': '198.51.100.73' }));
    expect([...event(r).data.keys()]).toEqual(['body', 'dst', 'reply_to', 'src', 'subject']);
    expect(values(r, 'ipv4')).toEqual(['198.51.100.73']);
  });

  it.each(['From', 'To', 'Subject', 'Date'])('flags a message without %s invalid', (header) => {
    const headers: Record<string, string> = { ...BASE };
    delete headers[header];
    const r = run(mail(headers));
    expect(r).toMatchObject({ outcome: 'SUCCESS_INVALID', stage: 'filter', instances: [] });
  });

  it('reads a date without zone in the upload’s declared timezone, and -0000 as UTC', () => {
    const naive = run(mail({ ...BASE, Date: 'Thu, 08 Apr 2021 10:00:00' }), 'America/New_York');
    expect(event(naive).timestamp).toBe(1617890400);
    const unknownZone = run(mail({ ...BASE, Date: 'Thu, 08 Apr 2021 10:00:00 -0000' }), 'America/New_York');
    expect(event(unknownZone).timestamp).toBe(1617876000);
  });

  it('fails a message whose date cannot be read, keeping the raw and no instance', () => {
    const r = run(mail({ ...BASE, Date: 'not a date at all' }));
    expect(r).toMatchObject({ outcome: 'ERROR', stage: 'filter', instances: [] });
    expect(r.raw).not.toBeNull();
  });

  it('fails raw data that is not an email wrapper as the reference does', () => {
    expect(run('"From: a"')).toMatchObject({ outcome: 'ERROR', errorType: 'TypeError' });
    expect(run('{"other": 1}')).toMatchObject({ outcome: 'ERROR', errorType: 'KeyError' });
    expect(run('{"data": 5}')).toMatchObject({ outcome: 'ERROR', errorType: 'TypeError' });
  });
});
