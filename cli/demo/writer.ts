/**
 * The demo's load: an order system writing to the `orders` table through the official `tablestore`
 * SDK at a steady rate. Orders are inserted, move through their statuses by partial updates
 * (created → paid → shipped → delivered, or cancelled, which also deletes the `coupon` column),
 * and are deleted now and then, so the changelog shows every kind of change the daemon lands.
 */
import { createRequire } from 'node:module';
import { OtslakeError } from '../../common/errors.js';
import type { RangeClient } from './compare.js';

/** The few parts of the untyped `tablestore` package the demo uses. */
interface TablestoreSdk {
  Client: new (config: Record<string, unknown>) => SdkClient;
  Long: { fromNumber(n: number): unknown };
  Condition: new (expectation: unknown, columnCondition: unknown) => unknown;
  RowExistenceExpectation: { IGNORE: unknown };
}

interface SdkClient extends RangeClient {
  createTable(params: Record<string, unknown>): Promise<unknown>;
  listTable(params: Record<string, unknown>): Promise<{ tableNames: string[] }>;
  putRow(params: Record<string, unknown>): Promise<unknown>;
  updateRow(params: Record<string, unknown>): Promise<unknown>;
  deleteRow(params: Record<string, unknown>): Promise<unknown>;
}

const TS = createRequire(import.meta.url)('tablestore') as TablestoreSdk;

export const DEMO_TABLE = 'orders';

export interface SdkConnection {
  endpoint: string;
  instance: string;
  accessKeyId: string;
  accessKeySecret: string;
}

export function createSdkClient(c: SdkConnection): SdkClient {
  return new TS.Client({ endpoint: c.endpoint, instancename: c.instance, accessKeyId: c.accessKeyId, secretAccessKey: c.accessKeySecret, maxRetries: 3 });
}

/** Creates `orders` (PK order_id INTEGER, stream on) unless it exists; true when it was created. */
export async function ensureOrdersTable(client: SdkClient): Promise<boolean> {
  const { tableNames } = await client.listTable({});
  if (tableNames.includes(DEMO_TABLE)) return false;
  await client.createTable({
    tableMeta: { tableName: DEMO_TABLE, primaryKey: [{ name: 'order_id', type: 'INTEGER' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
    streamSpecification: { enableStream: true, expirationTime: 24 },
  });
  return true;
}

/** Status transitions by partial update; `cancelled` also deletes the coupon column. */
const NEXT_STATUS: Record<string, string> = { created: 'paid', paid: 'shipped', shipped: 'delivered' };

export interface WriterCounts {
  puts: number;
  updates: number;
  deletes: number;
  errors: number;
}

export interface DemoWriterOptions {
  client: SdkClient;
  /** Changes per second. */
  rate: number;
  /** First order_id; ids then count up. Seconds-based by default so that a restarted demo does not reuse ids. */
  firstOrderId?: number;
  random?: () => number;
  onError?: (err: unknown) => void;
}

/** Writes until stop(); written() and counts tell the view what happened. */
export class DemoWriter {
  readonly counts: WriterCounts = { puts: 0, updates: 0, deletes: 0, errors: 0 };
  /** [changes written so far, time] once per tick: the view turns "landed N" into a lag. */
  private readonly progress: Array<[number, number]> = [];
  private readonly live = new Map<number, string>();
  private nextId: number;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private credit = 0;
  private lastTickMs = 0;

  constructor(private readonly options: DemoWriterOptions) {
    if (!(Number.isFinite(options.rate) && options.rate > 0)) {
      throw new OtslakeError('OTSL_CONFIG_INVALID', `demo write rate must be a positive number, got ${options.rate}`, { context: { key: 'rate' } });
    }
    this.nextId = options.firstOrderId ?? Math.floor(Date.now() / 1000) * 1000;
    this.random = options.random ?? Math.random;
  }

  get written(): number {
    return this.counts.puts + this.counts.updates + this.counts.deletes;
  }

  /** When the writer had written `n` changes (ms), or null if it has not yet. */
  writtenAt(n: number): number | null {
    for (const [count, at] of this.progress) if (count >= n) return at;
    return null;
  }

  start(tickMs = 50): void {
    this.lastTickMs = Date.now();
    this.timer = setInterval(() => this.tick(), tickMs);
  }

  /** Stops ticking and waits for the writes in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private tick(): void {
    const now = Date.now();
    this.credit += ((now - this.lastTickMs) / 1000) * this.options.rate;
    this.lastTickMs = now;
    // A slow tick is not doubled up: the credit carries over, so the rate holds on average.
    if (this.inFlight || this.credit < 1) return;
    const n = Math.floor(this.credit);
    this.credit -= n;
    this.inFlight = Promise.all(Array.from({ length: n }, () => this.writeOne())).then(() => {
      this.progress.push([this.written, Date.now()]);
      if (this.progress.length > 20_000) this.progress.splice(0, 10_000);
      this.inFlight = null;
    });
  }

  private async writeOne(): Promise<void> {
    try {
      await this.change();
    } catch (err) {
      this.counts.errors++;
      this.options.onError?.(err);
    }
  }

  private change(): Promise<unknown> {
    const r = this.random();
    if (this.live.size < 50 || r < 0.45) return this.insert();
    const ids = [...this.live.keys()];
    const id = ids[Math.floor(this.random() * Math.min(ids.length, 500))]!;
    const status = this.live.get(id)!;
    if (r < 0.88 && NEXT_STATUS[status]) return this.advance(id, NEXT_STATUS[status]!);
    if (r < 0.93 && status === 'created') return this.cancel(id);
    return this.remove(id);
  }

  private condition(): unknown {
    return new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);
  }

  private pk(id: number): unknown[] {
    return [{ order_id: TS.Long.fromNumber(id) }];
  }

  private async insert(): Promise<void> {
    const id = this.nextId++;
    const columns: Record<string, unknown>[] = [
      { user_id: TS.Long.fromNumber(1 + Math.floor(this.random() * 5_000)) },
      { amount: Math.round((5 + this.random() * 495) * 100) / 100 },
      { status: 'created' },
      { paid: false },
      { created_at: TS.Long.fromNumber(Date.now()) },
    ];
    if (this.random() < 0.3) columns.push({ coupon: `SAVE${5 + Math.floor(this.random() * 4) * 5}` });
    this.live.set(id, 'created');
    await this.options.client.putRow({ tableName: DEMO_TABLE, condition: this.condition(), primaryKey: this.pk(id), attributeColumns: columns });
    this.counts.puts++;
  }

  private async advance(id: number, status: string): Promise<void> {
    this.live.set(id, status);
    const put: Record<string, unknown>[] = [{ status }];
    if (status === 'paid') put.push({ paid: true });
    await this.options.client.updateRow({
      tableName: DEMO_TABLE,
      condition: this.condition(),
      primaryKey: this.pk(id),
      updateOfAttributeColumns: [{ PUT: put }],
    });
    this.counts.updates++;
  }

  private async cancel(id: number): Promise<void> {
    this.live.set(id, 'cancelled');
    await this.options.client.updateRow({
      tableName: DEMO_TABLE,
      condition: this.condition(),
      primaryKey: this.pk(id),
      updateOfAttributeColumns: [{ PUT: [{ status: 'cancelled' }] }, { DELETE_ALL: ['coupon'] }],
    });
    this.counts.updates++;
  }

  private async remove(id: number): Promise<void> {
    this.live.delete(id);
    await this.options.client.deleteRow({ tableName: DEMO_TABLE, condition: this.condition(), primaryKey: this.pk(id) });
    this.counts.deletes++;
  }
}
