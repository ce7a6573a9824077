import { randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { LocalKeyUnwrapper } from '../../../lambdas/adapters/local-key-unwrapper';
import { sealCybexp } from '../../../lambdas/envelope/cybexp';
import { sealEnvelope } from '../../../lambdas/envelope/envelope';
import { chunked, decrypt, expectBadData, MiB, newKey, openOptions, pattern } from './helpers';

const key = newKey(2048);
const other = newKey(2048);
const CONTEXT = { tenant: 'acme', typetag: 'cowrie' };

function sealEsdk(plaintext: Buffer, frameLength: number, context: Record<string, string> = CONTEXT) {
  return buffer(
    sealEnvelope('esdk', chunked(plaintext), { keyArn: key.arn, publicKey: key.publicKey, context, frameLength }),
  );
}

function flip(data: Buffer, at: number, mask = 0x01): Buffer {
  const out = Buffer.from(data);
  out[at] = (out[at] ?? 0) ^ mask;
  return out;
}

/** Byte offsets of the regions of an esdk message with one EDK (data-format/message-header.md, message-body.md). */
function esdkRegions(message: Buffer) {
  let p = 1 + 2 + 32;
  const aadLength = p;
  p += 2 + message.readUInt16BE(p);
  const edkCount = p;
  p += 2;
  const providerId = p;
  p += 2 + message.readUInt16BE(p);
  const providerInfo = p;
  p += 2 + message.readUInt16BE(p);
  const edkLength = p;
  const edkCiphertext = p + 2;
  p += 2 + message.readUInt16BE(p);
  const contentType = p;
  const frameLength = p + 1;
  const frameBytes = message.readUInt32BE(frameLength);
  const suiteData = p + 5;
  const headerTag = p + 5 + 32;
  const body = headerTag + 16;
  return {
    version: 0,
    suiteId: 1,
    messageId: 3,
    aadLength,
    aad: aadLength + 2,
    edkCount,
    providerId,
    providerInfo: providerInfo + 2,
    edkLength,
    edkCiphertext,
    edkCiphertextEnd: edkLength + 2 + 255,
    contentType,
    frameLength,
    suiteData,
    headerTag,
    firstFrameSequence: body,
    firstFrameIv: body + 4,
    firstFrameContent: body + 16,
    firstFrameTag: body + 16 + frameBytes,
    secondFrameContent: body + (16 + frameBytes + 16) + 16,
    finalFrameMarker: body + 2 * (16 + frameBytes + 16),
    finalFrameLength: body + 2 * (16 + frameBytes + 16) + 20,
    finalFrameContent: body + 2 * (16 + frameBytes + 16) + 24,
    lastTagByte: message.length - 1,
  };
}

describe('esdk: tampering, truncation, extension', () => {
  let small: Buffer;
  beforeAll(async () => {
    // Three frames of 64 bytes (64 + 64 + 22) keep the message small enough to try every byte.
    small = await sealEsdk(pattern(150), 64);
  });

  it('detects a flipped bit at every single byte of a whole message', async () => {
    const reasons = new Set<string>();
    for (let at = 0; at < small.length; at++) {
      reasons.add(await expectBadData(decrypt('esdk', flip(small, at, 1 << (at % 8)), openOptions(key))));
    }
    // Different regions fail for different, stated reasons (context, keys, framing, authentication).
    expect(reasons.size).toBeGreaterThan(5);
  });

  it('names the region that was altered in a 2.5 MiB message with 1 MiB frames', async () => {
    const message = await sealEsdk(pattern(2.5 * MiB), MiB);
    const r = esdkRegions(message);
    const expectations: [number, RegExp][] = [
      [r.version, /message format version/],
      [r.suiteId + 1, /algorithm suite/],
      [r.messageId + 5, /authentication failed|commitment/i],
      [r.aad + 3, /context|digest|authentication/],
      [r.providerId + 3, /no data key is wrapped for an allowed KMS key/],
      [r.providerInfo + key.arn.length - 3, /no data key is wrapped for an allowed KMS key/],
      [r.providerInfo + 1, /not a KMS key ARN/],
      [r.edkCiphertext, /does not decrypt/],
      [r.edkCiphertext + 100, /does not decrypt/],
      [r.edkCiphertextEnd, /does not decrypt/],
      [r.contentType, /content type/],
      [r.suiteData + 7, /commitment/i],
      [r.headerTag + 15, /authentication failed/],
      [r.firstFrameSequence + 3, /sequence/i],
      [r.firstFrameIv + 4, /authentication failed/],
      [r.firstFrameContent, /authentication failed/],
      [r.firstFrameContent + MiB - 1, /authentication failed/],
      [r.firstFrameTag + 8, /authentication failed/],
      [r.secondFrameContent + 12345, /authentication failed/],
      [r.finalFrameMarker, /.+/],
      [r.finalFrameLength + 3, /.+/],
      [r.finalFrameContent + 1000, /authentication failed/],
      [r.lastTagByte, /authentication failed/],
    ];
    for (const [at, reason] of expectations)
      await expectBadData(decrypt('esdk', flip(message, at), openOptions(key)), reason);
    await expectBadData(decrypt('esdk', flip(message, r.frameLength + 1, 0x80), openOptions(key)), /frame length/);
    await expectBadData(decrypt('esdk', flip(message, r.edkCount + 1, 0x02), openOptions(key)));
    await expectBadData(decrypt('esdk', flip(message, r.aadLength + 1, 0x04), openOptions(key)));
    await expectBadData(decrypt('esdk', flip(message, r.edkLength + 1), openOptions(key)));
  });

  it('detects truncation at every length', async () => {
    for (let n = 0; n < small.length; n++) {
      await expectBadData(decrypt('esdk', small.subarray(0, n), openOptions(key)), /truncated|incomplete/i);
    }
  });

  it.each([1, 16, 4096])('detects %i appended byte(s)', async (n) => {
    await expectBadData(
      decrypt('esdk', Buffer.concat([small, randomBytes(n)]), openOptions(key)),
      /unexpected bytes after the final frame/,
    );
    await expectBadData(decrypt('esdk', Buffer.concat([small, small]), openOptions(key)), /after the final frame/);
  });

  it('detects a wrapped data key swapped in from another message', async () => {
    const donor = await sealEsdk(pattern(150, 9), 64);
    const r = esdkRegions(small);
    const swapped = Buffer.from(small);
    donor.copy(swapped, r.edkCiphertext, r.edkCiphertext, r.edkCiphertext + key.modulusBytes);
    await expectBadData(decrypt('esdk', swapped, openOptions(key)), /commitment|authentication failed/i);
  });

  it('refuses the right ARN backed by the wrong private key', async () => {
    const wrongKey = new LocalKeyUnwrapper([{ pem: other.privateKey, keyArn: key.arn }]);
    await expectBadData(decrypt('esdk', small, openOptions(key, { unwrapper: wrongKey })), /does not decrypt/);
  });

  it('refuses a message whose key ARN is not allowed, without calling the key service', async () => {
    let calls = 0;
    const unwrapper = {
      unwrap: async () => {
        calls++;
        return Buffer.alloc(0);
      },
    };
    await expectBadData(
      decrypt('esdk', small, { ...openOptions(other), unwrapper }),
      /no data key is wrapped for an allowed KMS key/,
    );
    expect(calls).toBe(0);
  });

  it.each([
    [{ tenant: 'other' }, /"tenant" is "acme", expected "other"/],
    [{ typetag: 'email' }, /"typetag" is "cowrie", expected "email"/],
    [{ tenant: 'acme', region: 'eu' }, /has no "region"/],
  ])('refuses a message whose context does not match %j', async (expectedContext, reason) => {
    let calls = 0;
    const unwrapper = {
      unwrap: async () => {
        calls++;
        return Buffer.alloc(0);
      },
    };
    await expectBadData(decrypt('esdk', small, openOptions(key, { unwrapper, expectedContext })), reason);
    expect(calls).toBe(0);
  });

  it('accepts extra context pairs beyond the expected ones', async () => {
    const message = await sealEsdk(Buffer.from('ok'), 64, { ...CONTEXT, shipper: 'v2' });
    const out = await decrypt('esdk', message, openOptions(key, { expectedContext: CONTEXT }));
    expect(out.toString()).toBe('ok');
  });
});

describe('cybexp: tampering, truncation, extension', () => {
  const plaintext = pattern(300, 5);
  const blob = sealCybexp(plaintext, key.publicKey);

  it('round-trips the blob used below', async () => {
    expect((await decrypt('cybexp', blob, openOptions(key))).equals(plaintext)).toBe(true);
  });

  it('detects a flipped bit at every single byte (wrapped key, nonce, tag, ciphertext)', async () => {
    for (let at = 0; at < blob.length; at++) {
      const reason = at < key.modulusBytes ? /did not unwrap with any allowed key/ : /EAX tag mismatch/;
      await expectBadData(decrypt('cybexp', flip(blob, at, 1 << (at % 8)), openOptions(key)), reason);
    }
  });

  it('detects truncation at every length', async () => {
    for (let n = 0; n < blob.length; n++) {
      const reason = n < key.modulusBytes + 32 ? /truncated/ : /EAX tag mismatch/;
      await expectBadData(decrypt('cybexp', blob.subarray(0, n), openOptions(key)), reason);
    }
  });

  it('detects appended bytes', async () => {
    await expectBadData(
      decrypt('cybexp', Buffer.concat([blob, Buffer.from([0])]), openOptions(key)),
      /EAX tag mismatch/,
    );
  });

  it('detects a wrapped key swapped in from another blob for the same key', async () => {
    const donor = sealCybexp(plaintext, key.publicKey);
    const swapped = Buffer.concat([donor.subarray(0, key.modulusBytes), blob.subarray(key.modulusBytes)]);
    await expectBadData(decrypt('cybexp', swapped, openOptions(key)), /EAX tag mismatch/);
  });

  it('refuses a blob sealed for another key, trying every allowed key first', async () => {
    const both = new LocalKeyUnwrapper([key.privateKey, other.privateKey]);
    const foreign = sealCybexp(plaintext, newKey(2048).publicKey);
    const msg = await expectBadData(
      decrypt('cybexp', foreign, { unwrapper: both, allowedKeyArns: [key.arn, other.arn], rsaModulusBytes: 256 }),
      /did not unwrap with any allowed key/,
    );
    expect(msg).toContain(key.arn);
    expect(msg).toContain(other.arn);
  });

  it('opens a blob sealed for the second allowed key (key rotation)', async () => {
    const both = new LocalKeyUnwrapper([key.privateKey, other.privateKey]);
    const rotated = sealCybexp(plaintext, other.publicKey);
    const out = await decrypt('cybexp', rotated, {
      unwrapper: both,
      allowedKeyArns: [key.arn, other.arn],
      rsaModulusBytes: 256,
    });
    expect(out.equals(plaintext)).toBe(true);
  });

  it('detects a flipped ciphertext byte deep inside a 3 MiB blob only at the end, as BAD_DATA', async () => {
    const big = sealCybexp(pattern(3 * MiB), key.publicKey);
    await expectBadData(
      decrypt('cybexp', flip(big, key.modulusBytes + 32 + 2 * MiB), openOptions(key)),
      /EAX tag mismatch/,
    );
  });
});
