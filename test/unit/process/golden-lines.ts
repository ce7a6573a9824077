/**
 * Cowrie lines from the TAHOE golden vectors (test/fixtures/tahoe/records.jsonl), with what the reference computed
 * for each: the raw's hash, the instance hashes and edges its filter derived (raw_ref edges from the raw's `_ref`),
 * or that its filter raised. Fed one per line into an upload, they let an end-to-end test check the pipeline's rows
 * against the reference's hashes rather than against our own code.
 */
import { type PyDict, PyFloat, type PyValue } from '../../../lambdas/tahoe/json';
import { readJsonl, recordInput, str } from '../tahoe/golden';

export interface GoldenLine {
  readonly id: string;
  readonly input: Buffer;
  readonly orgid: string;
  /** SUCCESS when the filter derived instances, ERROR when it raised (the raw is kept, nothing else). */
  readonly outcome: 'SUCCESS' | 'ERROR';
  readonly rawHash: string;
  readonly instances: ReadonlySet<string>;
  /** `itype sub_type` of each instance, and for events the float timestamp the reference hashed. */
  readonly views: ReadonlyMap<string, { readonly kind: string; readonly timestamp?: number }>;
  /** `parent relation child`. */
  readonly edges: ReadonlySet<string>;
}

function golden(g: PyDict): GoldenLine {
  const input = recordInput(g);
  const raw = g.get('raw') as PyDict;
  const outcome = str(g, 'outcome') === 'ok' ? 'SUCCESS' : 'ERROR';
  const edges = new Set<string>();
  const instances = new Set<string>();
  const views = new Map<string, { kind: string; timestamp?: number }>();
  if (outcome === 'SUCCESS') {
    for (const e of g.get('edges') as PyValue[]) edges.add((e as string[]).join(' '));
    for (const [h, view] of g.get('instances') as Map<string, PyDict>) {
      instances.add(h);
      const ts = view.get('timestamp');
      views.set(h, {
        kind: `${str(view, 'itype')} ${str(view, 'sub_type')}`,
        ...(ts === undefined ? {} : { timestamp: ts instanceof PyFloat ? ts.value : Number(ts) }),
      });
    }
    const after = g.get('raw_after') as PyDict;
    for (const child of (after.get('_ref') as string[] | undefined) ?? []) {
      edges.add(`${str(raw, '_hash')} raw_ref ${child}`);
    }
  }
  return {
    id: str(g, 'id'),
    input: typeof input === 'string' ? Buffer.from(input, 'utf8') : input,
    orgid: str(g, 'orgid'),
    outcome,
    rawHash: str(raw, '_hash'),
    instances,
    views,
    edges,
  };
}

/** Every golden record of typetag `cowrie` that fits on one line, in file order. */
export function goldenCowrieLines(): GoldenLine[] {
  return readJsonl('records.jsonl')
    .filter((g) => g.get('typetag') === 'cowrie' && g.get('raw') !== null)
    .map(golden)
    .filter((l) => !l.input.includes(0x0a));
}
