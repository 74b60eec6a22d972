/**
 * Object store costs, each beside a reference measured in the same run:
 *   local-commit     LocalStore put-if-absent of small commit files (temp + fsync + link + dir fsync)
 *                    vs. reference fs.writeFile (no fsync, not atomic)
 *   local-large      LocalStore put of one large file vs. reference fs.writeFile
 *   oss-commit       OssStore put-if-absent of small commit files through the emulator
 *                    vs. reference: plain ali-oss put with x-oss-forbid-overwrite (no retry wrapper)
 *   oss-large        OssStore put of one large object: simple PutObject and multipart (8 MiB parts)
 *                    vs. reference: ali-oss put of the same bytes
 *   oss-list         OssStore.list over N keys (1000-key pages) vs. reference: raw ali-oss listV2 loop
 * Loopback and emulator bound: the figures show client overhead, not OSS service speed.
 *
 *   npx tsx bench/object-store.ts [--commits 200] [--large-mib 32] [--keys 3000]
 */
import { writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import OSS from 'ali-oss';
import { startOssEmulator } from '../emulator/oss/server.js';
import { LocalStore } from '../lake/local-store.js';
import { OssStore } from '../lake/oss-store.js';

const { values } = parseArgs({
  options: { commits: { type: 'string', default: '200' }, 'large-mib': { type: 'string', default: '32' }, keys: { type: 'string', default: '3000' } },
});
const COMMITS = Number(values.commits);
const LARGE_BYTES = Number(values['large-mib']) * 1024 * 1024;
const KEYS = Number(values.keys);

function emit(figure: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const commitBody = (i: number) =>
  Buffer.from(
    `{"commitInfo":{"timestamp":${Date.now()},"operation":"STREAMING UPDATE","n":${i}}}\n{"add":{"path":"part-${i}.parquet","size":1234,"dataChange":true}}\n`,
  );
const large = Buffer.alloc(LARGE_BYTES);
for (let i = 0; i < large.length; i += 4096) large[i] = i & 0xff;

const dir = await mkdtemp(join(tmpdir(), 'otslake-bench-store-'));
const emulator = await startOssEmulator({ bucket: 'bench' });
const credentials = { accessKeyId: 'ak', accessKeySecret: 'sk' };
try {
  // Local: small commits.
  const local = new LocalStore(join(dir, 'lake'));
  const localMs = await timed(async () => {
    for (let i = 0; i < COMMITS; i += 1) await local.put(`_delta_log/${String(i).padStart(20, '0')}.json`, commitBody(i), { ifAbsent: true });
  });
  await local.put('ref/.keep', Buffer.alloc(0));
  const refMs = await timed(async () => {
    for (let i = 0; i < COMMITS; i += 1) await writeFile(join(dir, 'lake/ref', `${i}.json`), commitBody(i));
  });
  emit({
    bench: 'local-commit',
    commits: COMMITS,
    perCommitMs: +(localMs / COMMITS).toFixed(3),
    reference: 'fs.writeFile',
    referencePerCommitMs: +(refMs / COMMITS).toFixed(3),
  });

  // Local: one large file.
  const localLargeMs = await timed(async () => void (await local.put('large.bin', large)));
  const refLargeMs = await timed(() => writeFile(join(dir, 'lake/ref/large.bin'), large));
  emit({
    bench: 'local-large',
    mib: LARGE_BYTES / 2 ** 20,
    mibPerS: +(LARGE_BYTES / 2 ** 20 / (localLargeMs / 1000)).toFixed(1),
    reference: 'fs.writeFile',
    referenceMibPerS: +(LARGE_BYTES / 2 ** 20 / (refLargeMs / 1000)).toFixed(1),
  });

  // OSS through the emulator: small commits.
  const oss = OssStore.open({ ...credentials, bucket: 'bench', endpoint: emulator.endpoint, prefix: 'store' });
  const client = new OSS({ ...credentials, bucket: 'bench', endpoint: emulator.endpoint } as OSS.Options);
  const ossMs = await timed(async () => {
    for (let i = 0; i < COMMITS; i += 1) await oss.put(`_delta_log/${String(i).padStart(20, '0')}.json`, commitBody(i), { ifAbsent: true });
  });
  const rawMs = await timed(async () => {
    for (let i = 0; i < COMMITS; i += 1) await client.put(`raw/_delta_log/${i}.json`, commitBody(i), { headers: { 'x-oss-forbid-overwrite': 'true' } });
  });
  emit({
    bench: 'oss-commit',
    commits: COMMITS,
    perCommitMs: +(ossMs / COMMITS).toFixed(3),
    reference: 'ali-oss put',
    referencePerCommitMs: +(rawMs / COMMITS).toFixed(3),
  });

  // OSS: one large object, simple and multipart.
  const simple = OssStore.open({ ...credentials, bucket: 'bench', endpoint: emulator.endpoint, prefix: 'simple', multipartThresholdBytes: LARGE_BYTES + 1 });
  const simpleMs = await timed(async () => void (await simple.put('large.bin', large)));
  const multipart = OssStore.open({
    ...credentials,
    bucket: 'bench',
    endpoint: emulator.endpoint,
    prefix: 'mp',
    multipartThresholdBytes: 8 * 2 ** 20,
    partSizeBytes: 8 * 2 ** 20,
  });
  const multipartMs = await timed(async () => void (await multipart.put('large.bin', large, { ifAbsent: true })));
  const rawLargeMs = await timed(async () => void (await client.put('raw/large.bin', large)));
  const mibPerS = (ms: number) => +(LARGE_BYTES / 2 ** 20 / (ms / 1000)).toFixed(1);
  emit({
    bench: 'oss-large',
    mib: LARGE_BYTES / 2 ** 20,
    simpleMibPerS: mibPerS(simpleMs),
    multipartMibPerS: mibPerS(multipartMs),
    reference: 'ali-oss put',
    referenceMibPerS: mibPerS(rawLargeMs),
  });

  // OSS: listing.
  for (let i = 0; i < KEYS; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, KEYS - i) }, (_, j) => oss.put(`many/${String(i + j).padStart(8, '0')}`, Buffer.from('x'))));
  }
  let listed = 0;
  const listMs = await timed(async () => void (listed = (await oss.list('many/')).length));
  const rawListMs = await timed(async () => {
    let token: string | null = null;
    do {
      const page: OSS.ListV2ObjectResult = await client.listV2(
        { prefix: 'store/many/', 'max-keys': '1000', ...(token ? { 'continuation-token': token } : {}) },
        {},
      );
      token = page.nextContinuationToken ?? null;
    } while (token);
  });
  emit({ bench: 'oss-list', keys: listed, ms: +listMs.toFixed(1), reference: 'ali-oss listV2 loop', referenceMs: +rawListMs.toFixed(1) });
  await Promise.all([oss.close(), simple.close(), multipart.close()]);
} finally {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
}
