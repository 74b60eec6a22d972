/**
 * ReadRecords: turns a token into a page of Tunnel records (docs/tunnel-protocol.md §ReadRecords). Reads are pure functions of the
 * token and the table store, so a retried request returns the same page (change logs only grow).
 *
 * Base channels page through the current rows of their hash range in PK order (PUT_ROW images
 * without sequence info) and end with next_token "finished". Stream channels page through their
 * partition's change log; at the live tail they answer zero records and a token for the same
 * position; a closed partition, or a backfill tunnel past its end offset, ends with "finished".
 */
import { ActionType, FINISHED_TOKEN, type ReadRecordsResponse, type RecordMsg } from '../../tunnel/proto.js';
import type { ChangeAction, TableStoreView } from './model.js';
import { RpcError } from './rpc.js';
import type { ResolvedTunnelOptions } from './tunnel-options.js';
import type { ChannelRecord, TunnelRecord } from './tunnel-state.js';
import { decodeToken, encodeToken, type BasePosition, type StreamPosition } from './tunnel-token.js';

type ReaderOptions = Pick<ResolvedTunnelOptions, 'readMaxRecords' | 'readMaxBytes' | 'finishedTokenRead'>;

const ACTION: Record<ChangeAction, ActionType> = {
  PUT_ROW: ActionType.PUT_ROW,
  UPDATE_ROW: ActionType.UPDATE_ROW,
  DELETE_ROW: ActionType.DELETE_ROW,
};

/** The token a never-checkpointed channel starts from. */
export function initialToken(channel: ChannelRecord): string {
  if (channel.kind === 'BaseData') return encodeToken({ kind: 'base', lastPk: null, totalCount: 0 });
  return encodeToken({ kind: 'stream', channelId: channel.id, index: channel.startIndex, timestampUs: 0n, totalCount: 0 });
}

/** Change-log index a Stream channel resumes from (checkpoint, else start); null when finished or not a Stream channel. */
export function streamIndexOf(channel: ChannelRecord): number | null {
  if (channel.kind !== 'Stream') return null;
  const token = channel.checkpoint?.token;
  if (token === undefined) return channel.startIndex;
  if (token === FINISHED_TOKEN) return null;
  const position = decodeToken(token);
  return position.kind === 'stream' ? position.index : null;
}

/** Checks that a token (from a client) is a valid position of this channel, or "finished". */
export function validateToken(channel: ChannelRecord, token: string): void {
  if (token === FINISHED_TOKEN) return;
  positionOf(channel, token);
}

export function readRecords(
  store: TableStoreView,
  tunnel: TunnelRecord,
  channel: ChannelRecord,
  token: string,
  nowMs: number,
  options: ReaderOptions,
): ReadRecordsResponse {
  if (token === FINISHED_TOKEN) {
    if (options.finishedTokenRead === 'finished') return { records: [], next_token: FINISHED_TOKEN, may_more_record: false };
    throw new RpcError(400, 'OTSParameterInvalid', `channel ${channel.id} is finished; there is nothing to read after "finished"`);
  }
  if (store.getTable(tunnel.table) === undefined) {
    throw new RpcError(400, 'OTSParameterInvalid', `table ${tunnel.table} of tunnel ${tunnel.id} no longer exists`);
  }
  const position = positionOf(channel, token);
  return position.kind === 'base' ? readBase(store, tunnel, channel, position, options) : readStream(store, tunnel, channel, position, nowMs, options);
}

function positionOf(channel: ChannelRecord, token: string): BasePosition | StreamPosition {
  const position = decodeToken(token);
  if (channel.kind === 'BaseData' && position.kind !== 'base') {
    throw new RpcError(400, 'OTSParameterInvalid', `channel ${channel.id} is a BaseData channel; the token is a stream token`);
  }
  if (channel.kind === 'Stream' && (position.kind !== 'stream' || position.channelId !== channel.id)) {
    throw new RpcError(400, 'OTSParameterInvalid', `the token does not belong to stream channel ${channel.id}`);
  }
  return position;
}

function readBase(store: TableStoreView, tunnel: TunnelRecord, channel: ChannelRecord, position: BasePosition, options: ReaderOptions): ReadRecordsResponse {
  const page = store.basePage(tunnel.table, { hashStart: channel.hashStart, hashEnd: channel.hashEnd }, position.lastPk, options.readMaxRecords);
  const records: RecordMsg[] = [];
  let bytes = 0;
  // Shared bytes (kept per row until it is written): the protobuf encoder copies them out.
  for (const record of page.records) {
    if (records.length > 0 && bytes + record.length > options.readMaxBytes) break;
    bytes += record.length;
    records.push({ action_type: ActionType.PUT_ROW, record });
  }
  const all = records.length === page.records.length;
  if (page.done && all) return { records, next_token: FINISHED_TOKEN, may_more_record: false };
  const last = page.primaryKeys[records.length - 1];
  const next = encodeToken({
    kind: 'base',
    lastPk: last === undefined ? position.lastPk : last,
    totalCount: position.totalCount + records.length,
  });
  return { records, next_token: next, may_more_record: true };
}

function readStream(
  store: TableStoreView,
  tunnel: TunnelRecord,
  channel: ChannelRecord,
  position: StreamPosition,
  nowMs: number,
  options: ReaderOptions,
): ReadRecordsResponse {
  const endUs = tunnel.streamConfig?.endOffsetNs === undefined ? undefined : BigInt(tunnel.streamConfig.endOffsetNs) / 1000n;
  if (position.index < store.logStart(tunnel.table, channel.partitionId)) {
    // A lagging reader: what it would read next is gone (the tunnel as a whole has expired).
    tunnel.expired = true;
    throw new RpcError(
      400,
      'OTSTunnelExpired',
      `channel ${channel.id}: records from index ${position.index} are past the stream retention of table ${tunnel.table}`,
    );
  }
  const page = store.streamPage(tunnel.table, channel.partitionId, position.index, options.readMaxRecords);
  const records: RecordMsg[] = [];
  let bytes = 0;
  let pastEnd = false;
  let timestampUs = position.timestampUs;
  for (let i = 0; i < page.records.length; i++) {
    const change = page.records[i]!;
    if (endUs !== undefined && change.seq.timestamp >= endUs) {
      pastEnd = true;
      break;
    }
    // Shared bytes, encoded once per change-log record: the protobuf encoder copies them out.
    const record = page.bytes[i]!;
    if (records.length > 0 && bytes + record.length > options.readMaxBytes) break;
    bytes += record.length;
    records.push({ action_type: ACTION[change.action], record });
    timestampUs = change.seq.timestamp;
  }
  const nextIndex = position.index + records.length;
  const tailReached = records.length === page.records.length;
  const finished =
    pastEnd ||
    (tailReached && page.drained) ||
    (tailReached && endUs !== undefined && BigInt(nowMs) * 1000n >= endUs && nextIndex >= store.changeCount(tunnel.table, channel.partitionId));
  if (finished) return { records, next_token: FINISHED_TOKEN, may_more_record: false };
  const next = encodeToken({
    kind: 'stream',
    channelId: channel.id,
    index: nextIndex,
    timestampUs,
    totalCount: position.totalCount + records.length,
  });
  const mayMore = !tailReached || nextIndex < store.changeCount(tunnel.table, channel.partitionId);
  return { records, next_token: next, may_more_record: mayMore };
}
