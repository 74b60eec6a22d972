/**
 * One code per real cause, and no raw protocol bytes in a message — against the real servers:
 * tablestore-local through the official SDK (DescribeTable) and our Tunnel client, and an OSS store
 * whose endpoint is down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { sdkTableDescriber } from '../../pipeline/table-schema.js';
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
  const describe = sdkTableDescriber({ endpoint, instanceName: TEST_CREDENTIALS.instance, accessKeyId, accessKeySecret } as never);
  return async (table: string) => (await describe(table)).primaryKey;
}

describe('error causes', () => {
  it('DescribeTable: a key id with a trailing space or a CR, or a wrong secret, is OTSL_TUNNEL_AUTH with a printable message', async () => {
    emu = await startTestEmulator();
    await createStreamTable(emu.sdkClient(), 't1', [{ name: 'id', type: 'INTEGER' }]);
    for (const [id, secret] of [
      [`${TEST_CREDENTIALS.accessKeyId} `, TEST_CREDENTIALS.accessKeySecret],
      [`${TEST_CREDENTIALS.accessKeyId}\r`, TEST_CREDENTIALS.accessKeySecret],
      [TEST_CREDENTIALS.accessKeyId, `${TEST_CREDENTIALS.accessKeySecret}\r`],
    ] as const) {
      const err = await describer(emu.endpoint, id, secret)('t1').catch((e: unknown) => e);
      expect(err, JSON.stringify(id)).toMatchObject({ code: 'OTSL_TUNNEL_AUTH', retriable: false });
      expect((err as Error).message).toMatch(PRINTABLE);
      expect((err as Error).message).not.toContain(TEST_CREDENTIALS.accessKeySecret);
    }
    await expect(describer(emu.endpoint, TEST_CREDENTIALS.accessKeyId, TEST_CREDENTIALS.accessKeySecret)('t1')).resolves.toEqual([
      { name: 'id', type: 'INTEGER' },
    ]);
  });

  it('DescribeTable with the endpoint down is OTSL_TUNNEL_HTTP, retriable (an outage, not a configuration error)', async () => {
    const port = await reservePort();
    const err = await describer(`http://127.0.0.1:${port}`, 'id', 'secret')('t1').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OTSL_TUNNEL_HTTP', retriable: true });
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
