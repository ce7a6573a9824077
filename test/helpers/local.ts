/**
 * Small helpers the unit and integration tests share: running a CLI command in-process with captured output, and
 * working on private copies of data folders.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../lambdas/cli/io';
import { main } from '../../lambdas/cli/main';

/** The clock the warehouse and retention fixtures run at. */
export const FIXTURE_NOW = new Date('2026-11-22T10:30:00Z');

/** Streams for an in-process command, with what it wrote to stdout and stderr. */
export function testIo(now: () => Date = () => FIXTURE_NOW): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const stdin = new PassThrough();
  stdin.end();
  return {
    stdin,
    stdout,
    stderr,
    cwd: process.cwd(),
    now,
    out: () => Buffer.concat(out).toString(),
    err: () => Buffer.concat(err).toString(),
  };
}

/** Runs a CLI command in-process. */
export async function runCli(argv: string[], now: () => Date = () => FIXTURE_NOW) {
  const io = testIo(now);
  const code = await main(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

/** A private copy of a folder. */
export function copyDir(dir: string): string {
  const to = mkdtempSync(join(tmpdir(), 'test-run-'));
  cpSync(dir, to, { recursive: true });
  return to;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Every file under a folder, as keys relative to it. */
export function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p).split(sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}
