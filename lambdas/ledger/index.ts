export * from './errors';
export * from './invariants';
export * from './model';
export type { Ledger } from './port';
export * from './record';
export * from './transitions';
