/**
 * Where a mirror table keeps each row (docs/mirror.md §Layout).
 *
 * Rows live in `buckets` hash buckets of the encoded primary key; inside a bucket, files hold rows
 * sorted by key with non-overlapping key ranges. Bucket and range are recorded on the `add` itself
 * (tags), so a changed key's file is found from the snapshot's file list alone, without reading
 * data. The table stays unpartitioned (partitionColumns empty): every Delta reader sees a plain table.
 */
import { OtslakeError } from '../../common/errors.js';
import type { Add, Protocol } from '../actions.js';
import { decodeLogPath } from '../partition-path.js';
import { compareKeys } from './key-encoding.js';

export const MIRROR_MODE_PROPERTY = 'otslake.mode';
const MIRROR_BUCKETS_PROPERTY = 'otslake.mirror.buckets';
/** Comma-separated primary-key column names, in key order, so tools can rebuild the layout from the table alone. */
const MIRROR_PRIMARY_KEY_PROPERTY = 'otslake.mirror.primaryKey';
const CDF_PROPERTY = 'delta.enableChangeDataFeed';
export const DEFAULT_MIRROR_BUCKETS = 16;
export const MAX_MIRROR_BUCKETS = 4096;

export const TAG_BUCKET = 'otslake.bucket';
export const TAG_KEY_MIN = 'otslake.keyMin';
export const TAG_KEY_MAX = 'otslake.keyMax';

/** Where `_change_data/` files go (docs/delta-rules.md §Change Data Feed). */
export const CHANGE_DATA_DIR = '_change_data/';

/** One live file of a mirror table, as the layout sees it. */
export interface MirrorFile {
  /** `add.path` as in the log (URI-encoded): what a remove must name. */
  readonly path: string;
  readonly bucket: number;
  readonly keyMin: string;
  readonly keyMax: string;
  readonly size: number;
  readonly numRecords: number;
}

export interface MirrorTableOptions {
  readonly primaryKey: readonly string[];
  readonly buckets?: number;
  readonly changeDataFeed?: boolean;
}

function checkBuckets(buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_MIRROR_BUCKETS) {
    throw new OtslakeError('OTSL_CONFIG_INVALID', `${MIRROR_BUCKETS_PROPERTY} must be an integer in 1..${MAX_MIRROR_BUCKETS}, got ${buckets}`, {
      context: { property: MIRROR_BUCKETS_PROPERTY },
    });
  }
  return buckets;
}

/** Table properties of a new mirror table (fixed at creation: the bucket count can never change). */
export function mirrorTableConfiguration(options: MirrorTableOptions): Record<string, string> {
  if (options.primaryKey.length === 0) throw new OtslakeError('OTSL_LAKE_SCHEMA', 'a mirror table needs at least one primary-key column');
  return {
    [MIRROR_MODE_PROPERTY]: 'mirror',
    [MIRROR_BUCKETS_PROPERTY]: String(checkBuckets(options.buckets ?? DEFAULT_MIRROR_BUCKETS)),
    [MIRROR_PRIMARY_KEY_PROPERTY]: options.primaryKey.join(','),
    ...(options.changeDataFeed ? { [CDF_PROPERTY]: 'true' } : {}),
  };
}

/** Writer 4 is what honours delta.enableChangeDataFeed; readers stay at version 1 (docs/delta-rules.md §Protocol versions). */
export function mirrorProtocol(changeDataFeed: boolean): Protocol {
  return { minReaderVersion: 1, minWriterVersion: changeDataFeed ? 4 : 2 };
}

export interface MirrorSettings {
  readonly buckets: number;
  readonly primaryKey: string[];
  readonly changeDataFeed: boolean;
}

/** Reads the layout back from a table's configuration; a table that is not a mirror is OTSL_LAKE_SCHEMA. */
export function mirrorSettingsOf(configuration: Readonly<Record<string, string>>): MirrorSettings {
  const buckets = Number(configuration[MIRROR_BUCKETS_PROPERTY]);
  const pk = configuration[MIRROR_PRIMARY_KEY_PROPERTY];
  if (configuration[MIRROR_MODE_PROPERTY] !== 'mirror' || pk === undefined || pk === '') {
    throw new OtslakeError('OTSL_LAKE_SCHEMA', `the table is not a mirror table (${MIRROR_MODE_PROPERTY}, ${MIRROR_PRIMARY_KEY_PROPERTY} missing)`);
  }
  return { buckets: checkBuckets(buckets), primaryKey: pk.split(','), changeDataFeed: configuration[CDF_PROPERTY] === 'true' };
}

/** FNV-1a (32 bit) of the encoded key: stable across processes, versions and platforms. */
export function bucketOf(key: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

/** The tags that place a file in the layout. */
export function mirrorTags(bucket: number, keyMin: string, keyMax: string): Record<string, string> {
  return { [TAG_BUCKET]: String(bucket), [TAG_KEY_MIN]: keyMin, [TAG_KEY_MAX]: keyMax };
}

/** The layout view of an add; a file without the tags (written by another tool) is OTSL_LAKE_LOG_CORRUPT. */
function mirrorFileOf(add: Pick<Add, 'path' | 'tags' | 'size' | 'stats'>): MirrorFile {
  const tags = add.tags ?? {};
  const bucket = Number(tags[TAG_BUCKET]);
  const keyMin = tags[TAG_KEY_MIN];
  const keyMax = tags[TAG_KEY_MAX];
  if (!Number.isInteger(bucket) || bucket < 0 || keyMin === undefined || keyMax === undefined || keyMin > keyMax) {
    throw new OtslakeError(
      'OTSL_LAKE_LOG_CORRUPT',
      `mirror file ${add.path} has no valid ${TAG_BUCKET}/${TAG_KEY_MIN}/${TAG_KEY_MAX} tags: it was not written by the mirror engine (do not run OPTIMIZE on mirror tables)`,
      {
        context: { file: add.path },
      },
    );
  }
  let numRecords = -1;
  if (typeof add.stats === 'string') {
    const m = /"numRecords":(\d+)/.exec(add.stats);
    if (m) numRecords = Number(m[1]);
  }
  return { path: add.path, bucket, keyMin, keyMax, size: add.size, numRecords };
}

/** The object key of a mirror file (its `path` decoded). */
export function objectKeyOf(file: Pick<MirrorFile, 'path'>): string {
  return decodeLogPath(file.path);
}

/** Live files per bucket, each list sorted by keyMin; overlapping ranges mean a broken layout (OTSL_LAKE_LOG_CORRUPT). */
export function filesByBucket(adds: Iterable<Pick<Add, 'path' | 'tags' | 'size' | 'stats'>>, buckets: number): Map<number, MirrorFile[]> {
  const out = new Map<number, MirrorFile[]>();
  for (const add of adds) {
    const file = mirrorFileOf(add);
    if (file.bucket >= buckets) {
      throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `mirror file ${file.path} is in bucket ${file.bucket}, but the table has ${buckets}`, {
        context: { file: file.path },
      });
    }
    let list = out.get(file.bucket);
    if (!list) out.set(file.bucket, (list = []));
    list.push(file);
  }
  for (const [bucket, list] of out) {
    list.sort((a, b) => compareKeys(a.keyMin, b.keyMin));
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.keyMin <= list[i - 1]!.keyMax) {
        throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `mirror files ${list[i - 1]!.path} and ${list[i]!.path} of bucket ${bucket} overlap in key range`, {
          context: { file: list[i]!.path, bucket },
        });
      }
    }
  }
  return out;
}
