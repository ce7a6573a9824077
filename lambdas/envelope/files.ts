/**
 * Envelopes to and from files, all-or-nothing: output goes to a temporary file beside the target (same directory,
 * hence same file system, so the final rename is atomic) and is renamed into place only once everything —
 * including the authentication at the very end of the input — succeeded. On failure the temporary file is removed,
 * so no partial or unauthenticated output is ever left under the target name.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { CybexpSealer } from './cybexp';
import {
  type Envelope,
  type OpenEnvelopeOptions,
  openEnvelope,
  type SealEnvelopeOptions,
  sealEnvelope,
} from './envelope';

/**
 * Calls `write` with a fresh temporary path beside `target` (created empty, mode `mode`), then fsyncs and renames
 * it to `target`. The temporary file is removed if anything fails.
 */
export async function writeAtomically(
  target: string,
  write: (tempPath: string) => Promise<void>,
  mode = 0o600,
): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  const created = await open(temp, 'wx', mode);
  await created.close();
  try {
    await write(temp);
    const done = await open(temp, 'r+');
    try {
      await done.sync();
    } finally {
      await done.close();
    }
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Decrypts `input` into `target`; `target` appears only if the whole envelope authenticated. */
export async function openEnvelopeToFile(
  kind: Envelope,
  input: Readable,
  target: string,
  options: OpenEnvelopeOptions,
): Promise<void> {
  const plaintext = openEnvelope(kind, input, options);
  try {
    await writeAtomically(target, (temp) => pipeline(plaintext, createWriteStream(temp, { flags: 'r+' })));
  } catch (err) {
    plaintext.destroy();
    throw err;
  }
}

/**
 * Seals `input` into `target`. For `cybexp` the header (which holds the tag) is written last, into space reserved
 * at the start of the file, since the tag is known only after all plaintext went through.
 */
export async function sealEnvelopeToFile(
  kind: Envelope,
  input: Readable,
  target: string,
  options: SealEnvelopeOptions,
): Promise<void> {
  if (kind !== 'cybexp') {
    const sealed = sealEnvelope(kind, input, options);
    await writeAtomically(target, (temp) => pipeline(sealed, createWriteStream(temp, { flags: 'r+' })), 0o644);
    return;
  }
  const sealer = new CybexpSealer(options.publicKey);
  await writeAtomically(
    target,
    async (temp) => {
      const stages = options.gzip ? [createGzip(), sealer.ciphertext] : [sealer.ciphertext];
      await pipeline([input, ...stages, createWriteStream(temp, { flags: 'r+', start: sealer.headerBytes })]);
      const file = await open(temp, 'r+');
      try {
        await file.write(sealer.header(), 0, sealer.headerBytes, 0);
      } finally {
        await file.close();
      }
    },
    0o644,
  );
}

/**
 * For outputs that cannot be renamed into place (stdout, a socket): `produce` writes a file in a private temporary
 * directory, and only once it succeeded is the file copied to `out` (which is not ended). Nothing reaches `out`
 * if `produce` fails. The temporary directory is always removed.
 */
export async function produceThenCopy(
  produce: (target: string) => Promise<void>,
  out: Writable,
  tempRoot: string = tmpdir(),
): Promise<void> {
  const dir = await mkdtemp(join(tempRoot, 'cyberactive-'));
  try {
    const target = join(dir, 'output');
    await produce(target);
    await pipeline(createReadStream(target), out, { end: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
