/**
 * tablestore-local in-process: `startTablestoreEmulator()` starts the table store, the table API,
 * the Tunnel service and the HTTP server, and returns the controls tests use (split, merge, faults).
 */
import { OtslakeError } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/log.js';
import { FaultInjector, type FaultSpec } from '../faults.js';
import { EmulatorClock } from './clock.js';
import type { PartitionInfo } from './model.js';
import { startServer, type AdminHandler } from './server.js';
import { TableApi } from './table-api.js';
import { TableStore } from './table-store.js';
import { TunnelService } from './tunnel-service.js';

export interface TablestoreEmulatorOptions {
  host?: string;
  /** 0 = ephemeral. */
  port?: number;
  instance: string;
  accessKeyId: string;
  accessKeySecret: string;
  /** Tables, rows, partitions and change logs persist here across restarts. */
  dataDir?: string;
  partitionsPerTable?: number;
  /** Journal tail size that triggers a compaction into the snapshot (default 64 MiB). */
  compactAfterBytes?: number;
  /** Passed through to the TunnelService options. */
  tunnel?: Record<string, unknown>;
  /**
   * /_admin/* answers loopback clients that send `x-otslake-admin: <accessKeyId>:<accessKeySecret>`;
   * true drops the header check (still loopback only).
   */
  openAdmin?: boolean;
  logger?: Logger;
}

export interface TablestoreEmulator {
  endpoint: string;
  instance: string;
  store: TableStore;
  tunnel: TunnelService;
  faults: FaultInjector;
  /** Real time plus an offset tests move forward (stream retention, tunnel expiry, client timeouts). */
  clock: EmulatorClock;
  split(table: string, partitionId: string): PartitionInfo[];
  merge(table: string, a: string, b: string): PartitionInfo;
  close(): Promise<void>;
}

function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  if (typeof value !== 'string' || value === '') throw new OtslakeError('OTSL_EMULATOR', `admin request needs a string "${name}"`);
  return value;
}

function adminHandler(store: TableStore, faults: FaultInjector, tunnel: TunnelService, clock: EmulatorClock): AdminHandler {
  return async (method, path, query, body) => {
    const route = `${method} ${path}`;
    switch (route) {
      case 'GET /_admin/tables':
        return { status: 200, json: { tables: store.listTables() } };
      case 'GET /_admin/partitions': {
        const table = query.get('table') ?? '';
        const partitions = store.partitions(table).map((p) => ({ ...p, changeCount: store.changeCount(table, p.id) }));
        return { status: 200, json: { table, partitions } };
      }
      case 'POST /_admin/split':
        return { status: 200, json: { partitions: store.splitPartition(field(body, 'table'), field(body, 'partitionId')) } };
      case 'POST /_admin/merge':
        return { status: 200, json: { partition: store.mergePartitions(field(body, 'table'), field(body, 'a'), field(body, 'b')) } };
      case 'GET /_admin/faults':
        return { status: 200, json: { faults: faults.list() } };
      case 'POST /_admin/faults':
        faults.set(body as FaultSpec);
        return { status: 200, json: { faults: faults.list() } };
      case 'DELETE /_admin/faults':
        faults.clear(query.get('path') ?? undefined);
        return { status: 200, json: { faults: faults.list() } };
      case 'GET /_admin/clock':
        return { status: 200, json: { nowMs: clock.nowMs(), offsetMs: clock.offsetMs } };
      case 'POST /_admin/clock': {
        const advanceMs = Number((body as Record<string, unknown> | undefined)?.advanceMs);
        if (!Number.isFinite(advanceMs) || advanceMs < 0) throw new OtslakeError('OTSL_EMULATOR', 'admin request needs a number "advanceMs" >= 0');
        clock.advance(advanceMs);
        return { status: 200, json: { nowMs: clock.nowMs(), offsetMs: clock.offsetMs } };
      }
      case 'POST /_admin/corrupt-records':
        tunnel.tamper.corruptNext(field(body, 'channelId'), Number((body as Record<string, unknown> | undefined)?.count ?? 1));
        return { status: 200, json: { pending: tunnel.tamper.list() } };
      default:
        return { status: 404, json: { error: `no admin route ${route}` } };
    }
  };
}

export async function startTablestoreEmulator(opts: TablestoreEmulatorOptions): Promise<TablestoreEmulator> {
  for (const key of ['instance', 'accessKeyId', 'accessKeySecret'] as const) {
    if (typeof opts[key] !== 'string' || opts[key] === '') throw new OtslakeError('OTSL_EMULATOR', `tablestore-local needs a non-empty ${key}`);
  }
  const logger = opts.logger ?? createLogger({ level: 'warn', bindings: { component: 'tablestore-local' } });
  const clock = new EmulatorClock();
  const store = new TableStore({
    clockUs: () => clock.nowUs(),
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    ...(opts.partitionsPerTable !== undefined ? { partitionsPerTable: opts.partitionsPerTable } : {}),
    ...(opts.compactAfterBytes !== undefined ? { compactAfterBytes: opts.compactAfterBytes } : {}),
  });
  // A test that drives the Tunnel clock by hand (tunnel.clock) keeps it; otherwise the shared clock.
  const tunnelOptions = {
    clock: () => clock.nowMs(),
    ...(opts.tunnel ?? {}),
    instance: opts.instance,
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
  };
  const tunnel = new TunnelService(store, tunnelOptions as ConstructorParameters<typeof TunnelService>[1]);
  const faults = new FaultInjector();
  let server;
  try {
    server = await startServer({
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
      credentials: { instance: opts.instance, accessKeyId: opts.accessKeyId, accessKeySecret: opts.accessKeySecret },
      services: [new TableApi(store, () => clock.nowMs()), tunnel],
      faults,
      admin: adminHandler(store, faults, tunnel, clock),
      openAdmin: opts.openAdmin ?? false,
      logger,
    });
  } catch (err) {
    await tunnel.close();
    store.close();
    throw err;
  }
  const running = server;
  let closed: Promise<void> | null = null;
  return {
    endpoint: running.endpoint,
    instance: opts.instance,
    store,
    tunnel,
    faults,
    clock,
    split: (table, partitionId) => store.splitPartition(table, partitionId),
    merge: (table, a, b) => store.mergePartitions(table, a, b),
    close: () => {
      closed ??= (async () => {
        await running.close();
        await tunnel.close();
        store.close();
      })();
      return closed;
    },
  };
}
