/**
 * Dead letters: records a batch could not land, kept so that nothing disappears (issue 4).
 *
 * One NDJSON file per channel batch at `_otslake/dead-letters/<encoded channelId>/<batchId>.jsonl` in the
 * table folder, written with a plain put before the batch's offset entry is claimed, so an offset entry
 * in force never points past a record that is neither in the lake nor here. The file is not in the
 * Delta log; the daemon names it in commitInfo. Every line has the reason, where the record was
 * (channel, page token, index in the page) and the raw record (base64), enough to replay it; a row
 * that decoded but broke the schema also comes rendered as JSON.
 */
import type { ObjectStore } from '../lake/object-store.js';
import { decodeRecordToObject } from '../tunnel/plainbuffer-object.js';
import { ActionType, type RecordMsg } from '../tunnel/proto.js';
import type { CellValue } from '../tunnel/plainbuffer.js';
import { formatSequence, type RowProblem } from './changelog-rows.js';
import type { DeadLetterMeta } from './protocol.js';
import { valueTypeName } from './schema-map.js';

const DEAD_LETTERS_PREFIX = '_otslake/dead-letters';

export type DeadLetterReason = 'corrupt-record' | 'type-mismatch' | 'unknown-column' | 'oversized-row' | 'column-name-conflict';

/** Where a record was read: its page's request token and its index in that page. */
export interface RecordPlace {
  token: string;
  recordIndex: number;
}

export function deadLetterKey(channelId: string, batchId: string): string {
  return `${DEAD_LETTERS_PREFIX}/${encodeURIComponent(channelId)}/${encodeURIComponent(batchId)}.jsonl`;
}

/** JSON has no bigint or bytes: integers as decimal strings, binary as base64. */
export function renderValue(value: CellValue | undefined): string | number | boolean | null {
  if (value === undefined) return null;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  return value;
}

function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * The record as the source wrote it (`row`: its own columns only, so a source column named `_op` shows its own
 * value), with Tablestore types beside the values, and what otslake's metadata columns would have held (`meta`).
 */
function renderRow(record: RecordMsg, channelId: string): { row: Record<string, unknown>; types: Record<string, string>; meta: Record<string, unknown> } {
  const decoded = decodeRecordToObject(record);
  const row: Record<string, unknown> = {};
  const types: Record<string, string> = {};
  let newestMs = -1;
  for (const pk of decoded.primaryKey) {
    row[pk.name] = renderValue(pk.value);
    types[pk.name] = valueTypeName(pk.type);
  }
  const deleted: string[] = [];
  for (const c of decoded.cells) {
    if (c.timestampMs > newestMs) newestMs = c.timestampMs;
    if (c.value === undefined) {
      deleted.push(c.name);
      continue;
    }
    row[c.name] = renderValue(c.value);
    types[c.name] = valueTypeName(c.type);
  }
  const seq = decoded.sequenceInfo;
  const meta = {
    op: actionName(record.action_type).replace('_ROW', ''),
    ts: seq ? seq.timestamp : newestMs >= 0 ? newestMs * 1000 : null,
    seq: seq ? formatSequence(seq.epoch, seq.timestamp, seq.rowIndex) : null,
    channel: channelId,
    deletedColumns: record.action_type === ActionType.UPDATE_ROW ? deleted : null,
  };
  return { row, types, meta };
}

function actionName(action: ActionType): string {
  return ActionType[action] ?? `UNKNOWN_${String(action)}`;
}

export class DeadLetters {
  private readonly lines: string[] = [];
  private readonly reasons: Record<string, number> = {};

  constructor(
    readonly channelId: string,
    readonly batchId: string,
  ) {}

  get rows(): number {
    return this.lines.length;
  }

  /** A record kept only as bytes: it could not be decoded, or was too large to try. */
  addRawRecord(
    reason: 'corrupt-record' | 'oversized-row',
    record: RecordMsg,
    place: RecordPlace,
    detail: { error?: { code: string; message: string }; bytes?: number } = {},
  ): void {
    this.push(reason, {
      reason,
      ...this.where(record, place),
      ...(detail.bytes !== undefined ? { bytes: detail.bytes } : {}),
      ...(detail.error ? { error: detail.error } : {}),
      record: base64Of(record.record),
      ...(record.origin_record && record.origin_record.length > 0 ? { originRecord: base64Of(record.origin_record) } : {}),
    });
  }

  /** A record that decoded but does not fit the schema: rendered as a row, and kept as bytes. */
  addRow(reason: 'type-mismatch' | 'unknown-column' | 'column-name-conflict', record: RecordMsg, place: RecordPlace, problem: RowProblem): void {
    const { row, types, meta } = renderRow(record, this.channelId);
    this.push(reason, { reason, ...this.where(record, place), ...problem, row, types, meta, record: base64Of(record.record) });
  }

  /** Writes the file (one put); null when there is nothing to write. */
  async write(store: ObjectStore, signal?: AbortSignal): Promise<DeadLetterMeta | null> {
    if (this.lines.length === 0) return null;
    const path = deadLetterKey(this.channelId, this.batchId);
    await store.put(path, new TextEncoder().encode(this.lines.join('')), signal ? { signal } : {});
    return { path, rows: this.lines.length, reasons: { ...this.reasons } };
  }

  private where(record: RecordMsg, place: RecordPlace) {
    return { channelId: this.channelId, batchId: this.batchId, token: place.token, recordIndex: place.recordIndex, actionType: actionName(record.action_type) };
  }

  private push(reason: DeadLetterReason, line: Record<string, unknown>): void {
    this.lines.push(`${JSON.stringify(line)}\n`);
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
  }
}
