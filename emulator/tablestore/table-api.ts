/**
 * tablestore-local's table API: the RPCs the official `tablestore` SDK calls, over the SDK's own
 * proto definitions, answering from the TableStore. Handlers throw RpcError for the service's
 * error codes; per-row outcomes of BatchWriteRow are data.
 */
import type { PkCell, TableInfo } from './model.js';
import { encodePrimaryKey, encodeRow, encodeRows } from './plainbuffer-codec.js';
import {
  concreteKey,
  decodeRowBytes,
  deleteWrite,
  invalid,
  projectRow,
  putWrite,
  readOptions,
  rowCondition,
  updateWrite,
  type ConditionMsg,
  type TimeRangeMsg,
} from './row-requests.js';
import { RpcError, type RpcContext, type RpcService } from './rpc.js';
import { pkKey } from './pk-order.js';
import { checkSchema, checkTableName, validatePrimaryKey } from './table-rules.js';
import { decodeRequest, encodeMessage } from './table-proto.js';
import type { RowWrite, TableStore, WriteResult } from './table-store.js';

const PK_TYPES: Record<number, TableInfo['primaryKey'][number]['type']> = { 1: 'INTEGER', 2: 'STRING', 3: 'BINARY' };
const PK_TYPE_NUMBERS = { INTEGER: 1, STRING: 2, BINARY: 3 } as const;
const RT_PK = 1;
const MAX_BATCH_ROWS = 200;
const MAX_RANGE_ROWS = 5000;
const WRITE_CONSUMED = { capacity_unit: { read: 0, write: 1 } };
const READ_CONSUMED = { capacity_unit: { read: 1, write: 0 } };

interface ReturnContentMsg {
  return_type?: number;
}
interface RowWriteMsg {
  table_name?: string;
  row?: Uint8Array;
  row_change?: Uint8Array;
  primary_key?: Uint8Array;
  condition?: ConditionMsg;
  return_content?: ReturnContentMsg;
}

type Handler = (body: Uint8Array, ctx: RpcContext) => Uint8Array;

function requireName(name: string | undefined): string {
  if (!name) throw invalid('table_name is missing.');
  return name;
}

export class TableApi implements RpcService {
  private readonly handlers: Record<string, Handler>;

  /** `clock` (ms): the emulator's clock, which tests may shift; default the request's arrival time. */
  constructor(
    private readonly store: TableStore,
    private readonly clock?: () => number,
  ) {
    this.handlers = {
      '/CreateTable': (b) => this.createTable(b),
      '/DescribeTable': (b) => this.describeTable(b),
      '/ListTable': () => encodeMessage('ListTableResponse', { table_names: this.store.listTables() }),
      '/DeleteTable': (b) => this.deleteTable(b),
      '/PutRow': (b, ctx) => this.singleWrite('PutRow', b, ctx),
      '/UpdateRow': (b, ctx) => this.singleWrite('UpdateRow', b, ctx),
      '/DeleteRow': (b, ctx) => this.singleWrite('DeleteRow', b, ctx),
      '/BatchWriteRow': (b, ctx) => this.batchWriteRow(b, ctx),
      '/GetRow': (b) => this.getRow(b),
      '/GetRange': (b) => this.getRange(b),
    };
  }

  private now(ctx: RpcContext): number {
    return this.clock?.() ?? ctx.receivedAt;
  }

  handles(path: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.handlers, path);
  }

  async handle(path: string, body: Uint8Array, ctx: RpcContext): Promise<Uint8Array> {
    const handler = this.handlers[path];
    if (!handler) throw new RpcError(404, 'OTSUnsupportOperation', `Unsupported operation: '${path.slice(1)}'.`);
    return handler(body, ctx);
  }

  private createTable(body: Uint8Array): Uint8Array {
    const req = decodeRequest<{
      table_meta?: { table_name?: string; primary_key?: Array<{ name: string; type: number; option?: number }> };
      table_options?: { time_to_live?: number; max_versions?: number };
      stream_spec?: { enable_stream?: boolean; expiration_time?: number };
    }>('CreateTableRequest', body);
    const name = requireName(req.table_meta?.table_name);
    const nameProblem = checkTableName(name);
    if (nameProblem) throw invalid(nameProblem);
    const primaryKey = (req.table_meta?.primary_key ?? []).map((c) => {
      const type = PK_TYPES[c.type];
      if (!type) throw invalid(`Invalid type of primary key column '${c.name}'.`);
      if (c.option !== undefined && c.option !== null) throw invalid('Auto-increment primary keys are not supported by tablestore-local.');
      return { name: c.name, type };
    });
    const schemaProblem = checkSchema(primaryKey);
    if (schemaProblem) throw invalid(schemaProblem);
    const maxVersions = req.table_options?.max_versions ?? 1;
    if (!(maxVersions >= 1)) throw invalid(`max_versions must be >= 1, got ${maxVersions}.`);
    const expirationHours = req.stream_spec?.expiration_time ?? 24;
    if (req.stream_spec?.enable_stream && !(expirationHours >= 1 && expirationHours <= 168)) {
      throw invalid(`Stream expiration time must be within [1, 168] hours, got ${expirationHours}.`);
    }
    this.store.createTable({
      name,
      primaryKey,
      streamEnabled: req.stream_spec?.enable_stream ?? false,
      streamExpirationHours: expirationHours,
      maxVersions,
      timeToLiveSec: req.table_options?.time_to_live ?? -1,
    });
    return encodeMessage('CreateTableResponse', {});
  }

  private describeTable(body: Uint8Array): Uint8Array {
    const name = requireName(decodeRequest<{ table_name?: string }>('DescribeTableRequest', body).table_name);
    const d = this.store.describe(name);
    const createdSec = Number(d.createdAtUs / 1_000_000n);
    return encodeMessage('DescribeTableResponse', {
      table_meta: { table_name: d.name, primary_key: d.primaryKey.map((c) => ({ name: c.name, type: PK_TYPE_NUMBERS[c.type] })) },
      reserved_throughput_details: { capacity_unit: { read: 0, write: 0 }, last_increase_time: createdSec },
      table_options: { time_to_live: d.timeToLiveSec, max_versions: d.maxVersions, deviation_cell_version_in_sec: 86400, allow_update: true },
      table_status: 1,
      stream_details: d.streamEnabled
        ? { enable_stream: true, stream_id: d.streamId, expiration_time: d.streamExpirationHours, last_enable_time: Number(d.streamLastEnableUs) }
        : { enable_stream: false },
    });
  }

  private deleteTable(body: Uint8Array): Uint8Array {
    this.store.deleteTable(requireName(decodeRequest<{ table_name?: string }>('DeleteTableRequest', body).table_name));
    return encodeMessage('DeleteTableResponse', {});
  }

  private toWrite(kind: 'PutRow' | 'UpdateRow' | 'DeleteRow', bytes: Uint8Array | undefined, condition: ConditionMsg | undefined): RowWrite {
    const cond = rowCondition(condition);
    if (kind === 'PutRow') return putWrite(decodeRowBytes(bytes, 'row'), cond);
    if (kind === 'UpdateRow') return updateWrite(decodeRowBytes(bytes, 'row_change'), cond);
    return deleteWrite(decodeRowBytes(bytes, 'primary_key'), cond);
  }

  private singleWrite(kind: 'PutRow' | 'UpdateRow' | 'DeleteRow', body: Uint8Array, ctx: RpcContext): Uint8Array {
    const req = decodeRequest<RowWriteMsg>(`${kind}Request`, body);
    const table = requireName(req.table_name);
    const bytes = kind === 'PutRow' ? req.row : kind === 'UpdateRow' ? req.row_change : req.primary_key;
    const write = this.toWrite(kind, bytes, req.condition);
    const [result] = this.store.writeRows(table, [write], this.now(ctx)) as [WriteResult];
    if (!result.ok) throw new RpcError(result.code === 'OTSConditionCheckFail' ? 403 : 400, result.code, result.message);
    const row = req.return_content?.return_type === RT_PK ? encodeRow({ primaryKey: write.primaryKey, cells: [] }) : undefined;
    return encodeMessage(`${kind}Response`, { consumed: WRITE_CONSUMED, ...(row ? { row } : {}) });
  }

  private batchWriteRow(body: Uint8Array, ctx: RpcContext): Uint8Array {
    const req = decodeRequest<{
      tables?: Array<{
        table_name?: string;
        rows?: Array<{ type?: number; row_change?: Uint8Array; condition?: ConditionMsg; return_content?: ReturnContentMsg }>;
      }>;
    }>('BatchWriteRowRequest', body);
    const tables = req.tables ?? [];
    const total = tables.reduce((n, t) => n + (t.rows?.length ?? 0), 0);
    if (total === 0) throw invalid('No row in the BatchWriteRow request.');
    if (total > MAX_BATCH_ROWS) throw invalid(`The total number of rows in a BatchWriteRow must not exceed ${MAX_BATCH_ROWS}, got ${total}.`);
    const kinds: Record<number, 'PutRow' | 'UpdateRow' | 'DeleteRow'> = { 1: 'PutRow', 2: 'UpdateRow', 3: 'DeleteRow' };
    // Decode every row first: a request the service rejects as a whole must change nothing.
    const decoded = tables.map((t) => {
      const tableName = t.table_name ?? '';
      const rows = t.rows ?? [];
      const answers: Array<Record<string, unknown>> = rows.map(() => ({}));
      const writes: RowWrite[] = [];
      const slots: number[] = [];
      rows.forEach((row, i) => {
        try {
          const kind = kinds[row.type ?? 0];
          if (!kind) throw invalid(`Unknown operation type ${row.type}.`);
          writes.push(this.toWrite(kind, row.row_change, row.condition));
          slots.push(i);
        } catch (err) {
          answers[i] = rowError(err);
        }
      });
      return { tableName, rows, answers, writes, slots };
    });
    const seen = new Map<string, Set<string>>();
    for (const t of decoded) {
      if (this.store.getTable(t.tableName) === undefined) throw new RpcError(404, 'OTSObjectNotExist', `Requested table does not exist: ${t.tableName}`);
      const keys = seen.get(t.tableName) ?? new Set<string>();
      seen.set(t.tableName, keys);
      for (const write of t.writes) {
        const key = pkKey(write.primaryKey);
        if (keys.has(key)) throw invalid(`The input parameter is invalid: duplicated primary key in table ${t.tableName} within one BatchWriteRow.`);
        keys.add(key);
      }
    }
    const out = decoded.map(({ tableName, rows, answers, writes, slots }) => {
      this.store.writeRows(tableName, writes, this.now(ctx)).forEach((result, k) => {
        const slot = slots[k]!;
        if (!result.ok) answers[slot] = { is_ok: false, error: { code: result.code, message: result.message } };
        else {
          const wantPk = rows[slot]!.return_content?.return_type === RT_PK;
          answers[slot] = { is_ok: true, consumed: WRITE_CONSUMED, ...(wantPk ? { row: encodeRow({ primaryKey: writes[k]!.primaryKey, cells: [] }) } : {}) };
        }
      });
      return { table_name: tableName, rows: answers };
    });
    return encodeMessage('BatchWriteRowResponse', { tables: out });
  }

  private checkKey(table: string, pk: PkCell[]): void {
    const problem = validatePrimaryKey(this.store.describe(table), pk);
    if (problem) throw invalid(problem);
  }

  private getRow(body: Uint8Array): Uint8Array {
    const req = decodeRequest<{ table_name?: string; primary_key?: Uint8Array; columns_to_get?: string[]; max_versions?: number; time_range?: TimeRangeMsg }>(
      'GetRowRequest',
      body,
    );
    const table = requireName(req.table_name);
    const pk = concreteKey(decodeRowBytes(req.primary_key, 'primary_key').primaryKey);
    this.checkKey(table, pk);
    const options = readOptions(req.columns_to_get, req.max_versions ?? undefined, req.time_range ?? undefined);
    const stored = this.store.getRow(table, pk);
    const pkNames = this.store.describe(table).primaryKey.map((c) => c.name);
    const row = stored ? projectRow(stored, options, pkNames) : null;
    return encodeMessage('GetRowResponse', { consumed: READ_CONSUMED, row: row ? encodeRow(row) : new Uint8Array(0) });
  }

  private getRange(body: Uint8Array): Uint8Array {
    const req = decodeRequest<{
      table_name?: string;
      direction?: number;
      columns_to_get?: string[];
      time_range?: TimeRangeMsg;
      max_versions?: number;
      limit?: number;
      inclusive_start_primary_key?: Uint8Array;
      exclusive_end_primary_key?: Uint8Array;
    }>('GetRangeRequest', body);
    const table = requireName(req.table_name);
    const schema = this.store.describe(table).primaryKey;
    const start = decodeRowBytes(req.inclusive_start_primary_key, 'inclusive_start_primary_key').primaryKey;
    const end = decodeRowBytes(req.exclusive_end_primary_key, 'exclusive_end_primary_key').primaryKey;
    for (const [what, key] of [
      ['start', start],
      ['end', end],
    ] as const) {
      if (key.length !== schema.length || key.some((c, i) => c.name !== schema[i]!.name)) {
        throw invalid(`The ${what} primary key of GetRange must name every primary key column in order.`);
      }
      for (const [i, c] of key.entries()) {
        const t = c.value.type;
        if (t !== 'INF_MIN' && t !== 'INF_MAX' && t !== schema[i]!.type) throw invalid(`Validate PK type fail. Input: ${t}, Meta: ${schema[i]!.type}.`);
      }
    }
    const direction = req.direction === 1 ? 'BACKWARD' : 'FORWARD';
    if (req.limit !== undefined && req.limit !== null && req.limit <= 0) throw invalid(`limit must be > 0, got ${req.limit}.`);
    const limit = Math.min(req.limit ?? MAX_RANGE_ROWS, MAX_RANGE_ROWS);
    const options = readOptions(req.columns_to_get, req.max_versions ?? undefined, req.time_range ?? undefined);
    const pkNames = schema.map((c) => c.name);
    const { rows, next } = this.store.range(table, start, end, direction, limit, (r) => projectRow(r, options, pkNames) !== null);
    const projected = rows.map((r) => projectRow(r, options, pkNames)!);
    return encodeMessage('GetRangeResponse', {
      consumed: READ_CONSUMED,
      rows: encodeRows(projected),
      ...(next ? { next_start_primary_key: encodePrimaryKey(next) } : {}),
    });
  }
}

function rowError(err: unknown): Record<string, unknown> {
  if (err instanceof RpcError) return { is_ok: false, error: { code: err.errorCode, message: err.message } };
  throw err;
}
