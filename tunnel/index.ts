/**
 * The Tablestore Tunnel wire layer: what daemon/ and workers/ use.
 *
 * ```ts
 * const client = new TunnelClient({ endpoint, instanceName, accessKeyId, accessKeySecret });
 * const session = new TunnelSession({ client, tunnelId });
 * await session.start(signal);
 * for (const ch of session.ownedChannels()) if (!ch.mustStop) {
 *   const { token } = await session.getStartToken(ch.channelId, signal);
 *   const page = await client.readRecords({ tunnel_id, client_id: session.clientId!, channel_id: ch.channelId, token });
 *   decodeRecords(page.records, sink);            // PlainBuffer → sink callbacks, no object per cell
 * }
 * ```
 */
export { TunnelClient, type TunnelClientOptions, type RpcOptions, type ReadRecordsResult, type RpcName } from './tunnel-client.js';
export { TunnelTransport, retryPolicyFor, type TransportOptions, type CallOptions, type RpcResponse } from './http.js';
export { signRequest, verifySignature, buildStringToSign, computeSignature, computeContentMd5, TUNNEL_API_VERSION, type Credentials } from './signing.js';
export { classifyServerError, isFatalTunnelCode } from './server-errors.js';
export { parseToken, encodeToken, isStreamToken, isFinishedToken, FINISHED_TOKEN, type ParsedToken } from './token.js';
export {
  TRANSITIONS,
  transition,
  applyServerChannel,
  applyLocalEvent,
  mergeHeartbeat,
  toHeartbeatChannels,
  mustStop,
  type ChannelState,
  type ChannelTrigger,
  type MergeResult,
} from './channel-state.js';
export { Checkpointer, type ChannelIds, type CheckpointOutcome } from './checkpointer.js';
export { TunnelSession, type TunnelSessionOptions, type OwnedChannel, type StartPosition, type SessionState } from './tunnel-session.js';
export { ActionType, ChannelStatus, TunnelType, StartOffsetFlag } from './proto.js';
export type { RecordMsg, ChannelMsg, TunnelInfo, ChannelInfo, ReadRecordsResponse, GetCheckpointResponse } from './proto.js';
export {
  PlainBufferDecoder,
  decodeRecords,
  CELL_OP,
  VT,
  TAG,
  PB_HEADER,
  type RecordSink,
  type CellOp,
  type CellValue,
  type ValueType,
  type DecodeOptions,
} from './plainbuffer.js';
export {
  decodeRecordToObject,
  type DecodedRecord,
  type DecodedRow,
  type DecodedCell,
  type DecodedPrimaryKey,
  type SequenceInfo,
} from './plainbuffer-object.js';
export { CRC8_TABLE, crc8Byte, crc8Range } from './crc8.js';
