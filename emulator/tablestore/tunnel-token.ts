/**
 * The emulator's ReadRecords tokens: base64(Token{version 2, TokenContentV2}) as the protocol
 * requires (docs/tunnel-protocol.md §Tokens), so that clients can tell stream from base by a non-empty `iterator`.
 *
 * Our encodings of the opaque parts (documented in docs/emulator.md):
 * - stream: iterator = `<logIndex>:<channelId>`; the channel id lets us reject a token replayed
 *   on another channel. timestamp = sequence timestamp (µs) of the last record consumed, 0 before
 *   the first; total_count = records consumed on the channel so far.
 * - base: primary_key = UTF-8 JSON of the last primary key returned, `[[name, "I"|"S"|"B", value]]`
 *   (integer as decimal string, binary as base64), `[]` before the first row; iterator unset.
 */
import { decodeMessage, encodeMessage, FINISHED_TOKEN } from '../../tunnel/proto.js';
import type { PkCell, PkValue } from './model.js';
import { RpcError } from './rpc.js';

export interface StreamPosition {
  kind: 'stream';
  channelId: string;
  index: number;
  timestampUs: bigint;
  totalCount: number;
}

export interface BasePosition {
  kind: 'base';
  lastPk: PkCell[] | null;
  totalCount: number;
}

export type TokenPosition = StreamPosition | BasePosition;

export function encodeToken(position: TokenPosition): string {
  const content =
    position.kind === 'stream'
      ? encodeMessage('TokenContentV2', {
          iterator: `${position.index}:${position.channelId}`,
          timestamp: position.timestampUs,
          total_count: BigInt(position.totalCount),
        })
      : encodeMessage('TokenContentV2', {
          primary_key: new TextEncoder().encode(JSON.stringify((position.lastPk ?? []).map(pkToJson))),
          total_count: BigInt(position.totalCount),
        });
  return Buffer.from(encodeMessage('Token', { version: 2n, content })).toString('base64');
}

/** Decodes a token; anything that is not one of ours is OTSParameterInvalid. */
export function decodeToken(token: string): TokenPosition {
  if (token === FINISHED_TOKEN) throw invalidToken('the token "finished" has no position');
  try {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) throw new Error('not base64');
    const outer = decodeMessage('Token', Buffer.from(token, 'base64'));
    if (outer.version !== 2n) throw new Error(`token version ${outer.version}`);
    const content = decodeMessage('TokenContentV2', outer.content);
    const totalCount = Number(content.total_count ?? 0n);
    if (content.iterator !== undefined && content.iterator !== '') {
      const colon = content.iterator.indexOf(':');
      const index = Number(content.iterator.slice(0, colon));
      if (colon <= 0 || !Number.isSafeInteger(index) || index < 0) throw new Error('bad iterator');
      return { kind: 'stream', channelId: content.iterator.slice(colon + 1), index, timestampUs: content.timestamp ?? 0n, totalCount };
    }
    if (content.primary_key === undefined) throw new Error('neither iterator nor primary_key');
    const cells = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(content.primary_key)) as unknown;
    if (!Array.isArray(cells)) throw new Error('primary_key is not a list');
    const lastPk = cells.map(pkFromJson);
    return { kind: 'base', lastPk: lastPk.length === 0 ? null : lastPk, totalCount };
  } catch (err) {
    if (err instanceof RpcError) throw err;
    throw invalidToken(`the token does not decode: ${(err as Error).message}`);
  }
}

function invalidToken(message: string): RpcError {
  return new RpcError(400, 'OTSParameterInvalid', message);
}

type PkJson = [string, 'I' | 'S' | 'B', string];

function pkToJson(cell: PkCell): PkJson {
  const v = cell.value;
  if (v.type === 'INTEGER') return [cell.name, 'I', v.value.toString()];
  if (v.type === 'STRING') return [cell.name, 'S', v.value];
  return [cell.name, 'B', Buffer.from(v.value).toString('base64')];
}

function pkFromJson(raw: unknown): PkCell {
  if (!Array.isArray(raw) || raw.length !== 3 || typeof raw[0] !== 'string' || typeof raw[2] !== 'string') {
    throw new Error('bad primary key cell');
  }
  const [name, type, text] = raw as [string, unknown, string];
  let value: PkValue;
  if (type === 'I') value = { type: 'INTEGER', value: BigInt(text) };
  else if (type === 'S') value = { type: 'STRING', value: text };
  else if (type === 'B') value = { type: 'BINARY', value: new Uint8Array(Buffer.from(text, 'base64')) };
  else throw new Error(`bad primary key type ${String(type)}`);
  return { name, value };
}
