/**
 * The convenient, allocating form of the PlainBuffer decoder, for tests, tools (`otslake inspect`) and
 * error reports. The ingest path uses the sink API of plainbuffer.ts instead.
 */
import { PlainBufferDecoder, type CellOp, type CellValue, type RecordSink, type ValueType } from './plainbuffer.js';
import { ActionType, type RecordMsg } from './proto.js';

export interface DecodedPrimaryKey {
  name: string;
  type: ValueType;
  value: CellValue;
}

export interface DecodedCell {
  name: string;
  op: CellOp;
  type: ValueType;
  value: CellValue | undefined;
  /** -1 when absent (DELETE_ALL_VERSION). */
  timestampMs: number;
}

export interface SequenceInfo {
  epoch: number;
  /** Microseconds. */
  timestamp: number;
  rowIndex: number;
}

export interface DecodedRow {
  actionType: ActionType;
  primaryKey: DecodedPrimaryKey[];
  cells: DecodedCell[];
  deleteMarker: boolean;
  /** null for base-data rows, which carry no extension. */
  sequenceInfo: SequenceInfo | null;
}

export interface DecodedRecord extends DecodedRow {
  origin?: DecodedRow;
}

class ObjectSink implements RecordSink {
  rows: DecodedRow[] = [];
  private current: DecodedRow | undefined;

  beginRow(_recordIndex: number, actionType: ActionType): void {
    this.current = { actionType, primaryKey: [], cells: [], deleteMarker: false, sequenceInfo: null };
  }
  primaryKey(name: string, type: ValueType, value: CellValue): void {
    this.current!.primaryKey.push({ name, type, value: copyValue(value) });
  }
  cell(name: string, op: CellOp, type: ValueType, value: CellValue | undefined, timestampMs: number): void {
    this.current!.cells.push({ name, op, type, value: value === undefined ? undefined : copyValue(value), timestampMs });
  }
  endRow(deleteMarker: boolean, hasSequence: boolean, epoch: number, timestampUs: number, rowIndex: number): void {
    const row = this.current!;
    row.deleteMarker = deleteMarker;
    row.sequenceInfo = hasSequence ? { epoch, timestamp: timestampUs, rowIndex } : null;
    this.rows.push(row);
    this.current = undefined;
  }
}

/** BINARY values are views into the response buffer; the object form owns its bytes. */
function copyValue(value: CellValue): CellValue {
  return value instanceof Uint8Array ? Uint8Array.from(value) : value;
}

/** Decodes one record (bytes, or a Record message with optional origin_record) into plain objects. */
export function decodeRecordToObject(record: RecordMsg | Uint8Array, actionType: ActionType = ActionType.PUT_ROW, channelId?: string): DecodedRecord {
  const msg: RecordMsg = record instanceof Uint8Array ? { action_type: actionType, record } : record;
  const sink = new ObjectSink();
  new PlainBufferDecoder().decodeRecord(msg, sink, channelId === undefined ? {} : { channelId });
  const [main, origin] = sink.rows as [DecodedRow, DecodedRow | undefined];
  return origin ? { ...main, origin } : main;
}
