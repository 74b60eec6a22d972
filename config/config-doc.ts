/**
 * Renders the key reference of docs/configuration.md from the schema, so the doc cannot drift:
 * test/unit/config/config-doc.test.ts fails when the block differs. Regenerate with
 *   npx tsx config/config-doc.ts --write
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { listKeys, type KeyDescription, type SchemaNode } from './key-spec.js';
import { listConfigKeys, TABLE_ENTRY_SCHEMA } from './schema.js';

export const BEGIN_MARKER = '<!-- BEGIN GENERATED: config keys (npx tsx config/config-doc.ts --write) -->';
export const END_MARKER = '<!-- END GENERATED: config keys -->';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

const DURATION_STEPS: [number, string][] = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'm'],
  [1_000, 's'],
];

/** The largest unit that divides the value, so the doc shows what an operator would type. */
function humanDuration(ms: number): string {
  for (const [size, unit] of DURATION_STEPS) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function formatDefault(k: KeyDescription): string {
  if (k.defaultText !== null) return k.defaultText;
  if (k.required) return 'required';
  if (k.sensitive) return k.default === '' ? '(none)' : '(set)';
  if (k.default === '') return '(none)';
  if (Array.isArray(k.default)) return '`[]`';
  if (typeof k.default === 'number' && (k.format === 'size-bytes' || k.format === 'file-size')) return `\`${k.default / 1024 / 1024}MiB\``;
  if (typeof k.default === 'number' && k.format === 'duration-ms') return '`' + humanDuration(k.default) + '`';
  return '`' + JSON.stringify(k.default) + '`';
}

/** The keys of a list item's schema, each followed by the keys of its own lists (`columns[].name`). */
function itemKeys(items: SchemaNode | null, prefix = ''): KeyDescription[] {
  if (items === null) return [];
  return listKeys(items).flatMap((k) => {
    const key = { ...k, key: prefix + k.key };
    return [key, ...itemKeys(k.items, `${key.key}[].`)];
  });
}

export function renderConfigKeys(): string {
  const keys = listConfigKeys();
  const rows = keys.map((k) => {
    const env = k.env === null ? '—' : `\`${k.env}\``;
    const secret = k.sensitive ? ' **secret**' : '';
    return `| \`${k.key}\` | ${formatDefault(k)} | ${env} | ${cell(k.doc)}${secret} |`;
  });
  const tableRows = itemKeys(TABLE_ENTRY_SCHEMA).map((f) => `| \`${f.key}\` | ${formatDefault(f)} | ${cell(f.doc)} |`);
  return [
    BEGIN_MARKER,
    '',
    '| key | default | environment | why this default / what it does |',
    '|---|---|---|---|',
    ...rows,
    '',
    '### `tables` entries',
    '',
    'Each entry is checked like the keys above (unknown keys, formats, every problem named by its index, e.g. `tables[1].mode`).',
    '',
    '| field | default | meaning |',
    '|---|---|---|',
    ...tableRows,
    '',
    END_MARKER,
  ].join('\n');
}

export const DOC_PATH = fileURLToPath(new URL('../docs/configuration.md', import.meta.url)).replace(/\/dist\/docs\//, '/docs/');

/** Replaces the generated block of the doc; returns true when the file changed. */
export function writeConfigDoc(path: string = DOC_PATH): boolean {
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(BEGIN_MARKER);
  const end = text.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`${path}: generated-block markers not found`);
  const next = text.slice(0, start) + renderConfigKeys() + text.slice(end + END_MARKER.length);
  if (next === text) return false;
  writeFileSync(path, next);
  return true;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--write')) {
  process.stdout.write(writeConfigDoc() ? `updated ${DOC_PATH}\n` : `${DOC_PATH} already up to date\n`);
}
