/**
 * Starts tablestore-local on 127.0.0.1, port 0, for a test, and hands out what the test needs:
 * endpoint, instance, credentials, the official `tablestore` SDK client (for table writes) and our
 * TunnelClient (for Tunnel calls). close() stops everything and removes the temp data dir it made.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTablestoreEmulator, type TablestoreEmulator } from '../../emulator/tablestore/index.js';
import type { TunnelServiceOptions } from '../../emulator/tablestore/tunnel-options.js';
import { TunnelClient, type TunnelClientOptions } from '../../tunnel/tunnel-client.js';

/** The few parts of the untyped npm `tablestore` package the tests use. */
export interface TablestoreSdk {
  Client: new (config: Record<string, unknown>) => TablestoreSdkClient;
  Long: { fromNumber(n: number): unknown; fromString(s: string): unknown };
  Condition: new (expectation: unknown, columnCondition: unknown) => unknown;
  RowExistenceExpectation: { IGNORE: unknown; EXPECT_EXIST: unknown; EXPECT_NOT_EXIST: unknown };
}

export interface TablestoreSdkClient {
  createTable(params: Record<string, unknown>): Promise<unknown>;
  putRow(params: Record<string, unknown>): Promise<unknown>;
  updateRow(params: Record<string, unknown>): Promise<unknown>;
  deleteRow(params: Record<string, unknown>): Promise<unknown>;
  getRow(params: Record<string, unknown>): Promise<unknown>;
}

export const tablestoreSdk = createRequire(import.meta.url)('tablestore') as TablestoreSdk;

/** CreateTable through the official SDK with the Stream enabled, as every Tunnel the daemon reads needs. */
export async function createStreamTable(sdk: TablestoreSdkClient, tableName: string, primaryKey: { name: string; type: string }[]): Promise<void> {
  await sdk.createTable({
    tableMeta: { tableName, primaryKey },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
    streamSpecification: { enableStream: true, expirationTime: 24 },
  });
}

export interface TestEmulatorOptions {
  tunnel?: Omit<TunnelServiceOptions, 'instance' | 'dataDir'>;
  partitionsPerTable?: number;
  /** Reuse a data dir (restart tests); otherwise a fresh temp dir is made and removed on close(). */
  dataDir?: string;
}

export interface TestEmulator {
  endpoint: string;
  instance: string;
  accessKeyId: string;
  accessKeySecret: string;
  dataDir: string;
  emulator: TablestoreEmulator;
  /** Official SDK client; `overrides` can e.g. swap the secret to test auth failures. */
  sdkClient(overrides?: Record<string, unknown>): TablestoreSdkClient;
  tunnelClient(overrides?: Partial<TunnelClientOptions>): TunnelClient;
  /** An admin request over HTTP with the emulator's admin header; resolves with the JSON answer (throws on non-2xx). */
  admin(path: string, init?: { method?: string; body?: unknown }): Promise<unknown>;
  /** Moves the emulator's clock forward through `POST /_admin/clock` (retention, expiry, timeouts). */
  advanceClock(ms: number): Promise<void>;
  /** Stops the emulator; removes the data dir unless the caller supplied it. */
  close(): Promise<void>;
}

export const TEST_CREDENTIALS = { instance: 'otslake-test', accessKeyId: 'test-ak-id', accessKeySecret: 'test-ak-secret-value' } as const;

/** The header tablestore-local's /_admin/* endpoints want: its own key pair. */
export const ADMIN_HEADERS = { 'x-otslake-admin': `${TEST_CREDENTIALS.accessKeyId}:${TEST_CREDENTIALS.accessKeySecret}` } as const;

export async function startTestEmulator(options: TestEmulatorOptions = {}): Promise<TestEmulator> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'otslake-ts-local-')));
  const emulator = await startTablestoreEmulator({
    port: 0,
    ...TEST_CREDENTIALS,
    dataDir,
    ...(options.partitionsPerTable !== undefined ? { partitionsPerTable: options.partitionsPerTable } : {}),
    tunnel: { sweepIntervalMs: 0, initDelayMs: 0, ...(options.tunnel ?? {}) },
  });
  const tunnelClients: TunnelClient[] = [];
  const admin = async (path: string, init: { method?: string; body?: unknown } = {}): Promise<unknown> => {
    const res = await fetch(`${emulator.endpoint}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: ADMIN_HEADERS,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const json = (await res.json()) as unknown;
    if (!res.ok) throw new Error(`admin ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    admin,
    advanceClock: async (ms) => {
      await admin('/_admin/clock', { body: { advanceMs: ms } });
    },
    endpoint: emulator.endpoint,
    ...TEST_CREDENTIALS,
    dataDir,
    emulator,
    sdkClient: (overrides = {}) =>
      new tablestoreSdk.Client({
        accessKeyId: TEST_CREDENTIALS.accessKeyId,
        secretAccessKey: TEST_CREDENTIALS.accessKeySecret,
        endpoint: emulator.endpoint,
        instancename: TEST_CREDENTIALS.instance,
        maxRetries: 0,
        ...overrides,
      }),
    tunnelClient: (overrides = {}) => {
      const client = new TunnelClient({
        endpoint: emulator.endpoint,
        instanceName: TEST_CREDENTIALS.instance,
        accessKeyId: TEST_CREDENTIALS.accessKeyId,
        accessKeySecret: TEST_CREDENTIALS.accessKeySecret,
        retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 20 },
        ...overrides,
      });
      tunnelClients.push(client);
      return client;
    },
    close: async () => {
      for (const c of tunnelClients) c.close();
      await emulator.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
