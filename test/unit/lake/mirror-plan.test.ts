import { describe, expect, it } from 'vitest';
import { TAG_BUCKET, TAG_KEY_MAX, TAG_KEY_MIN, type MirrorFile } from '../../../lake/mirror/layout.js';
import { planBucketRewrite, planMergeTasks } from '../../../lake/mirror/plan.js';
import { bucketRanges } from '../../../lake/mirror/resync-diff.js';

const file = (path: string, keyMin: string, keyMax: string, size = 1000): MirrorFile => ({ path, bucket: 0, keyMin, keyMax, size, numRecords: 10 });
const files = [file('f1', '10', '19'), file('f2', '30', '39'), file('f3', '50', '59'), file('f4', '70', '79')];

describe('mirror rewrite planning', () => {
  it('finds the file of each key from the ranges alone, new keys going to the left neighbour', () => {
    const runs = planBucketRewrite(files, ['05', '15', '55', '60'], 100);
    expect(runs.map((r) => ({ files: r.files.map((f) => f.path), keys: r.keys }))).toEqual([
      { files: ['f1'], keys: ['05', '15'] },
      { files: ['f3'], keys: ['55', '60'] },
    ]);
  });

  it('joins adjacent touched files into one run, and touches nothing without keys', () => {
    expect(planBucketRewrite(files, ['31', '51'], 100).map((r) => r.files.map((f) => f.path))).toEqual([['f2', 'f3']]);
    expect(planBucketRewrite(files, [], 100)).toEqual([]);
    expect(planBucketRewrite([], ['01'], 100)).toEqual([{ files: [], keys: ['01'] }]);
  });

  it('takes a neighbour along when a touched file is small', () => {
    const small = [file('f1', '10', '19'), file('f2', '30', '39', 10), file('f3', '50', '59'), file('f4', '70', '79', 10)];
    expect(planBucketRewrite(small, ['33'], 100).map((r) => r.files.map((f) => f.path))).toEqual([['f2', 'f3']]);
    expect(planBucketRewrite(small, ['77'], 100).map((r) => r.files.map((f) => f.path))).toEqual([['f3', 'f4']]);
  });

  it("spreads touched buckets over tasks by bytes, each with only its buckets' files", () => {
    const add = (path: string, bucket: number, size: number) => ({
      path,
      size,
      stats: null,
      tags: { [TAG_BUCKET]: String(bucket), [TAG_KEY_MIN]: path, [TAG_KEY_MAX]: path },
    });
    const adds = [add('a', 0, 900), add('b', 1, 500), add('c', 2, 400), add('d', 3, 50)];
    const tasks = planMergeTasks(adds, 4, { maxTasks: 2, touchedBuckets: [0, 1, 2, 2] });
    expect(tasks.map((t) => t.buckets)).toEqual([[0], [1, 2]]);
    expect(tasks[1]!.files.map((f) => f.path).sort()).toEqual(['b', 'c']);
    expect(planMergeTasks(adds, 4, { maxTasks: 8 }).length).toBe(4);
  });
});

describe('resync diff task ranges', () => {
  it('splits buckets into contiguous near-equal ranges in order, never more ranges than buckets', () => {
    expect(bucketRanges(4, 4)).toEqual([[0], [1], [2], [3]]);
    expect(bucketRanges(10, 4)).toEqual([
      [0, 1],
      [2, 3, 4],
      [5, 6],
      [7, 8, 9],
    ]);
    expect(bucketRanges(3, 8)).toEqual([[0], [1], [2]]);
    expect(bucketRanges(5, 1)).toEqual([[0, 1, 2, 3, 4]]);
    expect(bucketRanges(16, 0)).toEqual([Array.from({ length: 16 }, (_, i) => i)]);
    const big = bucketRanges(4096, 6);
    expect(big.flat()).toEqual(Array.from({ length: 4096 }, (_, i) => i));
    expect(Math.max(...big.map((r) => r.length)) - Math.min(...big.map((r) => r.length))).toBeLessThanOrEqual(1);
  });
});
