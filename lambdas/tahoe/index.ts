/** TAHOE core: pure code, no AWS, no clock, no environment. See docs/tahoe.md. */
export {
  CanonicalTooLargeError,
  canonical,
  canonicalAndJson,
  DEFAULT_MAX_CANONICAL_CHARS,
  eventHash,
  instanceHash,
  sha256Hex,
} from './canonical';
export { PyError } from './errors';
export { DEFAULT_FILTERS, type FilterContext, type TahoeFilter } from './filters';
export {
  dumps,
  JsonDecodeError,
  JsonDepthError,
  type JsonOut,
  loads,
  type PyDict,
  PyFloat,
  type PyScalar,
  type PyValue,
  pyFloatJson,
  pyFloatStr,
  quote,
} from './json';
export type { Attribute, Category, Instance, KnownData, TahoeEvent, TahoeObject, TahoeSession } from './model';
export { RecordStore } from './model';
export {
  DEFAULT_TAHOE_LIMITS,
  oversizeResult,
  type ParsemainOptions,
  parsemain,
  type TahoeLimits,
  type TahoeOutcome,
  type TahoeRaw,
  type TahoeRecordResult,
  type TahoeStage,
} from './parsemain';
export { compareCodePoints, isIdentifier, isPySpace, pyStrip } from './pystr';
export { type RawTexts, readRaw } from './raw';
export {
  DEFAULT_RECORD_LIMITS,
  framingFor,
  NDJSON_TYPETAGS,
  type RecordFraming,
  type RecordLimits,
  RecordSplitter,
  type SplitRecord,
  splitRecords,
} from './records';
export {
  type RowContext,
  type TahoeEdgeRow,
  type TahoeInstanceRow,
  type TahoeRawRow,
  type TahoeRows,
  toRows,
} from './rows';
export { cowrieTimestamp, fromIsoFormat, isoTimestamp } from './time';
export {
  type Edge,
  type EdgeRelation,
  instanceEdges,
  instanceView,
  outcomeText,
  recordEdges,
  recordReport,
} from './view';
