/** A read-channel task input with test defaults (changelog mode, an `id` key, generous budgets). */
import { PROTOCOL_VERSION, type ChannelTaskInput } from '../../workers/protocol.js';

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
