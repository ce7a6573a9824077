/**
 * Sightings and phishing feeds → TAHOE (TAHOE.md §5; reference: cybexp-analytics filters/sighting.py,
 * openphish_feed.py, phishtank_feed.py).
 *
 * A sighting `{name: value, ..., timestamp?}` becomes one `sighting` event per name, malicious with the value in
 * malicious context (the reference's generic run passes 'unknown'; hashes are the same either way). Without a
 * timestamp the reference used `time.time()`; here it is the upload's received time, so re-processing the same
 * upload gives the same events.
 */
import { getItem, notSubscriptableByStr, PyError } from '../errors';
import { type PyValue, pyTypeName } from '../json';
import type { Category } from '../model';
import { pyStrip } from '../pystr';
import { type FilterContext, loadsInFilter, type TahoeFilter } from './types';

function sightings(
  data: PyValue,
  ctx: FilterContext,
  category: Category,
  context: 'malicious' | 'benign' | 'unknown',
): string[] {
  const input = typeof data === 'string' ? loadsInFilter(data, ctx) : data;
  if (!(input instanceof Map)) {
    // `data.pop('timestamp')` on something that is not a dict.
    if (Array.isArray(input)) throw new PyError('TypeError', "'str' object cannot be interpreted as an integer");
    throw new PyError('AttributeError', `'${pyTypeName(input)}' object has no attribute 'pop'`);
  }
  const timestamp = input.has('timestamp') ? (input.get('timestamp') as PyValue) : ctx.receivedAt;
  const refs: string[] = [];
  for (const [name, value] of input) {
    if (name === 'timestamp') continue;
    const att = ctx.store.attribute(name, value);
    const event = ctx.store.event('sighting', [att], ctx.orgid, timestamp, {
      mal: context === 'malicious' ? [att] : [],
      ben: context === 'benign' ? [att] : [],
    });
    event.category = category;
    refs.push(...event.ref, event.hash);
  }
  return refs;
}

export const sightingFilter: TahoeFilter = {
  name: 'Sighting',
  id: '05e66bff-c3e1-49a0-bd2e-ad203a1f94fc',
  subType: 'sighting',
  parse: (data, ctx) => sightings(data, ctx, 'malicious', 'malicious'),
};

/**
 * A feed raw is `{"data": text}` (the whole download, one URL per line). Lines are split on "\n" only and
 * stripped the Python way, so "\r", tabs and U+0085 go while U+2028 inside a line does not split it.
 */
function feedUrls(data: PyValue, ctx: FilterContext): readonly string[] {
  const input = typeof data === 'string' ? loadsInFilter(data, ctx) : data;
  if (!(input instanceof Map)) throw notSubscriptableByStr(input);
  const text = getItem(input, 'data');
  if (typeof text !== 'string') {
    throw new PyError('AttributeError', `'${pyTypeName(text)}' object has no attribute 'split'`);
  }
  const refs: string[] = [];
  for (const line of text.split('\n')) {
    const url = pyStrip(line);
    if (url === '') continue;
    refs.push(...sightings(new Map([['url', url]]), ctx, 'malicious', 'malicious'));
  }
  return refs;
}

export const openPhishFeedFilter: TahoeFilter = {
  name: 'OpenPhishFeed',
  id: 'c4cd1ecf-1149-46e0-9daa-e2477016d8dc',
  subType: 'openphish_feed',
  parse: feedUrls,
};

export const phishTankFeedFilter: TahoeFilter = {
  name: 'PhishTankFeed',
  id: 'e8f53cdc-1a9a-478d-ac4f-ab6a2f7e2341',
  subType: 'phishtank_feed',
  parse: feedUrls,
};
