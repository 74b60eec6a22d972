/**
 * tablestore-local restart time against journal size. Writes a journal of about MB megabytes through
 * TableStore.writeRows (rows of ~1 KiB over 50,000 keys, 20 per request, compaction off), then
 * measures in the same run:
 *   - load:      `new TableStore({ dataDir })` on that journal (stream, parse, decode, replay);
 *   - reference: reading the same file and JSON.parse of every line alone (no decode, no replay);
 *   - compact:   writing the snapshot + empty tail; then load again from the snapshot.
 *
 *   npx tsx bench/emulator-journal.ts [MB=200]
 *
 * Prints one JSON line per figure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TableStore, type RowWrite } from '../emulator/tablestore/table-store.js';

const targetMb = Number(process.argv[2] ?? 200);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otslake-journal-bench-'));
const NEVER = Number.MAX_SAFE_INTEGER;

function print(figure: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(figure) + '\n');
}

try {
  const writer = new TableStore({ dataDir: dir, compactAfterBytes: NEVER });
  writer.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'STRING' }], streamEnabled: true, streamExpirationHours: 168 });
  const blob = { type: 'BINARY' as const, value: new Uint8Array(700).fill(7) };
  let n = 0;
  while ((writer.persistedBytes()?.tailBytes ?? 0) < targetMb * 1024 * 1024) {
    const writes: RowWrite[] = [];
    for (let i = 0; i < 20; i++, n++) {
      writes.push({
        kind: 'put',
        primaryKey: [{ name: 'id', value: { type: 'STRING', value: `key-${(n * 7919) % 50_000}` } }],
        cells: [
          { name: 'blob', value: blob },
          { name: 'n', value: { type: 'INTEGER', value: BigInt(n) } },
        ],
        condition: 'IGNORE',
      });
    }
    writer.writeRows('t', writes);
  }
  writer.close();
  const file = path.join(dir, 'tablestore.journal');
  const bytes = fs.statSync(file).size;
  const mb = bytes / 1024 / 1024;

  let t0 = performance.now();
  const text = fs.readFileSync(file, 'utf8');
  let lines = 0;
  for (let start = 0, nl = text.indexOf('\n'); nl !== -1; start = nl + 1, nl = text.indexOf('\n', start)) {
    JSON.parse(text.slice(start, nl));
    lines++;
  }
  const referenceS = (performance.now() - t0) / 1000;
  print({ figure: 'reference: read + JSON.parse per line', mb: +mb.toFixed(1), lines, seconds: +referenceS.toFixed(2), mbPerS: +(mb / referenceS).toFixed(0) });

  t0 = performance.now();
  const loaded = new TableStore({ dataDir: dir, compactAfterBytes: NEVER });
  const loadS = (performance.now() - t0) / 1000;
  print({
    figure: 'load journal',
    mb: +mb.toFixed(1),
    rows: loaded.rowCount('t'),
    seconds: +loadS.toFixed(2),
    mbPerS: +(mb / loadS).toFixed(0),
    vsReference: +(loadS / referenceS).toFixed(2),
  });

  t0 = performance.now();
  loaded.compact();
  const compactS = (performance.now() - t0) / 1000;
  const snapshotMb = (loaded.persistedBytes()?.snapshotBytes ?? 0) / 1024 / 1024;
  loaded.close();
  print({ figure: 'compact', snapshotMb: +snapshotMb.toFixed(1), seconds: +compactS.toFixed(2) });

  t0 = performance.now();
  const fromSnapshot = new TableStore({ dataDir: dir, compactAfterBytes: NEVER });
  const snapS = (performance.now() - t0) / 1000;
  print({ figure: 'load snapshot', snapshotMb: +snapshotMb.toFixed(1), rows: fromSnapshot.rowCount('t'), seconds: +snapS.toFixed(2) });
  fromSnapshot.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
