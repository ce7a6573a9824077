/**
 * Type-level test, checked by `tsc --noEmit` (not a jest suite): compilation fails here when the schema of
 * lambdas/schema/tables.ts and the row types of lambdas/tahoe/rows.ts drift apart (a column added, removed,
 * renamed, retyped, made nullable, or an enumeration changed). Equal is exact: mutual assignability would miss a
 * readonly or optional difference.
 */
import type { TahoeEdgeRecord, TahoeInstanceRecord, TahoeRawRecord } from '../../../lambdas/schema/tables';
import type { TahoeEdgeRow, TahoeInstanceRow, TahoeRawRow } from '../../../lambdas/tahoe/rows';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
export type RawRowsMatch = Assert<Equal<TahoeRawRecord, TahoeRawRow>>;
export type InstanceRowsMatch = Assert<Equal<TahoeInstanceRecord, TahoeInstanceRow>>;
export type EdgeRowsMatch = Assert<Equal<TahoeEdgeRecord, TahoeEdgeRow>>;
// The check can fail: a row type missing one column is not equal.
export type CheckCanFail = Assert<Equal<Equal<Omit<TahoeEdgeRecord, 'event_ts'>, TahoeEdgeRow>, false>>;
