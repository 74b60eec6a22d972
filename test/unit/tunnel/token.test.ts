import { describe, expect, it } from 'vitest';
import { OtslakeError } from '../../../common/errors.js';
import { encodeMessage } from '../../../tunnel/proto.js';
import { encodeToken, FINISHED_TOKEN, isFinishedToken, isStreamToken, parseToken } from '../../../tunnel/token.js';

// Constructed examples of docs/tunnel-protocol.md §Tokens.
const STREAM_TOKEN = 'CAISHBIPSVRFUkFUT1JfT1BBUVVFGICA+cDBxIIDIAA=';
const BASE_TOKEN = 'CAISCgoIUEtfQllURVM=';

describe('tunnel tokens', () => {
  it('parses the documented stream and base tokens', () => {
    const stream = parseToken(STREAM_TOKEN);
    expect(stream.version).toBe(2);
    expect(stream.content).toMatchObject({ iterator: 'ITERATOR_OPAQUE', timestamp: 1700000000000000n, total_count: 0n });
    const base = parseToken(BASE_TOKEN);
    expect(Buffer.from(base.content.primary_key!).toString()).toBe('PK_BYTES');
    expect(base.content.iterator).toBeUndefined();
    expect(isStreamToken(STREAM_TOKEN)).toBe(true);
    expect(isStreamToken(BASE_TOKEN)).toBe(false);
  });

  it('encodes byte-exactly what the document shows', () => {
    expect(encodeToken({ iterator: 'ITERATOR_OPAQUE', timestamp: 1700000000000000n, total_count: 0n })).toBe(STREAM_TOKEN);
    expect(encodeToken({ primary_key: new TextEncoder().encode('PK_BYTES') })).toBe(BASE_TOKEN);
  });

  it('reads version-1 tokens and treats an empty iterator as base', () => {
    const v1 = encodeToken({ iterator: 'it' }, 1);
    expect(parseToken(v1).version).toBe(1);
    expect(isStreamToken(v1)).toBe(true);
    expect(isStreamToken(encodeToken({ iterator: '' }))).toBe(false);
  });

  it('knows the finished marker', () => {
    expect(FINISHED_TOKEN).toBe('finished');
    expect(isFinishedToken('finished')).toBe(true);
    expect(isFinishedToken(STREAM_TOKEN)).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['not base64', 'abc$'],
    ['finished marker', 'finished'],
    ['garbage bytes', Buffer.from([0xff, 0xff, 0xff]).toString('base64')],
    [
      'missing content',
      Buffer.from(encodeMessage('Token', { version: 2n, content: new Uint8Array() }))
        .toString('base64')
        .slice(0, 4),
    ],
    ['unknown version', Buffer.from(encodeMessage('Token', { version: 3n, content: new Uint8Array() })).toString('base64')],
    ['bad content', Buffer.from(encodeMessage('Token', { version: 2n, content: new Uint8Array([0x0a, 0x09, 1]) })).toString('base64')],
  ])('rejects %s with OTSL_DECODE_TOKEN', (_name, token) => {
    let caught: unknown;
    try {
      parseToken(token);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OtslakeError);
    expect(caught).toMatchObject({ code: 'OTSL_DECODE_TOKEN' });
    expect(() => isStreamToken(token)).toThrow(OtslakeError);
  });
});
