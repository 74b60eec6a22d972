import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalStore } from '../../../lake/local-store.js';
import { ActionType } from '../../../tunnel/proto.js';
import { DeadLetters, deadLetterKey, renderValue } from '../../../workers/dead-letters.js';
import { PlainBufferDecoder } from '../../../tunnel/plainbuffer.js';
import { ColumnSelection } from '../../../workers/column-selection.js';
import { ColumnarRowSink } from '../../../workers/columnar-rows.js';
import { BatchSchema } from '../../../workers/schema-map.js';
import { encodeRow, int, bin, str } from '../../helpers/plainbuffer-encoder.js';
import { createTmpDir, type TmpDir } from '../../helpers/tmp-dir.js';

let dir: TmpDir | undefined;
afterEach(async () => {
  await dir?.cleanup();
  dir = undefined;
});

describe('dead letters', () => {
  it('renders bigint as a decimal string and binary as base64', () => {
    expect(renderValue(2n ** 63n - 1n)).toBe('9223372036854775807');
    expect(renderValue(new Uint8Array([255, 0]))).toBe('/wA=');
    expect(renderValue(undefined)).toBeNull();
    expect(renderValue(1.5)).toBe(1.5);
  });

  it('encodes the channel id in the key', () => {
    expect(deadLetterKey('a/b c', 'batch-1')).toBe('_otslake/dead-letters/a%2Fb%20c/batch-1.jsonl');
  });

  it('writes nothing when empty; otherwise one NDJSON file with the counts per reason', async () => {
    dir = await createTmpDir('otslake-dead-letters-');
    const store = new LocalStore(dir.path);
    const dl = new DeadLetters('ch/1', 'b1');
    expect(await dl.write(store)).toBeNull();
    const record = {
      action_type: ActionType.PUT_ROW,
      record: encodeRow({ pk: [{ name: 'id', value: int(7) }], cells: [{ name: 'k', value: bin(new Uint8Array([1])), timestampMs: 3 }] }),
    };
    dl.addRawRecord('oversized-row', record, { token: 't0', recordIndex: 4 }, { bytes: 999 });
    dl.addRow('unknown-column', record, { token: 't0', recordIndex: 5 }, { column: 'k', actualType: 'BINARY' });
    const meta = await dl.write(store);
    expect(meta).toEqual({ path: '_otslake/dead-letters/ch%2F1/b1.jsonl', rows: 2, reasons: { 'oversized-row': 1, 'unknown-column': 1 } });
    const lines = (await readFile(join(dir.path, meta!.path), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({
      reason: 'oversized-row',
      channelId: 'ch/1',
      batchId: 'b1',
      token: 't0',
      recordIndex: 4,
      actionType: 'PUT_ROW',
      bytes: 999,
    });
    expect(Buffer.from(lines[0].record, 'base64')).toEqual(Buffer.from(record.record));
    expect(lines[1]).toMatchObject({
      reason: 'unknown-column',
      column: 'k',
      row: { id: '7', k: 'AQ==' },
      types: { id: 'INTEGER', k: 'BINARY' },
      meta: { op: 'PUT', ts: 3000, seq: null, channel: 'ch/1', deletedColumns: null },
    });
    // The row is the record's own columns only: otslake's metadata lives in `meta`.
    expect(Object.keys(lines[1].row as object).sort()).toEqual(['id', 'k']);
  });

  it('shows a row the selection renames or leaves out as the source wrote it, naming the lake column at fault', async () => {
    const selection = ColumnSelection.of({ exclude: ['secret'], rename: { id: 'order_id', qty: 'quantity' } });
    const schema = new BatchSchema([{ name: 'quantity', type: 'long' }], [{ name: 'order_id', type: 'INTEGER' }], true, [], '_', selection);
    const sink = new ColumnarRowSink(schema, 'ch', 'dead-letter');
    const record = {
      action_type: ActionType.PUT_ROW,
      record: encodeRow({
        pk: [{ name: 'id', value: int(7) }],
        cells: [
          { name: 'qty', value: str('many'), timestampMs: 3 },
          { name: 'secret', value: str('s'), timestampMs: 3 },
        ],
      }),
    };
    new PlainBufferDecoder().decodeRecordRaw(record, sink, { channelId: 'ch', firstRecordIndex: 0 });
    expect(sink.verdict).toBe('type-mismatch');
    const dl = new DeadLetters('ch', 'b1');
    dl.addRow('type-mismatch', record, { token: 't0', recordIndex: 0 }, sink.problem!);
    dir = await createTmpDir('otslake-dead-letters-');
    const meta = await dl.write(new LocalStore(dir.path));
    const line = JSON.parse(await readFile(join(dir.path, meta!.path), 'utf8'));
    expect(line).toMatchObject({
      column: 'quantity',
      sourceColumn: 'qty',
      expectedType: 'long',
      actualType: 'STRING',
      row: { id: '7', qty: 'many', secret: 's' },
      types: { id: 'INTEGER', qty: 'STRING', secret: 'STRING' },
    });
  });
});
