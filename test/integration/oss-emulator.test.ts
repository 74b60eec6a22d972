/**
 * The OSS emulator as clients see it: the official `ali-oss` SDK in both addressing styles, raw HTTP
 * for the protocol details (Range modes, Content-MD5, error headers, atomic conditional puts, faults),
 * S3 path-style requests and chdb's `deltaLakeS3` reading a Delta table, persistence under
 * --data-dir, and the `otslake oss-emulator` command.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOssEmulator, type OssEmulator } from '../../emulator/oss/server.js';
import OSS from 'ali-oss';
import { OssStore } from '../../lake/oss-store.js';
import { runChdb } from '../helpers/chdb.js';
import { ADDRESSING_STYLES, FAST_RETRY, aliOssClient, endpointFor, openTestOssStore, startTestOss } from '../helpers/oss.js';
import { createTmpDir, type TmpDir } from '../helpers/tmp-dir.js';
import { rejectionOf } from '../helpers/rejection.js';
import { DAT_TARBALL, optionalData } from '../helpers/conformance-data.js';

const ROOT = new URL('../../', import.meta.url).pathname;

interface AliError {
  name: string;
  code: string;
  status: number;
  requestId: string;
  ecCode?: string;
}

let emulator: OssEmulator;
beforeAll(async () => {
  emulator = await startTestOss('emu-test');
});
afterAll(async () => {
  await emulator.close();
});
afterEach(() => emulator.reset());

describe.each(ADDRESSING_STYLES)('ali-oss against the emulator (%s)', (style) => {
  const p = (key: string) => `${style}/${key}`;

  it('puts, gets, heads and deletes; a missing key is NoSuchKey with the real EC', async () => {
    const client = aliOssClient(emulator, style);
    const put = await client.put(p('dir/hello world+1.json'), Buffer.from('{"a":1}'), { headers: { 'x-oss-meta-writer': 'me' } });
    expect(put.res.status).toBe(200);
    expect((put.res.headers as Record<string, string>).etag).toMatch(/^"[0-9A-F]{32}"$/);
    expect((await client.get(p('dir/hello world+1.json'))).content.toString()).toBe('{"a":1}');
    const head = await client.head(p('dir/hello world+1.json'));
    expect(head.meta).toEqual({ writer: 'me' });
    expect(head.res.headers).toMatchObject({ 'content-length': '7', 'x-oss-object-type': 'Normal' });
    expect(await rejectionOf<AliError>(client.head(p('missing')))).toMatchObject({ name: 'NoSuchKeyError', status: 404 });
    const missing = await rejectionOf<AliError>(client.get(p('missing')));
    expect(missing).toMatchObject({ name: 'NoSuchKeyError', code: 'NoSuchKey', status: 404, ecCode: '0026-00000001' });
    expect(missing.requestId).toMatch(/^[0-9A-F]{24}$/);
    expect((await client.delete(p('dir/hello world+1.json'))).res.status).toBe(204);
    expect((await client.delete(p('dir/hello world+1.json'))).res.status).toBe(204);
    expect(await rejectionOf<AliError>(client.get(p('dir/hello world+1.json')))).toMatchObject({ code: 'NoSuchKey' });
  });

  it('refuses to overwrite under x-oss-forbid-overwrite on put, copy and complete', async () => {
    const client = aliOssClient(emulator, style);
    const forbid = { headers: { 'x-oss-forbid-overwrite': 'true' } };
    await client.put(p('v0.json'), Buffer.from('first'), forbid);
    const put = await rejectionOf<AliError>(client.put(p('v0.json'), Buffer.from('second'), forbid));
    expect(put).toMatchObject({ name: 'FileAlreadyExistsError', code: 'FileAlreadyExists', status: 409, ecCode: '0026-00000201' });
    expect((await client.get(p('v0.json'))).content.toString()).toBe('first');

    await client.put(p('other'), Buffer.from('other'));
    expect(await rejectionOf<AliError>(client.copy(p('v0.json'), p('other'), forbid))).toMatchObject({ code: 'FileAlreadyExists', status: 409 });
    expect((await client.copy(p('copied'), p('other'), forbid)).res.status).toBe(200);
    expect((await client.get(p('copied'))).content.toString()).toBe('other');

    const { uploadId } = await client.initMultipartUpload(p('mp'));
    const part = await client.uploadPart(p('mp'), uploadId, 1, Buffer.from('only part'), 0, 9);
    expect(part.etag).toMatch(/^"[0-9A-F]{32}"$/);
    await client.put(p('mp'), Buffer.from('someone else'));
    const complete = await rejectionOf<AliError>(client.completeMultipartUpload(p('mp'), uploadId, [{ number: 1, etag: part.etag }], forbid));
    expect(complete).toMatchObject({ code: 'FileAlreadyExists', status: 409, ecCode: '0042-00000214' });
    expect((await client.completeMultipartUpload(p('mp'), uploadId, [{ number: 1, etag: part.etag }])).res.status).toBe(200);
    expect((await client.get(p('mp'))).content.toString()).toBe('only part');
    expect(await rejectionOf<AliError>(client.abortMultipartUpload(p('mp'), uploadId))).toMatchObject({ code: 'NoSuchUpload', status: 404 });
  });

  it('runs managed multipart uploads and chunked stream puts', async () => {
    const client = aliOssClient(emulator, style);
    const data = Buffer.alloc(350 * 1024);
    for (let i = 0; i < data.length; i += 1) data[i] = (i * 7) & 0xff;
    const result = await client.multipartUpload(p('big'), data, { partSize: 100 * 1024 });
    expect(result.res.status).toBe(200);
    expect(Buffer.compare((await client.get(p('big'))).content as Buffer, data)).toBe(0);
    expect((await client.head(p('big'))).res.headers).toMatchObject({ 'x-oss-object-type': 'Multipart', etag: expect.stringMatching(/-4"$/) });
    const { Readable } = await import('node:stream');
    await client.putStream(p('streamed'), Readable.from([Buffer.from('chunk-1;'), Buffer.from('chunk-2')]));
    expect((await client.get(p('streamed'))).content.toString()).toBe('chunk-1;chunk-2');
  });

  it('lists with v1 (Owner present, markers) and v2 (continuation, start-after, delimiter)', async () => {
    const client = aliOssClient(emulator, style);
    for (const k of ['l/a', 'l/b', 'l/sub/c', 'l/sub/d', 'l/t/e', 'l/z']) await client.put(p(k), Buffer.from(k));
    const v1 = await client.list({ prefix: p('l/'), 'max-keys': 3 }, {});
    expect(v1.objects.map((o) => o.name)).toEqual([p('l/a'), p('l/b'), p('l/sub/c')]);
    expect(v1.objects[0]!.owner).toMatchObject({ id: expect.any(String) });
    expect(v1.isTruncated).toBe(true);
    const v1next = await client.list({ prefix: p('l/'), 'max-keys': 10, marker: v1.nextMarker! }, {});
    expect(v1next.objects.map((o) => o.name)).toEqual([p('l/sub/d'), p('l/t/e'), p('l/z')]);

    const grouped = await client.listV2({ prefix: p('l/'), delimiter: '/', 'max-keys': '3' }, {});
    expect(grouped.objects.map((o) => o.name)).toEqual([p('l/a'), p('l/b')]);
    expect(grouped.prefixes).toEqual([p('l/sub/')]);
    expect(grouped).toMatchObject({ isTruncated: true, keyCount: 3 });
    const rest = await client.listV2({ prefix: p('l/'), delimiter: '/', 'max-keys': '3', 'continuation-token': grouped.nextContinuationToken! }, {});
    expect(rest.objects.map((o) => o.name)).toEqual([p('l/z')]);
    expect(rest.prefixes).toEqual([p('l/t/')]);
    expect(rest).toMatchObject({ isTruncated: false, keyCount: 2, nextContinuationToken: null });
    const after = await client.listV2({ prefix: p('l/'), 'start-after': p('l/sub/d') }, {});
    expect(after.objects.map((o) => o.name)).toEqual([p('l/t/e'), p('l/z')]);
  });
});

describe('OSS protocol details over raw HTTP (path style)', () => {
  const url = (key: string, query = '') => `${emulator.endpoint}/${emulator.bucket}/${key}${query}`;
  const xmlCode = (body: string) => /<Code>([^<]*)<\/Code>/.exec(body)?.[1];

  beforeAll(async () => {
    await fetch(url('range/ten'), { method: 'PUT', body: '0123456789' });
  });

  it('serves Range like OSS by default and like RFC 7233 with x-oss-range-behavior: standard or for S3 clients', async () => {
    const get = async (range: string, headers: Record<string, string> = {}) => {
      const res = await fetch(url('range/ten'), { headers: { Range: range, ...headers } });
      return { status: res.status, body: await res.text(), contentRange: res.headers.get('content-range') };
    };
    const standard = { 'x-oss-range-behavior': 'standard' };
    expect(await get('bytes=2-4')).toEqual({ status: 206, body: '234', contentRange: 'bytes 2-4/10' });
    expect(await get('bytes=-3')).toMatchObject({ status: 206, body: '789' });
    expect(await get('bytes=5-')).toMatchObject({ status: 206, body: '56789' });
    expect(await get('bytes=5-2000')).toMatchObject({ status: 200, body: '0123456789' });
    expect(await get('bytes=20-30')).toMatchObject({ status: 200, body: '0123456789' });
    expect(await get('bytes=1-2,5-6')).toMatchObject({ status: 206, body: '12' });
    expect(await get('bytes=5-2000', standard)).toEqual({ status: 206, body: '56789', contentRange: 'bytes 5-9/10' });
    expect(await get('bytes=-50', standard)).toMatchObject({ status: 206, body: '0123456789' });
    const beyond = await get('bytes=20-30', standard);
    expect(beyond.status).toBe(416);
    expect(xmlCode(beyond.body)).toBe('InvalidRange');
    expect(await get('bytes=5-2000', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' })).toMatchObject({ status: 206, body: '56789' });
  });

  it('checks Content-MD5, keeps x-oss-request-id on every answer, and puts HEAD errors in x-oss-err', async () => {
    const bad = await fetch(url('md5'), { method: 'PUT', body: 'abc', headers: { 'Content-MD5': 'AAAAAAAAAAAAAAAAAAAAAA==' } });
    expect(bad.status).toBe(400);
    expect(xmlCode(await bad.text())).toBe('InvalidDigest');
    expect(bad.headers.get('x-oss-request-id')).toMatch(/^[0-9A-F]{24}$/);
    expect((await fetch(url('md5'))).status).toBe(404);
    const good = await fetch(url('md5'), { method: 'PUT', body: 'abc', headers: { 'Content-MD5': 'kAFQmDzST7DWlj99KOF/cg==' } });
    expect(good.status).toBe(200);

    const head = await fetch(url('nothing-here'), { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(head.headers.get('x-oss-request-id')).toMatch(/^[0-9A-F]{24}$/);
    const decoded = Buffer.from(head.headers.get('x-oss-err')!, 'base64').toString('utf8');
    expect(xmlCode(decoded)).toBe('NoSuchKey');
    expect(decoded).toContain(`<RequestId>${head.headers.get('x-oss-request-id')}</RequestId>`);

    const noBucket = await fetch(`${emulator.endpoint}/no-such-bucket/k`);
    expect(noBucket.status).toBe(404);
    expect(xmlCode(await noBucket.text())).toBe('NoSuchBucket');
  });

  it('lets exactly one of 20 concurrent conditional PUTs win', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(url('race/commit.json'), { method: 'PUT', body: `writer ${i}`, headers: { 'x-oss-forbid-overwrite': 'true' } }).then(async (r) => ({
          i,
          status: r.status,
          body: await r.text(),
        })),
      ),
    );
    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(409);
      expect(a.body).toContain('<EC>0026-00000201</EC>');
    }
    expect(await (await fetch(url('race/commit.json'))).text()).toBe(`writer ${winners[0]!.i}`);
  });

  it('injects faults through the admin path; drop-after applies the write, drop-before does not', async () => {
    const admin = `${emulator.endpoint}/__otslake/faults`;
    const armed = await fetch(admin, {
      method: 'POST',
      body: JSON.stringify({
        inject: [
          { kind: 'error', op: 'GetObject', status: 503 },
          { kind: 'drop-after', op: 'PutObject', keyPrefix: 'after' },
          { kind: 'drop-before', op: 'PutObject', keyPrefix: 'before' },
        ],
      }),
    });
    expect(armed.status).toBe(200);
    expect(((await armed.json()) as { rules: unknown[] }).rules).toHaveLength(3);
    const unavailable = await fetch(url('range/ten'));
    expect(unavailable.status).toBe(503);
    expect(xmlCode(await unavailable.text())).toBe('ServiceUnavailable');
    expect((await fetch(url('range/ten'))).status).toBe(200);
    await expect(fetch(url('after'), { method: 'PUT', body: 'landed' })).rejects.toThrow();
    await expect(fetch(url('before'), { method: 'PUT', body: 'lost' })).rejects.toThrow();
    expect(await (await fetch(url('after'))).text()).toBe('landed');
    expect((await fetch(url('before'))).status).toBe(404);
    const state = (await (await fetch(admin)).json()) as { fired: Record<string, number>; rules: unknown[] };
    expect(state).toMatchObject({ rules: [], fired: { error: 1, 'drop-after': 1, 'drop-before': 1 } });
    expect((await fetch(admin, { method: 'POST', body: JSON.stringify({ inject: [{ kind: 'explode' }] }) })).status).toBe(400);
    expect((await fetch(admin, { method: 'POST', body: JSON.stringify({ random: { errorRate: 2 } }) })).status).toBe(400);
    expect((await fetch(admin, { method: 'DELETE' })).status).toBe(200);
  });

  it('answers S3 path-style requests: HEAD bucket, ListObjectsV2 with start-after, ranged GET', async () => {
    const aws = {
      Authorization: 'AWS4-HMAC-SHA256 Credential=ak/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00',
      'x-amz-date': '20260101T000000Z',
    };
    for (const k of ['t/_delta_log/00000000000000000000.json', 't/_delta_log/00000000000000000001.json', 't/_delta_log/00000000000000000002.json']) {
      await fetch(url(k), { method: 'PUT', body: k, headers: aws });
    }
    expect((await fetch(`${emulator.endpoint}/${emulator.bucket}`, { method: 'HEAD', headers: aws })).status).toBe(200);
    const list = await fetch(
      `${emulator.endpoint}/${emulator.bucket}?list-type=2&prefix=t%2F_delta_log%2F&start-after=t%2F_delta_log%2F00000000000000000000.json`,
      { headers: aws },
    );
    const xml = await list.text();
    expect([...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1])).toEqual([
      't/_delta_log/00000000000000000001.json',
      't/_delta_log/00000000000000000002.json',
    ]);
    expect(xml).toContain('<KeyCount>2</KeyCount>');
    const ranged = await fetch(url('t/_delta_log/00000000000000000002.json'), { headers: { ...aws, Range: 'bytes=2-12' } });
    expect(ranged.status).toBe(206);
    expect(await ranged.text()).toBe('_delta_log/');
  });
});

describe('signature verification', () => {
  it('verifies ali-oss V1 signatures in both styles, rejects a wrong secret, and follows refreshed STS credentials', async () => {
    const signed = await startOssEmulator({
      bucket: 'signed',
      credentials: [
        { accessKeyId: 'ak-1', accessKeySecret: 's-1' },
        { accessKeyId: 'ak-2', accessKeySecret: 's-2' },
      ],
    });
    try {
      for (const style of ADDRESSING_STYLES) {
        const client = new OSS({
          bucket: 'signed',
          endpoint: endpointFor(signed, style),
          accessKeyId: 'ak-1',
          accessKeySecret: 's-1',
          ...(style === 'path' ? { sldEnable: true } : {}),
        } as OSS.Options);
        await client.put(`${style}/a`, Buffer.from('a'), { headers: { 'x-oss-forbid-overwrite': 'true', 'x-oss-meta-x': 'y' } });
        await client.put(`${style}/b`, Buffer.from('b'));
        const page = await client.listV2({ prefix: `${style}/`, 'max-keys': '1' }, {});
        const next = await client.listV2({ prefix: `${style}/`, 'max-keys': '1', 'continuation-token': page.nextContinuationToken! }, {});
        expect(next.objects.map((o) => o.name)).toEqual([`${style}/b`]);
        const data = Buffer.alloc(250 * 1024, 1);
        await client.multipartUpload(`${style}/mp`, data, { partSize: 100 * 1024 });
        expect(((await client.get(`${style}/mp`)).content as Buffer).length).toBe(data.length);
        const wrong = new OSS({
          bucket: 'signed',
          endpoint: endpointFor(signed, style),
          accessKeyId: 'ak-1',
          accessKeySecret: 'not-s-1',
          ...(style === 'path' ? { sldEnable: true } : {}),
        } as OSS.Options);
        expect(await rejectionOf<AliError>(wrong.get(`${style}/a`))).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
      }

      let refreshes = 0;
      const sts = OssStore.open({
        bucket: 'signed',
        endpoint: signed.endpoint,
        accessKeyId: 'ak-1',
        accessKeySecret: 's-1',
        stsToken: 'token-1',
        refreshIntervalMs: 0,
        refreshCredentials: async () => {
          refreshes += 1;
          return { accessKeyId: 'ak-2', accessKeySecret: 's-2', stsToken: `token-${refreshes + 1}` };
        },
        retry: FAST_RETRY,
      });
      signed.requests.length = 0;
      await sts.put('sts/k', new TextEncoder().encode('v'), { ifAbsent: true });
      expect(new TextDecoder().decode(await sts.get('sts/k'))).toBe('v');
      await sts.close();
      expect(refreshes).toBeGreaterThanOrEqual(1);
      expect(signed.requests.map((r) => r.accessKeyId)).toEqual(['ak-2', 'ak-2']);

      const bad = OssStore.open({
        bucket: 'signed',
        endpoint: signed.endpoint,
        accessKeyId: 'ak-1',
        accessKeySecret: 'leaked-if-you-see-this',
        retry: FAST_RETRY,
      });
      const err = await bad.get('sts/k').catch((e: unknown) => e as Error);
      await bad.close();
      expect(err).toMatchObject({ code: 'OTSL_LAKE_IO', retriable: false, context: { status: 403, ossCode: 'SignatureDoesNotMatch' } });
      expect(JSON.stringify(err) + (err as Error).message).not.toContain('leaked-if-you-see-this');
    } finally {
      await signed.close();
    }
  });
});

describe('signature verification (V4)', () => {
  it('verifies ali-oss V4 signatures in both styles (puts, lists, multipart, deletes) and refuses wrong or unknown keys', async () => {
    const signed = await startOssEmulator({ bucket: 'signed-v4', credentials: [{ accessKeyId: 'ak-4', accessKeySecret: 's-4' }] });
    const v4 = (style: (typeof ADDRESSING_STYLES)[number], accessKeyId: string, accessKeySecret: string) =>
      new OSS({
        bucket: 'signed-v4',
        endpoint: endpointFor(signed, style),
        accessKeyId,
        accessKeySecret,
        region: 'oss-cn-hangzhou',
        authorizationV4: true,
        ...(style === 'path' ? { sldEnable: true } : {}),
      } as OSS.Options);
    try {
      for (const style of ADDRESSING_STYLES) {
        signed.requests.length = 0;
        const client = v4(style, 'ak-4', 's-4');
        await client.put(`${style}/dir/a b+1`, Buffer.from('a'), { headers: { 'x-oss-forbid-overwrite': 'true', 'x-oss-meta-x': 'y' } });
        await client.put(`${style}/dir/c`, Buffer.from('c'));
        const page = await client.listV2({ prefix: `${style}/dir/`, 'max-keys': '1' }, {});
        const next = await client.listV2({ prefix: `${style}/dir/`, 'max-keys': '1', 'continuation-token': page.nextContinuationToken! }, {});
        expect(next.objects.map((o) => o.name)).toEqual([`${style}/dir/c`]);
        const data = Buffer.alloc(250 * 1024, 2);
        await client.multipartUpload(`${style}/mp`, data, { partSize: 100 * 1024 });
        expect(((await client.get(`${style}/mp`)).content as Buffer).length).toBe(data.length);
        await client.delete(`${style}/dir/c`);
        expect(signed.requests.filter((r) => r.status >= 400)).toEqual([]);
        expect(await rejectionOf<AliError>(v4(style, 'ak-4', 'not-s-4').get(`${style}/dir/a b+1`))).toMatchObject({
          code: 'SignatureDoesNotMatch',
          status: 403,
        });
        expect(await rejectionOf<AliError>(v4(style, 'ak-none', 's-4').get(`${style}/dir/a b+1`))).toMatchObject({ code: 'InvalidAccessKeyId', status: 403 });
      }
      // Unsigned requests are refused once keys are configured.
      expect((await fetch(`${signed.endpoint}/signed-v4/path/mp`)).status).toBe(403);
    } finally {
      await signed.close();
    }
  });

  it('keeps the admin path behind the configured keys', async () => {
    const signed = await startOssEmulator({ bucket: 'signed-admin', credentials: [{ accessKeyId: 'ak-a', accessKeySecret: 's-a' }] });
    try {
      const admin = `${signed.endpoint}/__otslake/faults`;
      expect((await fetch(admin)).status).toBe(401);
      expect((await fetch(admin, { headers: { 'x-otslake-admin': 'ak-a:wrong' } })).status).toBe(401);
      expect((await fetch(admin, { headers: { 'x-otslake-admin': 'ak-a:s-a' } })).status).toBe(200);
    } finally {
      await signed.close();
    }
  });
});

describe('persistence under a data directory', () => {
  let dir: TmpDir;
  beforeEach(async () => {
    dir = await createTmpDir();
  });
  afterEach(async () => {
    await dir.cleanup();
  });

  it('keeps objects, metadata and order across restarts, and drops replaced bytes', async () => {
    const first = await startTestOss('persisted', dir.path);
    const client = aliOssClient(first, 'virtual-host');
    await client.put('a/1', Buffer.from('one'), { headers: { 'x-oss-meta-k': 'v' } });
    await client.put('a/2', Buffer.from('two'));
    await client.put('a/2', Buffer.from('two, again'));
    await client.put('a/3', Buffer.from('three'));
    await client.delete('a/3');
    await first.close();

    const second = await startTestOss('persisted', dir.path);
    try {
      const again = aliOssClient(second, 'virtual-host');
      expect((await again.get('a/2')).content.toString()).toBe('two, again');
      expect((await again.head('a/1')).meta).toEqual({ k: 'v' });
      expect((await again.listV2({ prefix: 'a/' }, {})).objects.map((o) => o.name)).toEqual(['a/1', 'a/2']);
      const files = await readdir(join(dir.path, 'persisted'));
      expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(2);
      expect(files.filter((f) => f.endsWith('.data'))).toHaveLength(2);
    } finally {
      await second.close();
    }
  });
});

describe('an independent S3-protocol Delta reader', () => {
  let dir: TmpDir;
  beforeAll(async () => {
    dir = await createTmpDir();
  });
  afterAll(async () => {
    await dir.cleanup();
  });

  const noDat = optionalData('an independent S3-protocol Delta reader on a DAT table (test/integration/oss-emulator.test.ts)', [DAT_TARBALL]);
  it.skipIf(noDat)("reads a DAT table uploaded through OssStore with chdb's deltaLakeS3", async () => {
    const tar = spawn('tar', ['-xzf', DAT_TARBALL, '-C', dir.path, 'out/reader_tests/generated/basic_append/delta']);
    expect((await once(tar, 'close'))[0]).toBe(0);
    const table = join(dir.path, 'out/reader_tests/generated/basic_append/delta');
    const store = openTestOssStore(emulator, 'virtual-host', { prefix: 'dat/basic_append' });
    try {
      const upload = async (rel: string): Promise<void> => {
        for (const entry of await readdir(join(table, rel), { withFileTypes: true })) {
          const key = rel === '' ? entry.name : `${rel}/${entry.name}`;
          if (entry.isDirectory()) await upload(key);
          else if (!entry.name.endsWith('.crc')) await store.put(key, await readFile(join(table, key)), { ifAbsent: true });
        }
      };
      await upload('');
    } finally {
      await store.close();
    }
    const [outcome] = await runChdb([
      `SELECT letter, number FROM deltaLakeS3('${emulator.endpoint}/${emulator.bucket}/dat/basic_append/', 'ak', 'sk') ORDER BY number`,
    ]);
    if (!outcome!.ok) throw new Error(`chdb failed: ${outcome!.error}`);
    expect(outcome!.rows.map((r) => ({ letter: r.letter, number: Number(r.number) }))).toEqual(
      ['a', 'b', 'c', 'd', 'e'].map((letter, i) => ({ letter, number: i + 1 })),
    );
    expect(emulator.requests.some((r) => r.op === 'HeadBucket' && r.status === 200)).toBe(true);
    expect(emulator.requests.some((r) => r.op === 'GetObject' && r.status === 206)).toBe(true);
  });
});

describe('otslake oss-emulator', () => {
  it('prints the listening line, serves requests, and exits 0 on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        "import('./cli/main.ts').then((m) => m.main(process.argv.slice(1)))",
        'oss-emulator',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--bucket',
        'cli-bucket',
        '--access-key-id',
        'cli-ak',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OTSLAKE_EMULATOR_ACCESS_KEY_SECRET: 'cli-secret' } },
    );
    try {
      let output = '';
      const endpoint = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${output}`)));
      });
      // Keys configured: unsigned requests are refused, ali-oss with the key pair is served.
      expect((await fetch(`${endpoint}/cli-bucket`, { method: 'HEAD' })).status).toBe(403);
      const client = new OSS({ bucket: 'cli-bucket', endpoint, accessKeyId: 'cli-ak', accessKeySecret: 'cli-secret' } as OSS.Options);
      await client.put('k', Buffer.from('v'));
      expect((await client.get('k')).content.toString()).toBe('v');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
