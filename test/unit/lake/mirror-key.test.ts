import { describe, expect, it } from 'vitest';
import { compareKeys, encodeKey, keyColumnsOf, type KeyColumn } from '../../../lake/mirror/key-encoding.js';
import { bucketOf, filesByBucket, mirrorSettingsOf, mirrorTableConfiguration, TAG_BUCKET, TAG_KEY_MAX, TAG_KEY_MIN } from '../../../lake/mirror/layout.js';

const utf8 = new TextEncoder();
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

describe('mirror key encoding', () => {
  it('orders INTEGER keys as signed int64', () => {
    const cols: KeyColumn[] = [{ name: 'id', type: 'long' }];
    const values = [-(2n ** 63n), -1000n, -1n, 0n, 1n, 255n, 256n, 2n ** 53n, 2n ** 63n - 1n];
    const keys = values.map((id) => encodeKey(cols, { id }));
    expect([...keys].sort()).toEqual(keys);
    expect(encodeKey(cols, { id: 7 })).toBe(encodeKey(cols, { id: 7n }));
  });

  it('orders STRING keys by UTF-8 bytes, prefixes first, NUL bytes included', () => {
    const cols: KeyColumn[] = [
      { name: 's', type: 'string' },
      { name: 'n', type: 'long' },
    ];
    const strings = ['', '\u0000', '\u0000\u0000', 'a', 'a\u0000', 'a\u0000b', 'ab', 'b', '\uffff', '\u{1f600}', 'é', 'z'];
    for (const x of strings) {
      for (const y of strings) {
        const want = sign(compareBytes(utf8.encode(x), utf8.encode(y)));
        expect(sign(compareKeys(encodeKey(cols, { s: x, n: 5n }), encodeKey(cols, { s: y, n: 1n }))) || 1, `${JSON.stringify(x)} vs ${JSON.stringify(y)}`).toBe(
          want || 1,
        );
      }
    }
  });

  it('orders BINARY keys bytewise, then by the next column', () => {
    const cols: KeyColumn[] = [
      { name: 'b', type: 'binary' },
      { name: 'n', type: 'long' },
    ];
    const a = encodeKey(cols, { b: Uint8Array.of(1, 0), n: 9n });
    const b = encodeKey(cols, { b: Uint8Array.of(1, 0), n: 10n });
    const c = encodeKey(cols, { b: Uint8Array.of(1, 0, 0), n: -5n });
    const d = encodeKey(cols, { b: Uint8Array.of(1, 1), n: -5n });
    expect([d, c, b, a].sort()).toEqual([a, b, c, d]);
  });

  it('rejects missing, mistyped and out-of-range key values with OTSL_LAKE_SCHEMA', () => {
    const cols: KeyColumn[] = [{ name: 'id', type: 'long' }];
    expect(() => encodeKey(cols, {})).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA', context: expect.objectContaining({ column: 'id' }) }));
    expect(() => encodeKey(cols, { id: 'x' })).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA' }));
    expect(() => encodeKey(cols, { id: 2n ** 63n })).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA' }));
    expect(() => encodeKey(cols, { id: 1.5 })).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA' }));
    expect(() => keyColumnsOf([{ name: 'd', type: 'double' }])).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA' }));
  });
});

describe('mirror layout', () => {
  it('hashes keys to stable, well-spread buckets', () => {
    const cols: KeyColumn[] = [{ name: 'id', type: 'long' }];
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[bucketOf(encodeKey(cols, { id: BigInt(i) }), 16)]! += 1;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    // Stability across releases: the bucket of a key is part of the table's on-disk layout.
    expect(bucketOf(encodeKey(cols, { id: 42n }), 16)).toBe(bucketOf('800000000000002a', 16));
    expect(bucketOf('800000000000002a', 1024)).toBe(bucketOf('800000000000002a', 1024));
  });

  it('round-trips its table properties and refuses bad bucket counts', () => {
    const conf = mirrorTableConfiguration({ primaryKey: ['r', 'id'], buckets: 8, changeDataFeed: true });
    expect(mirrorSettingsOf(conf)).toEqual({ buckets: 8, primaryKey: ['r', 'id'], changeDataFeed: true });
    expect(() => mirrorTableConfiguration({ primaryKey: ['id'], buckets: 0 })).toThrow(expect.objectContaining({ code: 'OTSL_CONFIG_INVALID' }));
    expect(() => mirrorSettingsOf({})).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA' }));
  });

  it('groups files by bucket sorted by range, and refuses untagged or overlapping files', () => {
    const add = (path: string, bucket: number, min: string, max: string) => ({
      path,
      size: 10,
      stats: '{"numRecords":3}',
      tags: { [TAG_BUCKET]: String(bucket), [TAG_KEY_MIN]: min, [TAG_KEY_MAX]: max },
    });
    const byBucket = filesByBucket([add('x', 1, '50', '60'), add('y', 1, '10', '20'), add('z', 0, '00', 'ff')], 4);
    expect(byBucket.get(1)!.map((f) => f.path)).toEqual(['y', 'x']);
    expect(byBucket.get(1)![0]!.numRecords).toBe(3);
    expect(() => filesByBucket([add('x', 1, '10', '30'), add('y', 1, '20', '40')], 4)).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_LOG_CORRUPT' }));
    expect(() => filesByBucket([{ path: 'p', size: 1, stats: null, tags: null }], 4)).toThrow(
      expect.objectContaining({ code: 'OTSL_LAKE_LOG_CORRUPT', context: { file: 'p' } }),
    );
    expect(() => filesByBucket([add('x', 9, '10', '30')], 4)).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_LOG_CORRUPT' }));
  });
});
