/**
 * One contract suite over every ObjectStore: LocalStore on a real temp directory, and OssStore
 * against the OSS emulator in both addressing styles. Then OSS-only behaviour: retries through
 * injected faults, the "retry after an unseen success" case, and multipart uploads.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serializeError } from '../../common/errors.js';
import type { OssEmulator } from '../../emulator/oss/server.js';
import { LocalStore, TEMP_PREFIX } from '../../lake/local-store.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { OssStore } from '../../lake/oss-store.js';
import { openStore, parseStoreUri } from '../../lake/store.js';
import { ADDRESSING_STYLES, TEST_CREDENTIALS, openTestOssStore, startTestOss, waitForRequest, type Addressing } from '../helpers/oss.js';
import { createTmpDir, type TmpDir } from '../helpers/tmp-dir.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function* chunksOf(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield bytes(p);
}

let emulator: OssEmulator;
beforeAll(async () => {
  emulator = await startTestOss();
});
afterAll(async () => {
  await emulator.close();
});

interface Backend {
  name: string;
  open(): Promise<{ store: ObjectStore; cleanup(): Promise<void> }>;
}

let ossRun = 0;
const ossBackend = (addressing: Addressing): Backend => ({
  name: `OssStore (${addressing})`,
  async open() {
    // A fresh prefix per test keeps tests independent on one emulator.
    ossRun += 1;
    const store = openTestOssStore(emulator, addressing, { prefix: `contract-${addressing}-${ossRun}`, listPageSize: 7 });
    return { store, cleanup: async () => store.close() };
  },
});

const BACKENDS: Backend[] = [
  {
    name: 'LocalStore',
    async open() {
      const dir = await createTmpDir();
      return { store: new LocalStore(join(dir.path, 'lake')), cleanup: dir.cleanup };
    },
  },
  ...ADDRESSING_STYLES.map(ossBackend),
];

describe.each(BACKENDS)('ObjectStore contract: $name', (backend) => {
  let store: ObjectStore;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterEach(async () => {
    await cleanup();
  });

  it('puts, gets and heads objects; missing ones are NOT_FOUND / null', async () => {
    const meta = await store.put('_delta_log/00000000000000000000.json', bytes('{"commitInfo":{}}\n'));
    expect(meta).toMatchObject({ key: '_delta_log/00000000000000000000.json', size: 18 });
    expect(text(await store.get('_delta_log/00000000000000000000.json'))).toBe('{"commitInfo":{}}\n');
    expect(await store.head('_delta_log/00000000000000000000.json')).toMatchObject({ size: 18 });
    expect(Math.abs((await store.head('_delta_log/00000000000000000000.json'))!.lastModified - Date.now())).toBeLessThan(60_000);
    await expect(store.get('_delta_log/missing.json')).rejects.toMatchObject({ code: 'OTSL_LAKE_NOT_FOUND', context: { key: '_delta_log/missing.json' } });
    expect(await store.head('_delta_log/missing.json')).toBeNull();
  });

  it('overwrites without ifAbsent, accepts streamed bodies and empty objects', async () => {
    await store.put('data/a.parquet', bytes('first'));
    await store.put('data/a.parquet', chunksOf('sec', 'ond', '!'));
    expect(text(await store.get('data/a.parquet'))).toBe('second!');
    await store.put('data/empty', new Uint8Array(0));
    expect(await store.head('data/empty')).toMatchObject({ size: 0 });
    expect((await store.get('data/empty')).length).toBe(0);
  });

  it('serves byte ranges: inclusive, open-ended, clamped; a start past the end is RANGE_INVALID', async () => {
    await store.put('r.bin', bytes('0123456789'));
    expect(text(await store.get('r.bin', { range: { start: 2, end: 4 } }))).toBe('234');
    expect(text(await store.get('r.bin', { range: { start: 7 } }))).toBe('789');
    expect(text(await store.get('r.bin', { range: { start: 8, end: 100 } }))).toBe('89');
    expect(text(await store.get('r.bin', { range: { start: 9, end: 9 } }))).toBe('9');
    await expect(store.get('r.bin', { range: { start: 10 } })).rejects.toMatchObject({ code: 'OTSL_LAKE_RANGE_INVALID' });
    await expect(store.get('r.bin', { range: { start: 5, end: 2 } })).rejects.toMatchObject({ code: 'OTSL_LAKE_RANGE_INVALID' });
    await expect(store.get('r.bin', { range: { start: -1 } })).rejects.toMatchObject({ code: 'OTSL_LAKE_RANGE_INVALID' });
  });

  it('put-if-absent creates once, then reports ALREADY_EXISTS and leaves the object alone', async () => {
    await store.put('_delta_log/00000000000000000001.json', bytes('winner'), { ifAbsent: true });
    await expect(store.put('_delta_log/00000000000000000001.json', bytes('loser'), { ifAbsent: true })).rejects.toMatchObject({
      code: 'OTSL_LAKE_ALREADY_EXISTS',
      retriable: false,
      context: { key: '_delta_log/00000000000000000001.json', uri: store.uri },
    });
    expect(text(await store.get('_delta_log/00000000000000000001.json'))).toBe('winner');
  });

  it('lets exactly one of 12 concurrent put-if-absent racers win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => store.put('_delta_log/00000000000000000002.json', bytes(`writer-${i}`), { ifAbsent: true })),
    );
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(winners).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'OTSL_LAKE_ALREADY_EXISTS' });
    expect(text(await store.get('_delta_log/00000000000000000002.json'))).toBe(`writer-${winners[0]}`);
  });

  it('lists recursively, sorted, by partial-name prefix, with startAfter and limit across pages', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `_delta_log/${String(i).padStart(20, '0')}.json`);
    const shuffled = [...keys].sort(() => Math.random() - 0.5);
    await Promise.all(shuffled.map((k) => store.put(k, bytes(k))));
    await store.put('_delta_log/_last_checkpoint', bytes('{}'));
    await store.put('part-0/a.parquet', bytes('aa'));
    await store.put('part-0/sub/b.parquet', bytes('bbb'));
    await store.put('part-00/c.parquet', bytes('c'));

    const log = await store.list('_delta_log/');
    expect(log.map((m) => m.key)).toEqual([...keys, '_delta_log/_last_checkpoint']);
    expect(log[0]).toMatchObject({ size: keys[0]!.length });
    expect((await store.list('_delta_log/0000000000000000001')).map((m) => m.key)).toEqual(keys.slice(10, 20));
    expect((await store.list('_delta_log/', { startAfter: keys[20]! })).map((m) => m.key)).toEqual([...keys.slice(21), '_delta_log/_last_checkpoint']);
    expect((await store.list('_delta_log/', { startAfter: keys[2]!, limit: 9 })).map((m) => m.key)).toEqual(keys.slice(3, 12));
    expect((await store.list('part-0/')).map((m) => m.key)).toEqual(['part-0/a.parquet', 'part-0/sub/b.parquet']);
    expect((await store.list('part-0')).map((m) => m.key)).toEqual(['part-0/a.parquet', 'part-0/sub/b.parquet', 'part-00/c.parquet']);
    expect((await store.list('')).length).toBe(29);
    expect(await store.list('nothing/')).toEqual([]);
  });

  it('deletes; deleting a missing object is not an error', async () => {
    await store.put('tmp/x', bytes('x'));
    await store.delete('tmp/x');
    expect(await store.head('tmp/x')).toBeNull();
    await store.delete('tmp/x');
    await store.delete('never/there');
  });

  it('child(prefix) is a store rooted below, sharing objects with its parent', async () => {
    const orders = store.child('tables/orders/');
    expect(orders.uri).toBe(`${store.uri}/tables/orders`);
    await orders.put('_delta_log/00000000000000000000.json', bytes('v0'));
    await store.put('tables/orders-archive/x', bytes('not a child key'));
    expect(text(await store.get('tables/orders/_delta_log/00000000000000000000.json'))).toBe('v0');
    expect((await orders.list('')).map((m) => m.key)).toEqual(['_delta_log/00000000000000000000.json']);
    expect((await orders.child('_delta_log').list('')).map((m) => m.key)).toEqual(['00000000000000000000.json']);
  });

  it('rejects keys that could escape the root with KEY_INVALID', async () => {
    for (const key of ['', '/etc/passwd', '../outside', 'a/../../b', 'a//b', 'a/./b', 'dir/']) {
      await expect(store.put(key, bytes('x'))).rejects.toMatchObject({ code: 'OTSL_LAKE_KEY_INVALID' });
    }
    await expect(store.get('../x')).rejects.toMatchObject({ code: 'OTSL_LAKE_KEY_INVALID' });
    await expect(store.list('../')).rejects.toMatchObject({ code: 'OTSL_LAKE_KEY_INVALID' });
    expect(() => store.child('../up')).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_KEY_INVALID' }));
  });

  it('stops at once when its AbortSignal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(store.put('a', bytes('a'), { signal: controller.signal })).rejects.toMatchObject({ code: 'OTSL_ABORTED' });
    expect(await store.head('a')).toBeNull();
  });
});

describe('LocalStore specifics', () => {
  let dir: TmpDir;
  beforeEach(async () => {
    dir = await createTmpDir();
  });
  afterEach(async () => {
    await dir.cleanup();
  });

  it('leaves no temp files behind, also after a lost put-if-absent, and never lists them', async () => {
    const store = new LocalStore(dir.path);
    await store.put('_delta_log/00000000000000000000.json', bytes('a'), { ifAbsent: true });
    await expect(store.put('_delta_log/00000000000000000000.json', bytes('b'), { ifAbsent: true })).rejects.toMatchObject({ code: 'OTSL_LAKE_ALREADY_EXISTS' });
    await store.put('_delta_log/00000000000000000000.json.bak', bytes('c'));
    expect(await readdir(join(dir.path, '_delta_log'))).toEqual(['00000000000000000000.json', '00000000000000000000.json.bak']);
    // A temp file left by a crash is invisible to list.
    await store.put('_delta_log/x', bytes('x'));
    await writeFile(join(dir.path, '_delta_log', `${TEMP_PREFIX}crashed`), 'partial');
    expect((await store.list('_delta_log/')).map((m) => m.key)).toEqual([
      '_delta_log/00000000000000000000.json',
      '_delta_log/00000000000000000000.json.bak',
      '_delta_log/x',
    ]);
  });

  it('reports filesystem failures as OTSL_LAKE_IO with the file', async () => {
    const store = new LocalStore(dir.path);
    await store.put('file', bytes('x'));
    await expect(store.put('file/child', bytes('y'))).rejects.toMatchObject({
      code: 'OTSL_LAKE_IO',
      context: { key: 'file/child', file: join(dir.path, 'file/child') },
    });
  });

  it('is opened from file:// URIs; bad URIs are URI_INVALID', async () => {
    const store = openStore(`file://${dir.path}/my%20lake`);
    expect(store).toBeInstanceOf(LocalStore);
    await store.put('k', bytes('v'));
    expect(await readdir(join(dir.path, 'my lake'))).toEqual(['k']);
    expect(parseStoreUri('oss://bkt-1/a/b/')).toEqual({ scheme: 'oss', bucket: 'bkt-1', prefix: 'a/b' });
    for (const bad of ['relative/path', 'file://host/x', 's3://b/p', 'oss://Bad_Bucket/x', 'oss://bkt/../x']) {
      expect(() => openStore(bad)).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_URI_INVALID' }));
    }
    expect(() => openStore('oss://bkt/x')).toThrow(expect.objectContaining({ code: 'OTSL_CONFIG_INVALID' }));
  });
});

describe.each(ADDRESSING_STYLES)('OssStore against faults (%s)', (addressing) => {
  let store: OssStore;
  let run = 0;
  beforeEach(() => {
    emulator.reset();
    run += 1;
    store = openTestOssStore(emulator, addressing, { prefix: `faults-${addressing}-${run}` });
  });
  afterEach(async () => {
    emulator.reset();
    await store.close();
  });
  const attempts = (op: string) => emulator.requests.filter((r) => r.op === op).length;

  it('retries 503 and 500 answers until the put lands', async () => {
    emulator.faults.inject({ kind: 'error', op: 'PutObject', status: 503, times: 2 }, { kind: 'error', op: 'PutObject', status: 500 });
    await store.put('k', bytes('v'), { ifAbsent: true });
    expect(attempts('PutObject')).toBe(4);
    expect(text(await store.get('k'))).toBe('v');
  });

  it('reports success, not a conflict, when a retry follows an unseen successful put-if-absent', async () => {
    emulator.faults.inject({ kind: 'drop-after', op: 'PutObject' });
    const meta = await store.put('_delta_log/00000000000000000005.json', bytes('mine'), { ifAbsent: true });
    expect(meta).toMatchObject({ key: '_delta_log/00000000000000000005.json', size: 4 });
    expect(emulator.requests.filter((r) => r.op === 'PutObject').map((r) => r.status)).toEqual([0, 409]);
    expect(emulator.faults.fired['drop-after']).toBe(1);
    expect(text(await store.get('_delta_log/00000000000000000005.json'))).toBe('mine');
  });

  it("still reports a real conflict when a retried put-if-absent meets another writer's object", async () => {
    await store.put('_delta_log/00000000000000000006.json', bytes('theirs'), { ifAbsent: true });
    emulator.faults.inject({ kind: 'drop-before', op: 'PutObject' });
    await expect(store.put('_delta_log/00000000000000000006.json', bytes('mine'), { ifAbsent: true })).rejects.toMatchObject({
      code: 'OTSL_LAKE_ALREADY_EXISTS',
      context: { attempts: 2 },
    });
    expect(text(await store.get('_delta_log/00000000000000000006.json'))).toBe('theirs');
  });

  it('treats a timed-out put-if-absent whose write landed late as our success', async () => {
    const slow = openTestOssStore(emulator, addressing, { prefix: `faults-${addressing}-${run}`, requestTimeoutMs: 150 });
    emulator.faults.inject({ kind: 'delay', op: 'PutObject', delayMs: 400 });
    // The delayed first attempt is answered (into a closed connection) only after the retry: wait for it.
    const delayedAnswer = waitForRequest(emulator, (r) => r.op === 'PutObject' && r.fault === 'delay');
    try {
      await slow.put('late', bytes('mine'), { ifAbsent: true });
    } finally {
      await slow.close();
    }
    expect((await delayedAnswer).status).toBe(409);
    expect(text(await store.get('late'))).toBe('mine');
    expect(emulator.faults.fired.delay).toBe(1);
  });

  it('retries dropped connections and timeouts on reads and listings with correct answers', async () => {
    await Promise.all(['a', 'b', 'c'].map((k) => store.put(`dir/${k}`, bytes(k.repeat(3)))));
    emulator.faults.inject(
      { kind: 'drop-before', op: 'GetObject' },
      { kind: 'drop-after', op: 'GetObject' },
      { kind: 'drop-before', op: 'ListObjectsV2' },
      { kind: 'error', op: 'HeadObject', status: 503 },
    );
    expect(text(await store.get('dir/b', { range: { start: 1 } }))).toBe('bb');
    expect((await store.list('dir/')).map((m) => m.key)).toEqual(['dir/a', 'dir/b', 'dir/c']);
    expect(await store.head('dir/c')).toMatchObject({ size: 3 });
    expect(emulator.faults.fired).toMatchObject({ 'drop-before': 2, 'drop-after': 1, error: 1 });
  });

  it('gives up with OTSL_RETRIES_EXHAUSTED, and never retries a 4xx; errors hold no secrets', async () => {
    emulator.faults.inject({ kind: 'error', op: 'PutObject', status: 503, times: 100 });
    const exhausted = await store.put('k', bytes('v')).catch((e: unknown) => e);
    expect(exhausted).toMatchObject({ code: 'OTSL_RETRIES_EXHAUSTED', context: { key: 'k', status: 503, attempts: 8 } });
    emulator.faults.clear();
    emulator.requests.length = 0;
    emulator.faults.inject({ kind: 'error', op: 'GetObject', status: 403, code: 'AccessDenied' });
    const denied = await store.get('k').catch((e: unknown) => e);
    expect(denied).toMatchObject({ code: 'OTSL_LAKE_IO', retriable: false, context: { status: 403, ossCode: 'AccessDenied' } });
    expect(attempts('GetObject')).toBe(1);
    for (const err of [exhausted, denied]) expect(JSON.stringify(serializeError(err))).not.toContain(TEST_CREDENTIALS.accessKeySecret);
  });

  it('keeps exactly-one-winner semantics for racing writers under random faults', async () => {
    const chaos = openTestOssStore(emulator, addressing, { prefix: `faults-${addressing}-${run}`, retry: { maxAttempts: 20 } });
    emulator.faults.setRandom({ errorRate: 0.15, dropBeforeRate: 0.1, dropAfterRate: 0.15 });
    try {
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => chaos.put('race', bytes(`w${i}`), { ifAbsent: true })));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'OTSL_LAKE_ALREADY_EXISTS' });
      emulator.faults.clear();
      expect(text(await store.get('race'))).toBe(`w${winners[0]}`);
    } finally {
      await chaos.close();
    }
  });

  describe('multipart upload', () => {
    const big = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + (i >> 10)) & 0xff);
    const options = { multipartThresholdBytes: 300 * 1024, partSizeBytes: 128 * 1024, partConcurrency: 3 };

    it('uploads large bodies in parts (buffers and odd-sized streams) and reads them back intact', async () => {
      const mp = openTestOssStore(emulator, addressing, { prefix: `faults-${addressing}-${run}`, ...options });
      try {
        const data = big(1_000_000);
        emulator.faults.inject({ kind: 'error', op: 'UploadPart', status: 503 }, { kind: 'drop-before', op: 'UploadPart' });
        expect(await mp.put('big.parquet', data)).toMatchObject({ size: 1_000_000 });
        expect(Buffer.compare(Buffer.from(await mp.get('big.parquet')), Buffer.from(data))).toBe(0);
        expect(attempts('InitiateMultipartUpload')).toBe(1);
        expect(emulator.requests.filter((r) => r.op === 'UploadPart' && r.status === 200)).toHaveLength(8);
        async function* odd(): AsyncIterable<Uint8Array> {
          for (let off = 0; off < data.length; off += 77_777) yield data.subarray(off, off + 77_777);
        }
        await mp.put('streamed.parquet', odd(), { ifAbsent: true });
        expect(Buffer.compare(Buffer.from(await mp.get('streamed.parquet')), Buffer.from(data))).toBe(0);
        await mp.put('small', big(1000));
        expect(attempts('InitiateMultipartUpload')).toBe(2);
      } finally {
        await mp.close();
      }
    });

    it('honours put-if-absent at complete, including after an unseen successful complete', async () => {
      const mp = openTestOssStore(emulator, addressing, { prefix: `faults-${addressing}-${run}`, ...options });
      try {
        emulator.faults.inject({ kind: 'drop-after', op: 'CompleteMultipartUpload' });
        await mp.put('checkpoint.parquet', big(700_000), { ifAbsent: true });
        expect(emulator.faults.fired['drop-after']).toBe(1);
        await expect(mp.put('checkpoint.parquet', big(700_000), { ifAbsent: true })).rejects.toMatchObject({ code: 'OTSL_LAKE_ALREADY_EXISTS' });

        // Another writer lands the key after our upload started: complete must refuse to overwrite.
        const other = big(10);
        async function* racing(): AsyncIterable<Uint8Array> {
          yield big(400_000);
          await store.put('contested.parquet', other, { ifAbsent: true });
          yield big(400_000);
        }
        await expect(mp.put('contested.parquet', racing(), { ifAbsent: true })).rejects.toMatchObject({ code: 'OTSL_LAKE_ALREADY_EXISTS' });
        expect((await mp.get('contested.parquet')).length).toBe(10);
        expect(emulator.requests.filter((r) => r.op === 'CompleteMultipartUpload').map((r) => r.status)).toEqual([0, 404, 409]);
        expect(emulator.requests.filter((r) => r.op === 'AbortMultipartUpload').map((r) => r.status)).toEqual([204]);
      } finally {
        await mp.close();
      }
    });
  });
});

describe('OssStore listing beyond one ListObjectsV2 page', () => {
  it('returns all of 1,100 keys through 1000-key pages', async () => {
    const store = openTestOssStore(emulator, 'virtual-host', { prefix: 'many' });
    try {
      const keys = Array.from({ length: 1100 }, (_, i) => `k/${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, bytes('x'))));
      emulator.requests.length = 0;
      expect((await store.list('k/')).map((m) => m.key)).toEqual(keys);
      expect(emulator.requests.filter((r) => r.op === 'ListObjectsV2')).toHaveLength(2);
      expect((await store.list('k/', { startAfter: 'k/01049' })).map((m) => m.key)).toEqual(keys.slice(1050));
    } finally {
      await store.close();
    }
  });
});
