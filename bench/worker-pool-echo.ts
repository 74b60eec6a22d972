/** The worker of bench/worker-pool.ts: answers at once, so the bench measures the boundary itself. */
import { createTaskHandler, type ChannelTaskInput, type ChannelTaskOk } from '../workers/protocol.js';

export function echo(input: ChannelTaskInput): ChannelTaskOk {
  return {
    kind: 'ok',
    endToken: input.startToken,
    finished: false,
    endedOnBudget: false,
    files: [{ path: `part-${input.channelId}.parquet`, size: 1, numRecords: 1, modificationTime: 0, partitionValues: {}, stats: { numRecords: 1 } }],
    deadLetters: [],
    offsetSeq: null,
    newColumns: [],
    lastSequence: null,
    stats: { records: 1, bytesRead: 1, rowsWritten: 1, bytesWritten: 1, readRequests: 1, durationMs: 0, lastRecordTimeMs: null },
  };
}

export default createTaskHandler({ 'read-channel': async (input) => echo(input) });
