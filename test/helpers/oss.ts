/**
 * The OSS emulator and clients for tests: OssStore and plain `ali-oss` against it, in both addressing
 * styles (IP endpoint → bucket in the Host header; `localhost` + path style), with retry delays short
 * enough that fault tests take milliseconds.
 */
import OSS from 'ali-oss';
import { once } from 'node:events';
import { startOssEmulator, type OssEmulator, type RequestRecord } from '../../emulator/oss/server.js';
import { OssStore, type OssStoreOptions } from '../../lake/oss-store.js';

export type Addressing = 'virtual-host' | 'path';
export const ADDRESSING_STYLES: readonly Addressing[] = ['virtual-host', 'path'];

export const TEST_CREDENTIALS = { accessKeyId: 'test-ak', accessKeySecret: 'test-secret-never-logged' } as const;

/** Milliseconds of backoff, enough attempts to ride out injected faults. */
export const FAST_RETRY = { initialDelayMs: 2, maxDelayMs: 20, maxAttempts: 8, maxElapsedMs: 20_000 } as const;

export function startTestOss(bucket = 'otslake-test', dataDir?: string): Promise<OssEmulator> {
  return startOssEmulator({ bucket, ...(dataDir !== undefined ? { dataDir } : {}) });
}

/** The endpoint for an addressing style: the IP (ali-oss moves the bucket to Host) or `localhost` with path style. */
export function endpointFor(emulator: OssEmulator, addressing: Addressing): string {
  return addressing === 'virtual-host' ? emulator.endpoint : `http://localhost:${emulator.port}`;
}

export function openTestOssStore(emulator: OssEmulator, addressing: Addressing, overrides: Partial<OssStoreOptions> = {}): OssStore {
  return OssStore.open({
    bucket: emulator.bucket,
    endpoint: endpointFor(emulator, addressing),
    pathStyle: addressing === 'path',
    ...TEST_CREDENTIALS,
    requestTimeoutMs: 5_000,
    ...overrides,
    retry: { ...FAST_RETRY, ...overrides.retry },
  });
}

export function aliOssClient(emulator: OssEmulator, addressing: Addressing): OSS {
  return new OSS({
    bucket: emulator.bucket,
    endpoint: endpointFor(emulator, addressing),
    ...TEST_CREDENTIALS,
    ...(addressing === 'path' ? { sldEnable: true } : {}),
  } as OSS.Options);
}

/** Resolves with the first request the emulator records (from now on) that matches; rejects after `timeoutMs`. */
export async function waitForRequest(emulator: OssEmulator, matches: (r: RequestRecord) => boolean, timeoutMs = 5_000): Promise<RequestRecord> {
  const signal = AbortSignal.timeout(timeoutMs);
  for (;;) {
    const [record] = (await once(emulator.events, 'request', { signal })) as [RequestRecord];
    if (matches(record)) return record;
  }
}
