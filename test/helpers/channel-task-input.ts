/** A read-channel task input with test defaults (changelog mode, an `id` key, generous budgets), and a worker's setup against the emulator. */
import { pathToFileURL } from 'node:url';
import { PROTOCOL_VERSION, type ChannelTaskInput, type WorkerSetup } from '../../workers/protocol.js';
import type { TestEmulator } from './emulator.js';

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
