/** A read-channel task input with test defaults (changelog mode, an `id` key, generous budgets), a worker's setup against the emulator, and the world channel-task tests run in. */
import { pathToFileURL } from 'node:url';
import type { TunnelType } from '../../tunnel/proto.js';
import type { TunnelClient } from '../../tunnel/tunnel-client.js';
import { TunnelSession } from '../../tunnel/tunnel-session.js';
import { PROTOCOL_VERSION, type ChannelTaskInput, type WorkerSetup } from '../../workers/protocol.js';
import { closeWorkerResources, configureWorker, type WorkerResources } from '../../workers/worker-setup.js';
import { startTestEmulator, type TablestoreSdkClient, type TestEmulator } from './emulator.js';
import { createTmpDir, type TmpDir } from './tmp-dir.js';

/** What a worker thread is configured with: the emulator's Tablestore, a local lake, zstd row groups of `rowGroupRows`. */
export function emulatorWorkerSetup(emu: TestEmulator, lakePath: string, rowGroupRows: number): WorkerSetup {
  return {
    protocol: PROTOCOL_VERSION,
    tablestore: {
      endpoint: emu.endpoint,
      instanceName: emu.instance,
      accessKeyId: emu.accessKeyId,
      accessKeySecret: emu.accessKeySecret,
      securityToken: null,
      requestTimeoutMs: 10_000,
    },
    lake: { uri: pathToFileURL(lakePath).href, oss: null },
    parquet: { compression: 'zstd', rowGroupRows },
    logLevel: 'silent',
  };
}

export function channelTaskInput(
  over: Partial<ChannelTaskInput> & Pick<ChannelTaskInput, 'table' | 'tunnelId' | 'channelId' | 'startToken' | 'clientId'>,
): ChannelTaskInput {
  return {
    kind: 'read-channel',
    protocol: PROTOCOL_VERSION,
    batchId: 'batch-1',
    tablePath: over.table,
    committedSeq: 0,
    mode: 'changelog',
    primaryKey: [{ name: 'id', type: 'INTEGER' }],
    columns: [{ name: 'id', type: 'long' }],
    discoverColumns: true,
    maxRowBytes: 1 << 20,
    targetFileBytes: 1 << 20,
    budget: { maxRecords: 10_000, maxBytes: 64 << 20, maxDurationMs: 20_000 },
    ...over,
  };
}

/**
 * What a channel-task test runs against: tablestore-local (at most `readMaxRecords` per ReadRecords, one
 * partition per table), a temp local lake, and this thread configured as a worker of it (row groups of
 * `rowGroupRows`). `ownTunnel` creates a tunnel and a session holding its channels; `close` ends them all.
 */
export interface ChannelTaskWorld {
  readonly emu: TestEmulator;
  readonly sdk: TablestoreSdkClient;
  readonly tunnel: TunnelClient;
  readonly lake: TmpDir;
  readonly setup: WorkerSetup;
  readonly resources: WorkerResources;
  ownTunnel(table: string, type: TunnelType, clientTag?: string): Promise<{ tunnelId: string; session: TunnelSession }>;
  close(): Promise<void>;
}

export async function startChannelTaskWorld(options: { readMaxRecords: number; rowGroupRows: number; lakePrefix: string }): Promise<ChannelTaskWorld> {
  const emu = await startTestEmulator({ partitionsPerTable: 1, tunnel: { readMaxRecords: options.readMaxRecords } });
  const tunnel = emu.tunnelClient();
  const lake = await createTmpDir(options.lakePrefix);
  const setup = emulatorWorkerSetup(emu, lake.path, options.rowGroupRows);
  const resources = await configureWorker(setup);
  const sessions: TunnelSession[] = [];
  return {
    emu,
    sdk: emu.sdkClient(),
    tunnel,
    lake,
    setup,
    resources,
    async ownTunnel(table, type, clientTag = 'test') {
      const tunnelId = (await tunnel.createTunnel({ tunnel: { table_name: table, tunnel_name: `${table}-${type}`, tunnel_type: type } })).tunnel_id;
      const session = new TunnelSession({ client: tunnel, tunnelId, clientTag, heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 300_000 });
      sessions.push(session);
      return { tunnelId, session };
    },
    async close() {
      for (const s of sessions) await s.shutdown();
      await closeWorkerResources();
      await emu.close();
      await lake.cleanup();
    },
  };
}
