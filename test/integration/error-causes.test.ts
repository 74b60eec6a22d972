/**
 * One code per real cause, and no raw protocol bytes in a message — against the real servers:
 * tablestore-local through the daemon's DescribeTable and its Tunnel client, and an OSS store
 * whose endpoint is down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { isConfigurationError } from '../../common/errors.js';
import { tableDescriber } from '../../pipeline/table-schema.js';
import { createStreamTable, startTestEmulator, TEST_CREDENTIALS, type TestEmulator } from '../helpers/emulator.js';
import { openTestOssStore, startTestOss } from '../helpers/oss.js';
import { reservePort } from '../helpers/tcp-proxy.js';

let emu: TestEmulator | undefined;

afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const PRINTABLE = /^[\x20-\x7e]*$/;

/** DescribeTable's primary key, through the daemon's describer. */
function describer(endpoint: string, accessKeyId: string, accessKeySecret: string) {
  const describe = tableDescriber({ endpoint, instanceName: TEST_CREDENTIALS.instance, accessKeyId, accessKeySecret } as never);
  return async (table: string) => (await describe(table)).primaryKey;
}

describe('error causes', () => {
  it('DescribeTable: a CR in the key id or the secret, or a wrong secret, is OTSL_TUNNEL_AUTH with a printable message', async () => {
    emu = await startTestEmulator();
    await createStreamTable(emu.sdkClient(), 't1', [{ name: 'id', type: 'INTEGER' }]);
    for (const [id, secret] of [
      [`${TEST_CREDENTIALS.accessKeyId}\r`, TEST_CREDENTIALS.accessKeySecret],
      [TEST_CREDENTIALS.accessKeyId, `${TEST_CREDENTIALS.accessKeySecret}\r`],
      [TEST_CREDENTIALS.accessKeyId, `${TEST_CREDENTIALS.accessKeySecret}x`],
    ] as const) {
      const err = await describer(emu.endpoint, id, secret)('t1').catch((e: unknown) => e);
      expect(err, JSON.stringify([id, secret === TEST_CREDENTIALS.accessKeySecret])).toMatchObject({ code: 'OTSL_TUNNEL_AUTH', retriable: false });
      expect((err as Error).message).toMatch(PRINTABLE);
      expect((err as Error).message).not.toContain(TEST_CREDENTIALS.accessKeySecret);
    }
    // Header values are signed trimmed, as the server reads them: a trailing space in the key id (which the
    // config refuses anyway) does no harm here, as in the Tunnel calls.
    for (const id of [TEST_CREDENTIALS.accessKeyId, `${TEST_CREDENTIALS.accessKeyId} `]) {
      await expect(describer(emu.endpoint, id, TEST_CREDENTIALS.accessKeySecret)('t1')).resolves.toEqual([{ name: 'id', type: 'INTEGER' }]);
    }
  });

  it('DescribeTable with the endpoint down is OTSL_TUNNEL_HTTP after a few retries: an outage the table waits out, not a configuration error', async () => {
    const port = await reservePort();
    const err = await describer(`http://127.0.0.1:${port}`, 'id', 'secret')('t1').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OTSL_RETRIES_EXHAUSTED', context: { table: 't1', rpc: '/DescribeTable', attempts: 4 } });
    expect((err as Error).cause).toMatchObject({ code: 'OTSL_TUNNEL_HTTP', retriable: true });
    expect(isConfigurationError(err)).toBe(false);
  });

  it('Tunnel calls: a CR in the key id is OTSL_TUNNEL_AUTH before any request, not OTSL_INTERNAL', async () => {
    emu = await startTestEmulator();
    const client = emu.tunnelClient({ accessKeyId: `${TEST_CREDENTIALS.accessKeyId}\r` });
    const err = await client.listTunnel({ table_name: 't1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OTSL_TUNNEL_AUTH', retriable: false });
    expect((err as Error).message).toMatch(/not allowed in an HTTP header/);
  });

  it('a Parquet file that OSS cannot take keeps the store error code, not OTSL_PARQUET_WRITE', async () => {
    const oss = await startTestOss('otslake-causes');
    const port = await reservePort();
    const store = openTestOssStore(oss, 'virtual-host', { endpoint: `http://127.0.0.1:${port}`, retry: { maxAttempts: 2, maxElapsedMs: 2_000 } });
    try {
      const err = await writeParquetFiles([{ id: 1n }], { store, columns: [{ name: 'id', type: 'long', nullable: false }] as never }).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toMatch(/^OTSL_(LAKE_IO|RETRIES_EXHAUSTED)$/);
    } finally {
      await store.close();
      await oss.close();
    }
  });
});
