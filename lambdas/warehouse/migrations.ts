/**
 * The warehouse's migrations and analyst views, read from sql/:
 * - sql/migrations/NNNN_name.sql: the subset Redshift and PostgreSQL share;
 * - sql/postgres/NNNN_name.sql, sql/redshift/NNNN_name.sql: one dialect's own (row-level security, indexes, sort
 *   keys). Versions are one sequence: a dialect file never reuses a shared version number;
 * - sql/views/NN_name.sql: the analyst views, in the shared subset; a file of the same name under
 *   sql/<dialect>/views/ replaces it for that dialect.
 *
 * Migrations are applied once each, in version order, and recorded in schema_migrations with a checksum: editing
 * an applied migration is refused (write a new one). Views are replaced as a set whenever their text changes
 * (recorded under the version `views`), so that a view change needs no migration.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../shared/errors';
import type { Dialect } from './sql';

/** sql/ of this repository (a Lambda bundle copies it and passes its own path). */
export const DEFAULT_SQL_DIR = resolve(__dirname, '../../sql');

export interface Migration {
  readonly version: string;
  readonly name: string;
  /** Where it was read from, relative to the sql folder. */
  readonly file: string;
  readonly statements: readonly string[];
  /** SHA-256 (hex) of the file's text. */
  readonly checksum: string;
}

export interface ViewDefinition {
  readonly name: string;
  readonly file: string;
  readonly statements: readonly string[];
}

export interface ViewSet {
  readonly views: readonly ViewDefinition[];
  /** SHA-256 (hex) over every view's file name and text, in order. */
  readonly checksum: string;
}

/** schema_migrations' version under which the view set's checksum is recorded. */
export const VIEWS_VERSION = 'views';

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const VIEW_FILE = /^(\d{2})_([a-z][a-z0-9_]*)\.sql$/;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function sqlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
}

/**
 * Splits a script into statements at top-level semicolons, skipping `--` and `/* … *\/` comments, quoted
 * identifiers and strings, and dollar-quoted bodies (`$$ … $$`, `$tag$ … $tag$`), whose semicolons belong to
 * the body. Needed because the Redshift Data API and parameterised PostgreSQL queries run one statement at a time.
 */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let current = '';
  let i = 0;
  const n = script.length;
  const flush = () => {
    const s = current.trim();
    if (s.length > 0) out.push(s);
    current = '';
  };
  while (i < n) {
    const ch = script[i] as string;
    const next = script[i + 1];
    if (ch === '-' && next === '-') {
      const end = script.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
      current += '\n';
      continue;
    }
    if (ch === '/' && next === '*') {
      const end = script.indexOf('*/', i + 2);
      if (end === -1) throw new ConfigError('unterminated /* comment in SQL script');
      i = end + 2;
      current += ' ';
      continue;
    }
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      for (;;) {
        const k = script.indexOf(ch, j);
        if (k === -1) throw new ConfigError(`unterminated ${ch} quote in SQL script`);
        if (script[k + 1] === ch) {
          j = k + 2;
          continue;
        }
        j = k + 1;
        break;
      }
      current += script.slice(i, j);
      i = j;
      continue;
    }
    if (ch === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(script.slice(i, i + 66));
      if (tag) {
        const end = script.indexOf(tag[0], i + tag[0].length);
        if (end === -1) throw new ConfigError(`unterminated ${tag[0]} body in SQL script`);
        current += script.slice(i, end + tag[0].length);
        i = end + tag[0].length;
        continue;
      }
    }
    if (ch === ';') {
      flush();
      i++;
      continue;
    }
    current += ch;
    i++;
  }
  flush();
  return out;
}

function readMigrations(sqlDir: string, sub: string): Migration[] {
  return sqlFiles(join(sqlDir, sub)).map((f) => {
    const m = MIGRATION_FILE.exec(f);
    if (!m) throw new ConfigError(`${sub}/${f}: migration files are named NNNN_name.sql`);
    const text = readFileSync(join(sqlDir, sub, f), 'utf8');
    return {
      version: m[1] as string,
      name: m[2] as string,
      file: `${sub}/${f}`,
      statements: splitStatements(text),
      checksum: sha256(text),
    };
  });
}

/** The migrations of a dialect, in version order. */
export function loadMigrations(dialect: Dialect, sqlDir: string = DEFAULT_SQL_DIR): Migration[] {
  const shared = readMigrations(sqlDir, 'migrations');
  const own = readMigrations(sqlDir, dialect);
  const seen = new Map<string, string>();
  for (const m of [...shared, ...own]) {
    const other = seen.get(m.version);
    if (other) throw new ConfigError(`migration version ${m.version} is used by both ${other} and ${m.file}`);
    seen.set(m.version, m.file);
  }
  const all = [...shared, ...own].sort((a, b) => a.version.localeCompare(b.version));
  if (all[0]?.version !== '0000') throw new ConfigError('migration 0000 (schema_migrations) is missing');
  return all;
}

/** The analyst views of a dialect, in file order. */
export function loadViews(dialect: Dialect, sqlDir: string = DEFAULT_SQL_DIR): ViewSet {
  const overrides = new Set(sqlFiles(join(sqlDir, dialect, 'views')));
  const hash = createHash('sha256');
  const views = sqlFiles(join(sqlDir, 'views')).map((f) => {
    const m = VIEW_FILE.exec(f);
    if (!m) throw new ConfigError(`views/${f}: view files are named NN_view_name.sql`);
    const file = overrides.has(f) ? `${dialect}/views/${f}` : `views/${f}`;
    const text = readFileSync(join(sqlDir, file), 'utf8');
    hash.update(`${file}\n${text}\n`);
    return { name: m[2] as string, file, statements: splitStatements(text) };
  });
  for (const f of overrides) {
    if (!views.some((v) => v.file.endsWith(`/${f}`))) {
      throw new ConfigError(`${dialect}/views/${f} overrides no view in sql/views/`);
    }
  }
  return { views, checksum: hash.digest('hex') };
}
