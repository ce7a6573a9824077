/**
 * An in-process table that evaluates DynamoDB requests the way DynamoDB does, for the subset of the expression
 * language the ledger uses: conditions (AND/OR/NOT, comparisons, BETWEEN, IN, attribute_exists/_not_exists),
 * updates (SET with if_not_exists and +/-, REMOVE), key conditions of queries on global secondary indexes, and the
 * return-value options. It also refuses what DynamoDB refuses — placeholders defined but unused or used but
 * undefined, updates of key attributes, overlapping paths, consistent reads of a GSI, reversed BETWEEN bounds,
 * undefined values the document client cannot marshall — so a malformed request fails here as it would on AWS.
 *
 * `wireClient()` serves it behind a real DynamoDBDocumentClient at the HTTP layer (AWS JSON 1.0 bodies in and out),
 * so the document client's marshalling and error parsing run as on AWS; `client()` answers at the `send` level
 * through aws-sdk-client-mock instead.
 */

import { Readable } from 'node:stream';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  type GetCommandInput,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { LEDGER_SCHEMA } from '../../../lib/stacks/storage-stack';

type Item = Record<string, unknown>;
type Names = Record<string, string> | undefined;
type Values = Record<string, unknown> | undefined;

export interface TableSchema {
  readonly tableName: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly indexes: readonly { readonly indexName: string; readonly partitionKey: string; readonly sortKey: string }[];
}

export class DynamoValidationError extends Error {
  override readonly name = 'ValidationException';
  readonly $fault = 'client';
  readonly $metadata = { httpStatusCode: 400 };
}

const invalid = (message: string) => new DynamoValidationError(message);

// ---------------------------------------------------------------- tokens

interface Token {
  readonly kind: 'name' | 'value' | 'word' | 'sym';
  readonly text: string;
}

const TOKEN = /\s*(#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|<>|<=|>=|[=<>(),+-])/y;

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < expression.length) {
    if (/^\s*$/.test(expression.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(expression);
    if (!m) throw invalid(`Invalid expression: syntax error near "${expression.slice(at, at + 20)}"`);
    const text = m[1] as string;
    const kind = text.startsWith('#')
      ? 'name'
      : text.startsWith(':')
        ? 'value'
        : /^[A-Za-z_]/.test(text)
          ? 'word'
          : 'sym';
    tokens.push({ kind, text });
    at = TOKEN.lastIndex;
  }
  return tokens;
}

// ---------------------------------------------------------------- syntax

type Operand =
  | { readonly op: 'path'; readonly attr: string }
  | { readonly op: 'value'; readonly ref: string }
  | { readonly op: 'if_not_exists'; readonly attr: string; readonly fallback: Operand }
  | { readonly op: '+' | '-'; readonly left: Operand; readonly right: Operand };

type Condition =
  | { readonly op: 'and' | 'or'; readonly left: Condition; readonly right: Condition }
  | { readonly op: 'not'; readonly inner: Condition }
  | { readonly op: 'cmp'; readonly cmp: string; readonly left: Operand; readonly right: Operand }
  | { readonly op: 'between'; readonly subject: Operand; readonly low: Operand; readonly high: Operand }
  | { readonly op: 'in'; readonly subject: Operand; readonly list: readonly Operand[] }
  | { readonly op: 'exists' | 'not_exists'; readonly attr: string };

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'SET', 'REMOVE', 'ADD', 'DELETE']);

class Parser {
  private at = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly names: Names,
    private readonly values: Values,
    readonly used: { names: Set<string>; values: Set<string> },
  ) {}

  done(): boolean {
    return this.at >= this.tokens.length;
  }

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }

  private isWord(word: string): boolean {
    const t = this.peek();
    return t?.kind === 'word' && t.text.toUpperCase() === word;
  }

  private next(): Token {
    const t = this.tokens[this.at++];
    if (!t) throw invalid('Invalid expression: unexpected end of expression');
    return t;
  }

  private expect(text: string): void {
    const t = this.next();
    if (t.text !== text) throw invalid(`Invalid expression: expected "${text}", found "${t.text}"`);
  }

  private expectWord(word: string): void {
    if (!this.isWord(word)) throw invalid(`Invalid expression: expected ${word}`);
    this.next();
  }

  attr(): string {
    const t = this.next();
    if (t.kind === 'name') {
      const name = this.names?.[t.text];
      if (name === undefined)
        throw invalid(
          `An expression attribute name used in the document path is not defined; attribute name: ${t.text}`,
        );
      this.used.names.add(t.text);
      return name;
    }
    // DynamoDB accepts bare names that are not reserved words; the ledger always uses placeholders.
    throw invalid(`Invalid expression: expected an attribute name placeholder, found "${t.text}"`);
  }

  operand(): Operand {
    const t = this.peek();
    if (t?.kind === 'value') {
      this.next();
      if (this.values?.[t.text] === undefined)
        throw invalid(`An expression attribute value used in expression is not defined; attribute value: ${t.text}`);
      this.used.values.add(t.text);
      return { op: 'value', ref: t.text };
    }
    if (t?.kind === 'word' && t.text === 'if_not_exists') {
      this.next();
      this.expect('(');
      const attr = this.attr();
      this.expect(',');
      const fallback = this.operand();
      this.expect(')');
      return { op: 'if_not_exists', attr, fallback };
    }
    return { op: 'path', attr: this.attr() };
  }

  /** An update value: an operand, optionally plus or minus another. */
  setValue(): Operand {
    const left = this.operand();
    const t = this.peek();
    if (t?.text === '+' || t?.text === '-') {
      this.next();
      return { op: t.text, left, right: this.operand() };
    }
    return left;
  }

  condition(): Condition {
    let left = this.conjunction();
    while (this.isWord('OR')) {
      this.next();
      left = { op: 'or', left, right: this.conjunction() };
    }
    return left;
  }

  private conjunction(): Condition {
    let left = this.negation();
    while (this.isWord('AND')) {
      this.next();
      left = { op: 'and', left, right: this.negation() };
    }
    return left;
  }

  private negation(): Condition {
    if (this.isWord('NOT')) {
      this.next();
      return { op: 'not', inner: this.negation() };
    }
    return this.primary();
  }

  private primary(): Condition {
    const t = this.peek();
    if (t?.text === '(') {
      this.next();
      const inner = this.condition();
      this.expect(')');
      return inner;
    }
    if (t?.kind === 'word' && (t.text === 'attribute_exists' || t.text === 'attribute_not_exists')) {
      this.next();
      this.expect('(');
      const attr = this.attr();
      this.expect(')');
      return { op: t.text === 'attribute_exists' ? 'exists' : 'not_exists', attr };
    }
    if (t?.kind === 'word' && !KEYWORDS.has(t.text.toUpperCase())) {
      throw invalid(`Invalid expression: unsupported function or bare name "${t.text}"`);
    }
    const subject = this.operand();
    if (this.isWord('BETWEEN')) {
      this.next();
      const low = this.operand();
      this.expectWord('AND');
      return { op: 'between', subject, low, high: this.operand() };
    }
    if (this.isWord('IN')) {
      this.next();
      this.expect('(');
      const list = [this.operand()];
      while (this.peek()?.text === ',') {
        this.next();
        list.push(this.operand());
      }
      this.expect(')');
      return { op: 'in', subject, list };
    }
    const cmp = this.next();
    if (!['=', '<>', '<', '<=', '>', '>='].includes(cmp.text)) {
      throw invalid(`Invalid expression: expected a comparator, found "${cmp.text}"`);
    }
    return { op: 'cmp', cmp: cmp.text, left: subject, right: this.operand() };
  }

  /** `SET a = v, … REMOVE b, …` (each clause at most once, in any order). */
  update(): { set: { attr: string; value: Operand }[]; remove: string[] } {
    const set: { attr: string; value: Operand }[] = [];
    const remove: string[] = [];
    const seen = new Set<string>();
    while (!this.done()) {
      const clause = this.next();
      const word = clause.text.toUpperCase();
      if (clause.kind !== 'word' || !['SET', 'REMOVE'].includes(word)) {
        throw invalid(`Invalid UpdateExpression: unsupported clause "${clause.text}"`);
      }
      if (seen.has(word)) throw invalid(`Invalid UpdateExpression: The "${word}" section can only be used once`);
      seen.add(word);
      do {
        if (word === 'SET') {
          const attr = this.attr();
          this.expect('=');
          set.push({ attr, value: this.setValue() });
        } else {
          remove.push(this.attr());
        }
      } while (this.peek()?.text === ',' && this.next());
    }
    return { set, remove };
  }
}

// ---------------------------------------------------------------- semantics

function typeOf(v: unknown): string {
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return 'L';
  if (v === null) return 'NULL';
  if (typeof v === 'object') return 'M';
  return typeof v;
}

/** DynamoDB compares strings by their UTF-8 bytes and numbers by value; values of different types never compare. */
function compare(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return undefined;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeOf(a) !== typeOf(b) || a === undefined) return false;
  if (typeof a === 'object') return JSON.stringify(marshall({ v: a })) === JSON.stringify(marshall({ v: b }));
  return a === b;
}

function operandValue(o: Operand, item: Item, values: Values): unknown {
  switch (o.op) {
    case 'path':
      return item[o.attr];
    case 'value':
      return values?.[o.ref];
    case 'if_not_exists':
      return item[o.attr] !== undefined ? item[o.attr] : operandValue(o.fallback, item, values);
    default: {
      const l = operandValue(o.left, item, values);
      const r = operandValue(o.right, item, values);
      if (typeof l !== 'number' || typeof r !== 'number') {
        throw invalid('An operand in the update expression has an incorrect data type');
      }
      return o.op === '+' ? l + r : l - r;
    }
  }
}

function holds(c: Condition, item: Item, values: Values): boolean {
  switch (c.op) {
    case 'and':
      return holds(c.left, item, values) && holds(c.right, item, values);
    case 'or':
      return holds(c.left, item, values) || holds(c.right, item, values);
    case 'not':
      return !holds(c.inner, item, values);
    case 'exists':
      return item[c.attr] !== undefined;
    case 'not_exists':
      return item[c.attr] === undefined;
    case 'in': {
      const v = operandValue(c.subject, item, values);
      return c.list.some((o) => sameValue(v, operandValue(o, item, values)));
    }
    case 'between': {
      const v = operandValue(c.subject, item, values);
      const lo = compare(v, operandValue(c.low, item, values));
      const hi = compare(v, operandValue(c.high, item, values));
      return lo !== undefined && hi !== undefined && lo >= 0 && hi <= 0;
    }
    case 'cmp': {
      const l = operandValue(c.left, item, values);
      const r = operandValue(c.right, item, values);
      if (c.cmp === '=') return sameValue(l, r);
      if (c.cmp === '<>') return l !== undefined && r !== undefined && !sameValue(l, r);
      const d = compare(l, r);
      if (d === undefined) return false;
      return c.cmp === '<' ? d < 0 : c.cmp === '<=' ? d <= 0 : c.cmp === '>' ? d > 0 : d >= 0;
    }
  }
}

function parse(expression: string, names: Names, values: Values, used: Parser['used']): Parser {
  return new Parser(tokenize(expression), names, values, used);
}

function checkAllUsed(names: Names, values: Values, used: Parser['used']): void {
  const unusedValues = Object.keys(values ?? {}).filter((k) => !used.values.has(k));
  if (unusedValues.length) {
    throw invalid(
      `Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`,
    );
  }
  const unusedNames = Object.keys(names ?? {}).filter((k) => !used.names.has(k));
  if (unusedNames.length) {
    throw invalid(
      `Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`,
    );
  }
}

/** What the document client does before sending: marshall with default options (undefined values throw). */
function marshallable(...parts: unknown[]): void {
  for (const p of parts) if (p !== undefined) marshall(p as Record<string, unknown>);
}

const clone = <T>(v: T): T => structuredClone(v);

// ---------------------------------------------------------------- the table

export class DynamoTableEvaluator {
  readonly items = new Map<string, Item>();
  /** Every request received, in order. */
  readonly requests: { command: string; input: unknown }[] = [];

  constructor(readonly schema: TableSchema) {}

  private id(key: Item): string {
    const pk = key[this.schema.partitionKey];
    const sk = key[this.schema.sortKey];
    if (typeof pk !== 'string' || typeof sk !== 'string' || pk === '' || sk === '' || Object.keys(key).length !== 2) {
      throw invalid('The provided key element does not match the schema');
    }
    return JSON.stringify([pk, sk]);
  }

  private checkTable(name: string | undefined): void {
    if (name !== this.schema.tableName) {
      const err = new Error('Requested resource not found');
      err.name = 'ResourceNotFoundException';
      throw err;
    }
  }

  private store(item: Item): void {
    for (const index of this.schema.indexes) {
      for (const attr of [index.partitionKey, index.sortKey]) {
        const v = item[attr];
        if (v !== undefined && (typeof v !== 'string' || v === '')) {
          throw invalid(`One or more parameter values were invalid: Type mismatch for Index Key ${attr}`);
        }
      }
    }
    if (Buffer.byteLength(JSON.stringify(item)) > 400 * 1024)
      throw invalid('Item size has exceeded the maximum allowed size');
    this.items.set(this.id(this.keyOf(item)), clone(item));
  }

  private keyOf(item: Item): Item {
    return {
      [this.schema.partitionKey]: item[this.schema.partitionKey],
      [this.schema.sortKey]: item[this.schema.sortKey],
    };
  }

  private conditionFailed(old: Item | undefined, returnOld: string | undefined): never {
    throw new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: { httpStatusCode: 400 },
      // As on the wire: the document client passes this through without unmarshalling it.
      ...(old && returnOld === 'ALL_OLD' ? { Item: marshall(old) } : {}),
    });
  }

  get(input: GetCommandInput) {
    this.checkTable(input.TableName);
    marshallable(input.Key);
    const item = this.items.get(this.id(input.Key as Item));
    return item ? { Item: clone(item) } : {};
  }

  put(input: PutCommandInput) {
    this.checkTable(input.TableName);
    marshallable(input.Item, input.ExpressionAttributeValues);
    const item = input.Item as Item;
    const id = this.id(this.keyOf(item));
    const used = { names: new Set<string>(), values: new Set<string>() };
    const old = this.items.get(id);
    if (input.ConditionExpression) {
      const p = parse(input.ConditionExpression, input.ExpressionAttributeNames, input.ExpressionAttributeValues, used);
      const condition = p.condition();
      if (!p.done()) throw invalid('Invalid ConditionExpression: trailing tokens');
      checkAllUsed(input.ExpressionAttributeNames, input.ExpressionAttributeValues, used);
      if (!holds(condition, old ?? {}, input.ExpressionAttributeValues)) {
        this.conditionFailed(old, input.ReturnValuesOnConditionCheckFailure);
      }
    } else {
      checkAllUsed(input.ExpressionAttributeNames, input.ExpressionAttributeValues, used);
    }
    this.store(item);
    return input.ReturnValues === 'ALL_OLD' && old ? { Attributes: clone(old) } : {};
  }

  update(input: UpdateCommandInput) {
    this.checkTable(input.TableName);
    marshallable(input.Key, input.ExpressionAttributeValues);
    const id = this.id(input.Key as Item);
    const names = input.ExpressionAttributeNames;
    const values = input.ExpressionAttributeValues;
    const used = { names: new Set<string>(), values: new Set<string>() };
    if (!input.UpdateExpression) throw invalid('UpdateExpression is required');
    const up = parse(input.UpdateExpression, names, values, used).update();
    let condition: Condition | undefined;
    if (input.ConditionExpression) {
      const p = parse(input.ConditionExpression, names, values, used);
      condition = p.condition();
      if (!p.done()) throw invalid('Invalid ConditionExpression: trailing tokens');
    }
    checkAllUsed(names, values, used);
    const paths = [...up.set.map((s) => s.attr), ...up.remove];
    for (const key of [this.schema.partitionKey, this.schema.sortKey]) {
      if (paths.includes(key)) throw invalid(`Cannot update attribute ${key}. This attribute is part of the key`);
    }
    const dup = paths.find((p, i) => paths.indexOf(p) !== i);
    if (dup) throw invalid(`Invalid UpdateExpression: Two document paths overlap with each other; path: [${dup}]`);

    const old = this.items.get(id);
    if (condition && !holds(condition, old ?? {}, values)) {
      this.conditionFailed(old, input.ReturnValuesOnConditionCheckFailure);
    }
    // Every right-hand side reads the item as it was before this update.
    const before: Item = old ?? {};
    const next: Item = { ...clone(before), ...(input.Key as Item) };
    for (const { attr, value } of up.set) {
      const v = operandValue(value, before, values);
      if (v === undefined)
        throw invalid('The provided expression refers to an attribute that does not exist in the item');
      next[attr] = clone(v);
    }
    for (const attr of up.remove) delete next[attr];
    this.store(next);
    switch (input.ReturnValues ?? 'NONE') {
      case 'ALL_OLD':
        return old ? { Attributes: clone(old) } : {};
      case 'ALL_NEW':
        return { Attributes: clone(next) };
      case 'NONE':
        return {};
      default:
        throw invalid(`ReturnValues ${input.ReturnValues} is not supported by this evaluator`);
    }
  }

  query(input: QueryCommandInput) {
    this.checkTable(input.TableName);
    marshallable(input.ExpressionAttributeValues, input.ExclusiveStartKey);
    const index = this.schema.indexes.find((i) => i.indexName === input.IndexName);
    if (!index) throw invalid(`The table does not have the specified index: ${input.IndexName}`);
    if (input.ConsistentRead) throw invalid('Consistent reads are not supported on global secondary indexes');
    if (input.Limit !== undefined && (!Number.isInteger(input.Limit) || input.Limit < 1)) {
      throw invalid('Limit must be at least 1');
    }
    const names = input.ExpressionAttributeNames;
    const values = input.ExpressionAttributeValues;
    const used = { names: new Set<string>(), values: new Set<string>() };
    if (!input.KeyConditionExpression) throw invalid('KeyConditionExpression is required');
    const p = parse(input.KeyConditionExpression, names, values, used);
    const condition = p.condition();
    if (!p.done()) throw invalid('Invalid KeyConditionExpression: trailing tokens');
    checkAllUsed(names, values, used);
    const partition = this.checkKeyCondition(condition, index, values);

    const sorted = [...this.items.values()]
      .filter((item) => item[index.partitionKey] !== undefined && item[index.sortKey] !== undefined)
      .filter((item) => holds(condition, item, values))
      .sort((a, b) => this.order(a, b, index));
    if (input.ScanIndexForward === false) sorted.reverse();
    let start = 0;
    if (input.ExclusiveStartKey) {
      const esk = input.ExclusiveStartKey as Item;
      const expected = [this.schema.partitionKey, this.schema.sortKey, index.partitionKey, index.sortKey];
      if (Object.keys(esk).sort().join() !== [...new Set(expected)].sort().join()) {
        throw invalid('The provided starting key is invalid');
      }
      if (esk[index.partitionKey] !== partition) {
        throw invalid('The provided starting key does not match the range key predicate');
      }
      const after = sorted.findIndex((item) => {
        const d = this.order(item, esk, index);
        return input.ScanIndexForward === false ? d < 0 : d > 0;
      });
      start = after === -1 ? sorted.length : after;
    }
    const page = sorted.slice(start, input.Limit === undefined ? undefined : start + input.Limit);
    const last = page[page.length - 1];
    // Like DynamoDB, a page that reached Limit carries a LastEvaluatedKey even when nothing follows.
    const more = input.Limit !== undefined && page.length === input.Limit && last;
    return {
      Items: page.map(clone),
      Count: page.length,
      ...(more
        ? {
            LastEvaluatedKey: {
              ...this.keyOf(last),
              [index.partitionKey]: last[index.partitionKey],
              [index.sortKey]: last[index.sortKey],
            },
          }
        : {}),
    };
  }

  private order(a: Item, b: Item, index: TableSchema['indexes'][number]): number {
    for (const attr of [index.sortKey, this.schema.partitionKey, this.schema.sortKey]) {
      const d = compare(a[attr], b[attr]);
      if (d) return d;
    }
    return 0;
  }

  /** A key condition is `pk = :v`, optionally `AND` one condition on the sort key. */
  private checkKeyCondition(c: Condition, index: TableSchema['indexes'][number], values: Values): unknown {
    const parts = c.op === 'and' ? [c.left, c.right] : [c];
    const [hash, range] = parts;
    const isPath = (o: Operand, attr: string) => o.op === 'path' && o.attr === attr;
    if (hash?.op !== 'cmp' || hash.cmp !== '=' || !isPath(hash.left, index.partitionKey)) {
      throw invalid('Query condition missed key schema element: partition key equality');
    }
    const partition = operandValue(hash.right, {}, values);
    if (range === undefined) return partition;
    if (range.op === 'between' && isPath(range.subject, index.sortKey)) {
      const d = compare(operandValue(range.low, {}, values), operandValue(range.high, {}, values));
      if (d === undefined || d > 0) {
        throw invalid(
          'Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound',
        );
      }
      return partition;
    }
    if (range.op === 'cmp' && range.cmp !== '<>' && isPath(range.left, index.sortKey)) return partition;
    throw invalid('Invalid KeyConditionExpression: unsupported condition on the sort key');
  }

  /**
   * A document client whose HTTP requests this table answers: requests are the JSON DynamoDB receives (marshalled
   * AttributeValues), answers and errors are what DynamoDB sends back, including the marshalled `Item` of a
   * ConditionalCheckFailedException.
   */
  wireClient(): DynamoDBDocumentClient {
    const operations: Record<string, (input: Item) => Item> = {
      GetItem: (i) => this.get(i as GetCommandInput),
      PutItem: (i) => this.put(i as PutCommandInput),
      UpdateItem: (i) => this.update(i as UpdateCommandInput),
      Query: (i) => this.query(i as QueryCommandInput),
    };
    const reply = (statusCode: number, body: unknown) => ({
      response: {
        statusCode,
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'evaluator' },
        body: Readable.from([Buffer.from(JSON.stringify(body))]),
      },
    });
    const handler = {
      handle: async (request: { headers: Record<string, string>; body?: unknown }) => {
        const operation = String(request.headers['x-amz-target']).replace(/^DynamoDB_20120810\./, '');
        const handle = operations[operation];
        if (!handle) return reply(400, { __type: 'UnknownOperationException', message: operation });
        const body = request.body as Uint8Array | string;
        const raw = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body)) as Item;
        const input: Item = { ...raw };
        for (const field of ['Key', 'Item', 'ExpressionAttributeValues', 'ExclusiveStartKey']) {
          if (raw[field]) input[field] = unmarshall(raw[field] as Parameters<typeof unmarshall>[0]);
        }
        this.requests.push({ command: operation, input: clone(input) });
        try {
          const out = handle(input);
          const body: Item = { ...out };
          for (const field of ['Item', 'Attributes', 'LastEvaluatedKey']) {
            if (out[field]) body[field] = marshall(out[field] as Item);
          }
          if (Array.isArray(out.Items)) body.Items = out.Items.map((i) => marshall(i as Item));
          return reply(200, body);
        } catch (err) {
          const e = err as Error & { Item?: unknown };
          return reply(400, {
            __type: `com.amazonaws.dynamodb.v20120810#${e.name}`,
            message: e.message,
            ...(e.Item ? { Item: e.Item } : {}),
          });
        }
      },
    };
    return DynamoDBDocumentClient.from(
      new DynamoDBClient({
        region: 'eu-west-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        maxAttempts: 1,
        requestHandler: handler as never,
      }),
    );
  }

  /** A document client whose `send` this table answers (no marshalling: inputs arrive as the adapter built them). */
  client(): DynamoDBDocumentClient {
    const doc = DynamoDBDocumentClient.from(
      new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
    );
    const mock = mockClient(doc);
    const answer =
      <I>(command: string, handle: (input: I) => unknown) =>
      async (input: I) => {
        this.requests.push({ command, input: clone(input) });
        return handle(input);
      };
    mock.on(GetCommand).callsFake(answer('Get', (i: GetCommandInput) => this.get(i)));
    mock.on(PutCommand).callsFake(answer('Put', (i: PutCommandInput) => this.put(i)));
    mock.on(UpdateCommand).callsFake(answer('Update', (i: UpdateCommandInput) => this.update(i)));
    mock.on(QueryCommand).callsFake(answer('Query', (i: QueryCommandInput) => this.query(i)));
    return doc;
  }
}

/** The ledger table as the storage stack declares it. */
export function ledgerTable(): DynamoTableEvaluator {
  return new DynamoTableEvaluator({
    tableName: 'ledger',
    partitionKey: LEDGER_SCHEMA.partitionKey,
    sortKey: LEDGER_SCHEMA.sortKey,
    indexes: [LEDGER_SCHEMA.byTenantReceivedAt, LEDGER_SCHEMA.bySha256],
  });
}
