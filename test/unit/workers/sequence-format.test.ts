import { describe, expect, it } from 'vitest';
import { formatSequence } from '../../../workers/changelog-rows.js';

/** The format spelled out plainly: %08x:%016x:%08x of the unsigned 32/64/32-bit patterns. */
function reference(epoch: number, timestampUs: number, rowIndex: number): string {
  const u = (v: number | bigint, bits: number) =>
    BigInt.asUintN(bits, BigInt(v))
      .toString(16)
      .padStart(bits / 4, '0');
  return `${u(epoch, 32)}:${u(timestampUs, 64)}:${u(rowIndex, 32)}`;
}

describe('formatSequence (byte-table fast path with cached high words)', () => {
  it('matches the plain formatting on edges and on random values, whatever came before', () => {
    const edges: Array<[number, number, number]> = [
      [0, 0, 0],
      [-1, 2 ** 53 - 1, -1],
      [1, 2 ** 32 - 1, 2 ** 31],
      [1, 2 ** 32, 0],
      [0x7fffffff, 1_700_000_000_123_456, 65_535],
      [-5, -1, 3],
      [0, -(2 ** 40), 0], // negative timestamps take the general path
    ];
    let seed = 7;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const cases = [...edges];
    for (let i = 0; i < 2000; i++) {
      // Runs that share epoch and high word, then jumps: the cache must follow both.
      const epoch = rand() < 0.9 ? 0 : Math.floor(rand() * 2 ** 32) - 2 ** 31;
      const ts = rand() < 0.5 ? 1_700_000_000_000_000 + i : Math.floor(rand() * 2 ** 53);
      cases.push([epoch, ts, Math.floor(rand() * 2 ** 32)]);
    }
    for (const [e, t, r] of [...cases, ...cases.reverse()]) expect(formatSequence(e, t, r)).toBe(reference(e, t, r));
  });
});
