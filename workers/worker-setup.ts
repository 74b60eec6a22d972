/**
 * Per-thread setup of a worker: the `WorkerSetup` that arrives once through piscina `workerData`, and
 * the clients built from it, kept for the thread's life so that keep-alive sockets (Tunnel, OSS)
 * serve every task of the thread instead of one.
 *
 * `workerSetupFrom(config)` runs on the main thread and carves the serialisable setup out of the
 * ResolvedConfig (the same connection objects the main thread's clients use). `configureWorker(setup)` installs a setup in-process (tests, benchmarks); in a
 * worker thread the setup is read from `workerData` on first use.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { OtslakeError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import type { ResolvedConfig } from '../config/load.js';
import type { ParquetCompression } from '../lake/parquet-file.js';
import type { ObjectStore } from '../lake/object-store.js';
import { openLakeStore } from '../lake/store.js';
import { TunnelClient } from '../tunnel/tunnel-client.js';
import { PROTOCOL_VERSION, type WorkerSetup } from './protocol.js';

/**
 * Row-group size of the files workers write. A channel task's batch (100k records by default) then
 * makes two row groups, and wasm memory stays near 22 MiB instead of 43 MiB at 100k-row groups, at no
 * measurable cost in speed (docs/parquet.md §Settings of the channel task).
 */
const WORKER_ROW_GROUP_ROWS = 50_000;

/** What a channel task needs from its thread; built lazily, cached per thread. */
export interface WorkerResources {
  readonly setup: WorkerSetup;
  readonly log: Logger;
  tunnelClient(): TunnelClient;
  /** The table's store: `openStore(lake.uri).child(tablePath)`. */
  tableStore(tablePath: string): ObjectStore;
  readonly compression: ParquetCompression;
  readonly rowGroupRows: number;
}

/** The serialisable per-thread setup, from the resolved configuration. */
export function workerSetupFrom(config: ResolvedConfig): WorkerSetup {
  const { tablestore, lake } = config.connections;
  return {
    protocol: PROTOCOL_VERSION,
    tablestore,
    lake,
    parquet: { compression: 'zstd', rowGroupRows: WORKER_ROW_GROUP_ROWS },
    logLevel: config.log.level,
  };
}

function checkSetup(setup: unknown): WorkerSetup {
  const s = setup as Partial<WorkerSetup> | null | undefined;
  if (typeof s !== 'object' || s === null || typeof s.tablestore?.endpoint !== 'string' || typeof s.lake?.uri !== 'string' || typeof s.parquet !== 'object') {
    throw new OtslakeError('OTSL_INTERNAL', 'worker setup is missing: start the pool with workerData = workerSetupFrom(config)');
  }
  if (s.protocol !== PROTOCOL_VERSION) {
    throw new OtslakeError('OTSL_INTERNAL', `worker setup has protocol ${String(s.protocol)}, the worker speaks ${PROTOCOL_VERSION}: dist/ is stale, rebuild`);
  }
  return s as WorkerSetup;
}

/** Builds the resources of a setup; clients are made on first use and kept. */
function createWorkerResources(setup: WorkerSetup): WorkerResources & { close(): Promise<void> } {
  const checked = checkSetup(setup);
  const log = createLogger({ level: checked.logLevel, bindings: { component: 'worker' } });
  let client: TunnelClient | null = null;
  let root: ObjectStore | null = null;
  const tables = new Map<string, ObjectStore>();
  return {
    setup: checked,
    log,
    compression: checked.parquet.compression,
    rowGroupRows: checked.parquet.rowGroupRows,
    tunnelClient() {
      client ??= TunnelClient.fromConnection(checked.tablestore, { logger: log });
      return client;
    },
    tableStore(tablePath) {
      let store = tables.get(tablePath);
      if (store === undefined) {
        root ??= openLakeStore(checked.lake);
        store = tablePath === '' ? root : root.child(tablePath);
        tables.set(tablePath, store);
      }
      return store;
    },
    async close() {
      client?.close();
      await root?.close?.();
      client = null;
      root = null;
      tables.clear();
    },
  };
}

let current: (WorkerResources & { close(): Promise<void> }) | null = null;

/** Installs `setup` for tasks run in this thread (tests and benchmarks run tasks in-process). */
export async function configureWorker(setup: WorkerSetup): Promise<WorkerResources> {
  await current?.close();
  current = createWorkerResources(setup);
  return current;
}

/** The thread's resources: from configureWorker(), or else from piscina's `workerData`. */
export function threadResources(): WorkerResources {
  if (current) return current;
  if (isMainThread) throw new OtslakeError('OTSL_INTERNAL', 'no worker setup: call configureWorker(setup) before running a channel task in-process');
  current = createWorkerResources(workerData as WorkerSetup);
  return current;
}

/** Releases the thread's clients (tests). */
export async function closeWorkerResources(): Promise<void> {
  await current?.close();
  current = null;
}
