/**
 * The transport's reused ReadRecords bodies under faults (tunnel/http.ts BodyPool): a response cut off
 * mid-body and retried, a timeout mid-body, an abort mid-body, a page larger than every pooled buffer,
 * a page released twice, pages held at once. Each page read must show exactly the bytes its response
 * carried, also after later responses landed in pooled buffers. A real HTTP server on 127.0.0.1.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasCode } from '../../common/errors.js';
import { ActionType, encodeMessage } from '../../tunnel/proto.js';
import type { RecordPage } from '../../tunnel/read-records-wire.js';
import { TunnelClient } from '../../tunnel/tunnel-client.js';

/** What the server does with a response's bytes: all of them (with an unknown trailing field: not the canonical form), or part and then cut / stall. */
type Answer = { kind: 'whole'; unknownField?: true } | { kind: 'cut'; after: number } | { kind: 'stall'; after: number };

/** Page `n`: one record of `size` bytes, every byte n (mod 256), and a token naming n. */
function pageBytes(n: number, size: number): Buffer {
  const record = Buffer.alloc(size, n & 0xff);
  return Buffer.from(encodeMessage('ReadRecordsResponse', { records: [{ action_type: ActionType.PUT_ROW, record }], next_token: `t${n}` }));
}

function content(page: RecordPage): { token: string; count: number; size: number; uniform: boolean; first: number } {
  const r = page.record(0).record;
  return { token: page.next_token, count: page.count, size: r.length, uniform: r.every((b) => b === r[0]), first: r[0]! };
}

describe('reused ReadRecords bodies under faults', () => {
  let server: http.Server;
  let client: TunnelClient;
  const stalled: http.ServerResponse[] = [];
  /** Resolved, first come first served, once a stalled response's first part is flushed to the socket. */
  const onStall: Array<() => void> = [];
  /** Per request in order: the page to answer and how. */
  let script: Array<{ n: number; size: number; answer: Answer }> = [];

  beforeEach(async () => {
    script = [];
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const step = script.shift();
        if (step === undefined) {
          res.writeHead(500).end();
          return;
        }
        let bytes = pageBytes(step.n, step.size);
        // Field 15, varint 1: a field the page decoder does not know, so the generic decoder reads the page.
        if (step.answer.kind === 'whole' && step.answer.unknownField) bytes = Buffer.concat([bytes, Buffer.from([0x78, 0x01])]);
        res.writeHead(200, { 'content-length': bytes.length });
        if (step.answer.kind === 'whole') {
          res.end(bytes);
          return;
        }
        if (step.answer.kind === 'cut') {
          res.write(bytes.subarray(0, step.answer.after));
          setImmediate(() => res.socket?.destroy());
        } else {
          stalled.push(res);
          res.write(bytes.subarray(0, step.answer.after), () => onStall.shift()?.());
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new TunnelClient({
      endpoint,
      instanceName: 'inst1',
      accessKeyId: 'AKID',
      accessKeySecret: 'secret-value',
      requestTimeoutMs: 300,
      retry: { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 },
    });
  });

  afterEach(async () => {
    client.close();
    for (const res of stalled.splice(0)) res.socket?.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const read = (signal?: AbortSignal) =>
    client.readRecordPage({ tunnel_id: 't', client_id: 'c', channel_id: 'ch', token: 'x' }, signal ? { signal } : undefined);
  const expected = (n: number, size: number) => ({ token: `t${n}`, count: 1, size, uniform: true, first: n & 0xff });

  /** Pages `a` and `b` read at once: distinct buffers, each page's exact bytes. */
  async function twoAtOnce(a: number, b: number, size: number): Promise<[RecordPage, RecordPage]> {
    script.push({ n: a, size, answer: { kind: 'whole' } }, { n: b, size, answer: { kind: 'whole' } });
    const [p, q] = await Promise.all([read(), read()]);
    expect(p.body.buffer === q.body.buffer).toBe(false);
    const got = [content(p), content(q)].sort((x, y) => x.first - y.first);
    expect(got).toEqual([expected(a, size), expected(b, size)]);
    return [p, q];
  }

  it('a response cut off mid-body, or stalled into a timeout, is retried into a page of its own; the pages around it stay intact', async () => {
    script.push({ n: 1, size: 40_000, answer: { kind: 'whole' } });
    const first = await read();
    expect(content(first)).toEqual(expected(1, 40_000));
    first.release();
    // Attempt one lands in the released buffer and is cut off; attempt two is whole.
    script.push({ n: 2, size: 40_000, answer: { kind: 'cut', after: 20_000 } }, { n: 2, size: 40_000, answer: { kind: 'whole' } });
    const second = await read();
    expect(content(second)).toEqual(expected(2, 40_000));
    // A stalled response times out (the socket is dropped) and is retried; the held page is not touched.
    script.push({ n: 3, size: 40_000, answer: { kind: 'stall', after: 30_000 } }, { n: 3, size: 40_000, answer: { kind: 'whole' } });
    const third = await read();
    expect(script).toEqual([]); // both retries happened
    expect(content(third)).toEqual(expected(3, 40_000));
    expect(content(second)).toEqual(expected(2, 40_000));
    expect(third.body.buffer === second.body.buffer).toBe(false);
    second.release();
    third.release();
    // Two more held at once, after the failed attempts: distinct buffers, exact bytes.
    await twoAtOnce(4, 5, 40_000);
  });

  it('an abort mid-body leaves no buffer behind that a later page shares', async () => {
    script.push({ n: 1, size: 30_000, answer: { kind: 'whole' } });
    const first = await read();
    first.release();
    script.push({ n: 2, size: 30_000, answer: { kind: 'stall', after: 10_000 } });
    const controller = new AbortController();
    const midBody = new Promise<void>((resolve) => onStall.push(resolve));
    const aborted = read(controller.signal);
    await midBody;
    controller.abort();
    const err = await aborted.catch((e: unknown) => e);
    expect(hasCode(err, 'OTSL_ABORTED')).toBe(true);
    script.push({ n: 3, size: 30_000, answer: { kind: 'whole' } }, { n: 4, size: 30_000, answer: { kind: 'whole' } });
    const p3 = await read();
    const p4 = await read();
    expect(p3.body.buffer === p4.body.buffer).toBe(false);
    expect(content(p3)).toEqual(expected(3, 30_000));
    expect(content(p4)).toEqual(expected(4, 30_000));
  });

  it('a page larger than every pooled buffer gets one of its own; a page released twice is handed out once', async () => {
    script.push({ n: 1, size: 20_000, answer: { kind: 'whole' } }, { n: 2, size: 600_000, answer: { kind: 'whole' } });
    const small = await read();
    small.release();
    const big = await read();
    expect(content(big)).toEqual(expected(2, 600_000));
    expect(big.body.buffer === small.body.buffer).toBe(false);
    big.release();
    big.release();
    // Both big enough for the big page's buffer: were it pooled twice, both would land in it.
    const [p3, p4] = await twoAtOnce(3, 4, 500_000);
    // A small page after the big one: exact, whichever buffer it gets.
    p3.release();
    p4.release();
    script.push({ n: 5, size: 1_000, answer: { kind: 'whole' } });
    expect(content(await read())).toEqual(expected(5, 1_000));
  });

  it('a page read by the generic decoder (not the canonical form) keeps its records when its body serves the next response', async () => {
    script.push({ n: 1, size: 50_000, answer: { kind: 'whole', unknownField: true } }, { n: 2, size: 50_000, answer: { kind: 'whole' } });
    const generic = await read();
    expect(content(generic)).toEqual(expected(1, 50_000));
    expect(generic.layout[1]).toBe(0); // its records copied into a body of their own (the canonical page's start past the tags)
    // Its response body went back to the pool as it was copied out: the next page lands in it.
    const next = await read();
    expect(next.layout[1]).toBeGreaterThan(0);
    expect(content(next)).toEqual(expected(2, 50_000));
    expect(content(generic)).toEqual(expected(1, 50_000));
    generic.release();
    next.release();
  });
});
