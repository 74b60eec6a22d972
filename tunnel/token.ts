/**
 * Tunnel tokens: `base64(Token{version, content})`, content being TokenContent (v1) or TokenContentV2 (v2)
 * (docs/tunnel-protocol.md §Tokens). Clients look inside only to tell stream from base: a stream token carries
 * a non-empty `iterator`. The token stays opaque everywhere else — we store and send the string as received.
 */
import { OtslakeError } from '../common/errors.js';
import { decodeMessage, encodeMessage, FINISHED_TOKEN, type TokenContentV2 } from './proto.js';

export { FINISHED_TOKEN };

export interface ParsedToken {
  version: 1 | 2;
  content: TokenContentV2;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function isFinishedToken(token: string): boolean {
  return token === FINISHED_TOKEN;
}

/** Parses a token; anything but base64(Token{version 1|2}) is OTSL_DECODE_TOKEN. */
export function parseToken(token: string): ParsedToken {
  if (token === FINISHED_TOKEN) throw badToken(token, `"${FINISHED_TOKEN}" is a marker, not a position`);
  if (token.length === 0 || token.length % 4 !== 0 || !BASE64.test(token)) throw badToken(token, 'not base64');
  const bytes = Buffer.from(token, 'base64');
  let version: bigint;
  let content: Uint8Array;
  try {
    ({ version, content } = decodeMessage('Token', bytes));
  } catch (err) {
    throw badToken(token, 'not a Token message', err);
  }
  if (version !== 1n && version !== 2n) throw badToken(token, `unknown token version ${version}`);
  try {
    // TokenContent (v1) is field-for-field a prefix of TokenContentV2, so one decoder reads both.
    return { version: version === 1n ? 1 : 2, content: decodeMessage('TokenContentV2', content) };
  } catch (err) {
    throw badToken(token, 'content is not a TokenContent message', err);
  }
}

export function encodeToken(content: TokenContentV2, version: 1 | 2 = 2): string {
  const inner = encodeMessage('TokenContentV2', version === 1 ? ({ ...content, total_count: undefined } as TokenContentV2) : content);
  return Buffer.from(encodeMessage('Token', { version: BigInt(version), content: inner })).toString('base64');
}

/** Stream ⇔ non-empty iterator. An unparseable token is an error here, not a guess (Java and Go guess differently). */
export function isStreamToken(token: string): boolean {
  const { content } = parseToken(token);
  return content.iterator !== undefined && content.iterator.length > 0;
}

function badToken(token: string, why: string, cause?: unknown): OtslakeError {
  // Tokens are positions, not secrets, but may be long: keep a prefix for the operator.
  return new OtslakeError('OTSL_DECODE_TOKEN', `bad tunnel token (${why})`, {
    ...(cause === undefined ? {} : { cause }),
    context: { token: token.length > 64 ? `${token.slice(0, 64)}…` : token },
  });
}
