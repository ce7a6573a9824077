import { parseMessage } from '../email/message';
import { cowrieFilter } from './cowrie';
import { createEmailFilter } from './email';
import { openPhishFeedFilter, phishTankFeedFilter, sightingFilter } from './sighting';
import type { TahoeFilter } from './types';
import { unrHoneypotFilter } from './unr-honeypot';

export type { FilterContext, TahoeFilter } from './types';

/** The analytics filters, by the raw sub_type (typetag) each reads. */
export const DEFAULT_FILTERS: ReadonlyMap<string, TahoeFilter> = new Map(
  [
    cowrieFilter,
    unrHoneypotFilter,
    sightingFilter,
    openPhishFeedFilter,
    phishTankFeedFilter,
    createEmailFilter(parseMessage),
  ].map((f) => [f.subType, f]),
);
