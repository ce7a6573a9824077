/**
 * unr_honeypot: Cowrie events shipped by filebeat, the Cowrie JSON as a string in `data.message`.
 * The reference's own filter for it was removed upstream; this one runs the Cowrie filter on the unwrapped
 * message, so the events are the ones the same line uploaded as `cowrie` gives. A wrapper without a string
 * `message` has nothing to read (the raw is flagged invalid).
 */
import type { PyValue } from '../json';
import { parseCowrie } from './cowrie';
import type { FilterContext, TahoeFilter } from './types';

export const unrHoneypotFilter: TahoeFilter = {
  name: 'UnrHoneypot',
  // Our own id (the reference has no filter for this sub_type); recorded in the raw's `filters`.
  id: '5d0c6b7e-3f0a-4c55-9a51-2f7a2d9e1c4b',
  subType: 'unr_honeypot',
  parse(data: PyValue, ctx: FilterContext) {
    if (!(data instanceof Map)) return false;
    const message = data.get('message');
    if (typeof message !== 'string') return false;
    return parseCowrie(message, ctx);
  },
};
