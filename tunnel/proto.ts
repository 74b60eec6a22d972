/**
 * proto2 messages of the Tunnel API, wire-exact with the SDKs' definitions (names, numbers, labels; docs/tunnel-protocol.md §Messages),
 * and of the one table-API call the daemon makes, DescribeTable (only the fields it reads: a decoder skips the rest).
 *
 * protobufjs encodes proto2 `required` fields even when they hold the default value, which the Java SDK
 * needs. Its int64 support is `Long` only (a bigint is silently encoded as 0), so this module is
 * the one place that converts: callers see `bigint` for every 64-bit field, both ways.
 *
 * The emulator uses these same message definitions (they are the protocol, not the client), but never
 * the client's PlainBuffer decoder.
 */
import { createRequire } from 'node:module';
import type protobufTypes from 'protobufjs';
import type LongType from 'long';
import { OtslakeError } from '../common/errors.js';
import {
  ActionType,
  decodeReadRecordsResponse,
  encodeReadRecordsRequest,
  encodeReadRecordsResponse,
  type ReadRecordsResponse,
  type RecordMsg,
} from './read-records-wire.js';

// The ReadRecords messages are defined beside their direct codec; re-exported so callers see one message module.
export { ActionType, type ReadRecordsResponse, type RecordMsg };

const TUNNEL_PROTO = `
syntax = "proto2";

enum TunnelType      { BaseData = 1; Stream = 2; BaseAndStream = 3; }
enum ChannelStatus   { OPEN = 1; CLOSING = 2; CLOSE = 3; TERMINATED = 4; }
enum ActionType      { PUT_ROW = 1; UPDATE_ROW = 2; DELETE_ROW = 3; }
enum StartOffsetFlag { LATEST = 0; EARLIEST = 1; }

message Error { required string code = 1; optional string message = 2; optional string tunnel_id = 3; }

message StreamTunnelConfig { optional StartOffsetFlag flag = 1; optional uint64 startOffset = 2; optional uint64 endOffset = 3; }

message Tunnel {
  required string table_name = 1;
  required string tunnel_name = 3;
  required TunnelType tunnel_type = 4;
  optional StreamTunnelConfig stream_tunnel_config = 5;
  optional bool need_all_time_series_columns = 6;
}
message CreateTunnelRequest  { required Tunnel tunnel = 1; }
message CreateTunnelResponse { required string tunnel_id = 1; }

message DeleteTunnelRequest  { required string table_name = 1; required string tunnel_name = 2; optional string tunnel_id = 3; }
message DeleteTunnelResponse {}

message ListTunnelRequest { optional string table_name = 1; }
message TunnelInfo {
  required string tunnel_id = 1;
  required string tunnel_type = 2;
  required string table_name = 3;
  required string instance_name = 4;
  required string stream_id = 5;
  required string stage = 6;
  optional bool   expired = 7;
  optional string tunnel_name = 8;
  optional bool   public = 9;
  optional StreamTunnelConfig stream_tunnel_config = 10;
  optional int64  create_time = 11;
}
message ListTunnelResponse { repeated TunnelInfo tunnels = 1; }

message DescribeTunnelRequest { required string table_name = 1; required string tunnel_name = 2; optional string tunnel_id = 3; }
message ChannelInfo {
  required string channel_id = 1;
  optional string channel_type = 2;
  optional string channel_status = 3;
  optional string client_id = 4;
  optional int64  channel_rpo = 5;
  optional int64  channel_count = 6;
}
message DescribeTunnelResponse { required TunnelInfo tunnel = 1; repeated ChannelInfo channels = 2; optional int64 tunnel_rpo = 3; }

message GetRpoRequest  { optional string tunnel_id = 1; optional int32 limit = 2; }
message GetRpoResponse { optional bytes rpo_infos = 1; optional bytes tunnel_rpo_infos = 2; optional string tunnel_id = 3; }

message ClientConfig    { optional int64 timeout = 1; optional string client_tag = 2; }
message ConnectRequest  { required string tunnel_id = 1; optional ClientConfig client_config = 2; }
message ConnectResponse { required string client_id = 1; }

message Channel { required string channel_id = 1; required int64 version = 2; required ChannelStatus status = 3; optional bytes detail = 4; }
message HeartbeatRequest  { required string tunnel_id = 1; required string client_id = 2; repeated Channel channels = 3; }
message HeartbeatResponse { repeated Channel channels = 1; }

message ShutdownRequest  { required string tunnel_id = 1; required string client_id = 2; }
message ShutdownResponse {}

message GetCheckpointRequest  { required string tunnel_id = 1; required string client_id = 2; required string channel_id = 3; }
message GetCheckpointResponse { required string checkpoint = 1; required int64 sequence_number = 2; }

message CheckpointRequest {
  required string tunnel_id = 1;
  required string client_id = 2;
  required string channel_id = 3;
  required string checkpoint = 4;
  required int64  sequence_number = 5;
}
message CheckpointResponse {}

message ReadRecordsRequest { required string tunnel_id = 1; required string client_id = 2; required string channel_id = 3; required string token = 4; }
message Record { required ActionType action_type = 1; required bytes record = 2; optional bytes origin_record = 3; }
message ReadRecordsResponse { repeated Record records = 1; required string next_token = 2; optional bool may_more_record = 3; }

message Token          { required int64 version = 1; required bytes content = 2; }
message TokenContent   { optional bytes primary_key = 1; optional string iterator = 2; optional int64 timestamp = 3; }
message TokenContentV2 { optional bytes primary_key = 1; optional string iterator = 2; optional int64 timestamp = 3; optional int64 total_count = 4; }

message ScheduleRequest  { required string tunnel_id = 1; repeated Channel channels = 3; }
message ScheduleResponse {}

enum PrimaryKeyType { INTEGER = 1; STRING = 2; BINARY = 3; }
message PrimaryKeySchema { required string name = 1; required PrimaryKeyType type = 2; }
message TableMeta { required string table_name = 1; repeated PrimaryKeySchema primary_key = 2; }
message StreamDetails { required bool enable_stream = 1; optional string stream_id = 2; optional int32 expiration_time = 3; optional int64 last_enable_time = 4; }
message DescribeTableRequest  { required string table_name = 1; }
message DescribeTableResponse { required TableMeta table_meta = 1; optional StreamDetails stream_details = 5; }
`;

/**
 * protobufjs, Long and the parsed definitions, made by the first message that needs them: ReadRecords (a worker
 * thread's only RPC) has its direct codec, so a worker never loads them (~25 ms of its start-up).
 */
interface Protobuf {
  protobuf: typeof protobufTypes;
  Long: typeof LongType;
  root: protobufTypes.Root;
}
let loaded: Protobuf | null = null;
function pb(): Protobuf {
  if (loaded === null) {
    const require = createRequire(import.meta.url);
    const protobuf = require('protobufjs') as typeof protobufTypes;
    loaded = { protobuf, Long: require('long') as typeof LongType, root: protobuf.parse(TUNNEL_PROTO, { keepCase: true }).root };
  }
  return loaded;
}

// ---- TypeScript shapes (field names as on the wire; 64-bit integers as bigint) ----

export enum TunnelType {
  BaseData = 1,
  Stream = 2,
  BaseAndStream = 3,
}
export enum ChannelStatus {
  OPEN = 1,
  CLOSING = 2,
  CLOSE = 3,
  TERMINATED = 4,
}
export enum StartOffsetFlag {
  LATEST = 0,
  EARLIEST = 1,
}

export interface ErrorMsg {
  code: string;
  message?: string;
  tunnel_id?: string;
}
export interface StreamTunnelConfig {
  flag?: StartOffsetFlag;
  startOffset?: bigint;
  endOffset?: bigint;
}
export interface TunnelMsg {
  table_name: string;
  tunnel_name: string;
  tunnel_type: TunnelType;
  stream_tunnel_config?: StreamTunnelConfig;
  need_all_time_series_columns?: boolean;
}
export interface CreateTunnelRequest {
  tunnel: TunnelMsg;
}
export interface CreateTunnelResponse {
  tunnel_id: string;
}
export interface DeleteTunnelRequest {
  table_name: string;
  tunnel_name: string;
  tunnel_id?: string;
}
export type DeleteTunnelResponse = Record<string, never>;
export interface ListTunnelRequest {
  table_name?: string;
}
export interface TunnelInfo {
  tunnel_id: string;
  tunnel_type: string;
  table_name: string;
  instance_name: string;
  stream_id: string;
  stage: string;
  expired?: boolean;
  tunnel_name?: string;
  public?: boolean;
  stream_tunnel_config?: StreamTunnelConfig;
  create_time?: bigint;
}
export interface ListTunnelResponse {
  tunnels: TunnelInfo[];
}
export interface DescribeTunnelRequest {
  table_name: string;
  tunnel_name: string;
  tunnel_id?: string;
}
export interface ChannelInfo {
  channel_id: string;
  channel_type?: string;
  channel_status?: string;
  client_id?: string;
  channel_rpo?: bigint;
  channel_count?: bigint;
}
export interface DescribeTunnelResponse {
  tunnel: TunnelInfo;
  channels: ChannelInfo[];
  tunnel_rpo?: bigint;
}
export interface GetRpoRequest {
  tunnel_id?: string;
  limit?: number;
}
export interface GetRpoResponse {
  rpo_infos?: Uint8Array;
  tunnel_rpo_infos?: Uint8Array;
  tunnel_id?: string;
}
export interface ClientConfig {
  timeout?: bigint;
  client_tag?: string;
}
export interface ConnectRequest {
  tunnel_id: string;
  client_config?: ClientConfig;
}
export interface ConnectResponse {
  client_id: string;
}
export interface ChannelMsg {
  channel_id: string;
  version: bigint;
  status: ChannelStatus;
  detail?: Uint8Array;
}
export interface HeartbeatRequest {
  tunnel_id: string;
  client_id: string;
  channels: ChannelMsg[];
}
export interface HeartbeatResponse {
  channels: ChannelMsg[];
}
export interface ShutdownRequest {
  tunnel_id: string;
  client_id: string;
}
export type ShutdownResponse = Record<string, never>;
export interface GetCheckpointRequest {
  tunnel_id: string;
  client_id: string;
  channel_id: string;
}
export interface GetCheckpointResponse {
  checkpoint: string;
  sequence_number: bigint;
}
export interface CheckpointRequest {
  tunnel_id: string;
  client_id: string;
  channel_id: string;
  checkpoint: string;
  sequence_number: bigint;
}
export type CheckpointResponse = Record<string, never>;
export interface ReadRecordsRequest {
  tunnel_id: string;
  client_id: string;
  channel_id: string;
  token: string;
}
export interface TokenMsg {
  version: bigint;
  content: Uint8Array;
}
export interface TokenContentV2 {
  primary_key?: Uint8Array;
  iterator?: string;
  timestamp?: bigint;
  total_count?: bigint;
}
export interface ScheduleRequest {
  tunnel_id: string;
  channels: ChannelMsg[];
}
export type ScheduleResponse = Record<string, never>;
export interface DescribeTableRequest {
  table_name: string;
}
/** PrimaryKeyType: 1 INTEGER, 2 STRING, 3 BINARY. */
export interface PrimaryKeySchemaMsg {
  name: string;
  type: number;
}
export interface StreamDetailsMsg {
  enable_stream: boolean;
  stream_id?: string;
  /** Hours the stream keeps a change. */
  expiration_time?: number;
  last_enable_time?: bigint;
}
export interface DescribeTableResponse {
  table_meta: { table_name: string; primary_key: PrimaryKeySchemaMsg[] };
  stream_details?: StreamDetailsMsg;
}

/** Message name → TS shape, so that encode/decode are typed by name. */
export interface Messages {
  Error: ErrorMsg;
  CreateTunnelRequest: CreateTunnelRequest;
  CreateTunnelResponse: CreateTunnelResponse;
  DeleteTunnelRequest: DeleteTunnelRequest;
  DeleteTunnelResponse: DeleteTunnelResponse;
  ListTunnelRequest: ListTunnelRequest;
  ListTunnelResponse: ListTunnelResponse;
  DescribeTunnelRequest: DescribeTunnelRequest;
  DescribeTunnelResponse: DescribeTunnelResponse;
  GetRpoRequest: GetRpoRequest;
  GetRpoResponse: GetRpoResponse;
  ConnectRequest: ConnectRequest;
  ConnectResponse: ConnectResponse;
  HeartbeatRequest: HeartbeatRequest;
  HeartbeatResponse: HeartbeatResponse;
  ShutdownRequest: ShutdownRequest;
  ShutdownResponse: ShutdownResponse;
  GetCheckpointRequest: GetCheckpointRequest;
  GetCheckpointResponse: GetCheckpointResponse;
  CheckpointRequest: CheckpointRequest;
  CheckpointResponse: CheckpointResponse;
  ReadRecordsRequest: ReadRecordsRequest;
  ReadRecordsResponse: ReadRecordsResponse;
  Token: TokenMsg;
  TokenContentV2: TokenContentV2;
  ScheduleRequest: ScheduleRequest;
  ScheduleResponse: ScheduleResponse;
  DescribeTableRequest: DescribeTableRequest;
  DescribeTableResponse: DescribeTableResponse;
}
export type MessageName = keyof Messages;

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function toWire(type: protobufTypes.Type, value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const v = value[field.name];
    if (v === undefined || v === null) continue;
    out[field.name] = field.repeated ? (v as unknown[]).map((x) => convertOut(field, x)) : convertOut(field, v);
  }
  return out;
}

function convertOut(field: protobufTypes.Field, v: unknown): unknown {
  if (LONG_TYPES.has(field.type)) {
    const big = typeof v === 'bigint' ? v : BigInt(v as number | string);
    return pb().Long.fromString(big.toString(), field.type === 'uint64' || field.type === 'fixed64');
  }
  if (field.resolvedType instanceof pb().protobuf.Type) return toWire(field.resolvedType, v as Record<string, unknown>);
  return v;
}

function fromWire(type: protobufTypes.Type, msg: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const present = field.repeated ? true : Object.prototype.hasOwnProperty.call(msg, field.name);
    const v = msg[field.name];
    if (field.repeated) {
      out[field.name] = ((v as unknown[] | undefined) ?? []).map((x) => convertIn(field, x));
    } else if (present && v !== undefined && v !== null) {
      out[field.name] = convertIn(field, v);
    }
  }
  return out;
}

function convertIn(field: protobufTypes.Field, v: unknown): unknown {
  if (LONG_TYPES.has(field.type)) {
    if (typeof v === 'number') return BigInt(v);
    return BigInt((v as { toString(): string }).toString());
  }
  if (field.resolvedType instanceof pb().protobuf.Type) return fromWire(field.resolvedType, v as Record<string, unknown>);
  if (field.type === 'bytes') return v instanceof Uint8Array ? v : new Uint8Array(v as ArrayLike<number>);
  return v;
}

const typeCache = new Map<string, protobufTypes.Type>();
function lookup(name: string): protobufTypes.Type {
  let t = typeCache.get(name);
  if (!t) {
    t = pb().root.lookupType(name);
    typeCache.set(name, t);
  }
  return t;
}

export function encodeMessage<N extends MessageName>(name: N, value: Messages[N]): Uint8Array {
  // The data-carrying message skips the per-record object copies; same bytes (read-records-wire.ts).
  if (name === 'ReadRecordsResponse') {
    const fast = encodeReadRecordsResponse(value as ReadRecordsResponse);
    if (fast !== null) return fast;
  } else if (name === 'ReadRecordsRequest') {
    const fast = encodeReadRecordsRequest(value as ReadRecordsRequest);
    if (fast !== null) return fast;
  }
  return encodeMessageGeneric(name, value);
}

/** encodeMessage through protobufjs for every message (no fast path): the reference the fast path is tested against. */
export function encodeMessageGeneric<N extends MessageName>(name: N, value: Messages[N]): Uint8Array {
  const type = lookup(name);
  const wire = toWire(type, value as unknown as Record<string, unknown>);
  const missing = type.fieldsArray.find((f) => f.required && wire[f.name] === undefined);
  if (missing) {
    throw new OtslakeError('OTSL_TUNNEL_PROTOCOL', `${name}.${missing.name} is required`, { context: { rpc: name } });
  }
  return type.encode(type.fromObject(wire)).finish();
}

/** Decodes a message; a missing proto2 required field or malformed bytes is OTSL_TUNNEL_PROTOCOL. */
export function decodeMessage<N extends MessageName>(name: N, bytes: Uint8Array): Messages[N] {
  if (name === 'ReadRecordsResponse') {
    const fast = decodeReadRecordsResponse(bytes);
    if (fast !== null) return fast as Messages[N];
  }
  return decodeMessageGeneric(name, bytes);
}

/** decodeMessage through protobufjs for every message (no fast path): the reference the fast path is tested against. */
export function decodeMessageGeneric<N extends MessageName>(name: N, bytes: Uint8Array): Messages[N] {
  const type = lookup(name);
  try {
    const msg = type.decode(bytes) as unknown as Record<string, unknown>;
    return fromWire(type, msg) as unknown as Messages[N];
  } catch (err) {
    throw new OtslakeError('OTSL_TUNNEL_PROTOCOL', `cannot decode ${name}: ${(err as Error).message}`, {
      cause: err,
      context: { rpc: name },
    });
  }
}

export const FINISHED_TOKEN = 'finished';

/** Channel status strings used by DescribeTunnel (WAIT exists only there). */
export type ChannelStatusString = 'WAIT' | 'OPEN' | 'CLOSING' | 'CLOSE' | 'TERMINATED';
export type TunnelStage = 'InitBaseDataAndStreamShard' | 'ProcessBaseData' | 'ProcessStream';
