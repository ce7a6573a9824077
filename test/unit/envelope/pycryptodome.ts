import { spawnSync } from 'node:child_process';

const PYTHON = '/usr/bin/python3';

/**
 * Runs a Python script that uses PyCryptodome (Debian's python3-pycryptodome, imported as `Cryptodome`), feeding
 * `input` as JSON on stdin and parsing its stdout as JSON. Fails loudly when the module is missing: these tests
 * exist to prove compatibility with the library Cybex-P producers use, so they must not silently pass without it.
 */
export function runPyCryptodome<T>(script: string, input: unknown): T {
  const probe = spawnSync(PYTHON, ['-c', 'import Cryptodome'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'PyCryptodome is not installed: run `apt-get install -y python3-pycryptodome` ' +
        `(needed to check compatibility with Cybex-P producers). ${probe.error?.message ?? probe.stderr}`,
    );
  }
  const res = spawnSync(PYTHON, ['-c', script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (res.status !== 0) throw new Error(`python failed (${res.status}): ${res.stderr}`);
  return JSON.parse(res.stdout) as T;
}
