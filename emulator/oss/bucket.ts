/**
 * One emulated bucket: objects with their attributes, kept sorted for listings, held in memory or
 * under a data directory. Every mutation of a key runs under that key's lock, so that the existence
 * check of `x-oss-forbid-overwrite` and the write are one atomic step even when the write awaits disk.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareKeys } from '../../lake/object-key.js';

export interface ObjectAttributes {
  contentType: string;
  /** User metadata, names lower-cased and without the `x-oss-meta-` prefix. */
  meta: Record<string, string>;
  type: 'Normal' | 'Multipart';
  /** Quoted upper-case hex, as OSS sends it. */
  etag: string;
}

export interface StoredObject extends ObjectAttributes {
  key: string;
  size: number;
  lastModifiedMs: number;
}

interface Entry extends StoredObject {
  /** Memory mode: the bytes. Data-dir mode: the file name holding them. */
  body?: Buffer;
  dataFile?: string;
}

export type WriteResult = { written: true; object: StoredObject } | { written: false; existing: StoredObject };

export function md5Etag(body: Uint8Array): string {
  return `"${createHash('md5').update(body).digest('hex').toUpperCase()}"`;
}

function describe(entry: Entry): StoredObject {
  const { body: _body, dataFile: _file, ...object } = entry;
  return object;
}

/** Index of the first element of `keys` strictly greater than `after` (or ≥ `from` when inclusive). */
export function lowerBound(keys: readonly string[], target: string, inclusive: boolean): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(keys[mid]!, target);
    if (c < 0 || (!inclusive && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Bucket {
  private readonly entries = new Map<string, Entry>();
  private readonly sortedKeys: string[] = [];
  private readonly locks = new Map<string, Promise<unknown>>();

  private constructor(
    readonly name: string,
    private readonly dir: string | undefined,
  ) {}

  /** A bucket in memory, or persisted under `<dataDir>/<name>/` (reloaded from there on open). */
  static async open(name: string, dataDir?: string): Promise<Bucket> {
    const bucket = new Bucket(name, dataDir === undefined ? undefined : join(dataDir, name));
    if (bucket.dir !== undefined) await bucket.load(bucket.dir);
    return bucket;
  }

  private async load(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(dir)) {
      if (!name.endsWith('.json')) continue;
      const entry = JSON.parse(await readFile(join(dir, name), 'utf8')) as Entry;
      this.entries.set(entry.key, entry);
      this.sortedKeys.push(entry.key);
    }
    this.sortedKeys.sort(compareKeys);
  }

  get size(): number {
    return this.entries.size;
  }

  head(key: string): StoredObject | undefined {
    const entry = this.entries.get(key);
    return entry === undefined ? undefined : describe(entry);
  }

  /** Bytes [start, endExclusive) of an object, or undefined when it does not exist. */
  async read(key: string, start = 0, endExclusive?: number): Promise<Buffer | undefined> {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const body = entry.body ?? (await readFile(join(this.dir!, entry.dataFile!)));
    return body.subarray(start, endExclusive ?? body.length);
  }

  /** Keys in list order, the first one strictly after `after` and not before `from`. */
  *keysFrom(from: string, after: string): Generator<string> {
    let i = Math.max(lowerBound(this.sortedKeys, from, true), after === '' ? 0 : lowerBound(this.sortedKeys, after, false));
    for (; i < this.sortedKeys.length; i += 1) yield this.sortedKeys[i]!;
  }

  /** Writes unless `ifAbsent` and the key exists; check and write are atomic per key. */
  write(key: string, body: Buffer, attributes: ObjectAttributes, ifAbsent: boolean): Promise<WriteResult> {
    return this.withLock(key, async () => {
      const existing = this.entries.get(key);
      if (ifAbsent && existing !== undefined) return { written: false, existing: describe(existing) };
      const entry: Entry = { key, size: body.length, lastModifiedMs: Date.now(), ...attributes, meta: { ...attributes.meta } };
      if (this.dir === undefined) {
        entry.body = body;
      } else {
        entry.dataFile = await this.persist(key, body, entry);
      }
      if (existing === undefined) this.sortedKeys.splice(lowerBound(this.sortedKeys, key, true), 0, key);
      this.entries.set(key, entry);
      if (existing?.dataFile !== undefined) await unlink(join(this.dir!, existing.dataFile)).catch(() => undefined);
      return { written: true, object: describe(entry) };
    });
  }

  delete(key: string): Promise<boolean> {
    return this.withLock(key, async () => {
      const existing = this.entries.get(key);
      if (existing === undefined) return false;
      this.entries.delete(key);
      this.sortedKeys.splice(lowerBound(this.sortedKeys, key, true), 1);
      if (existing.dataFile !== undefined) {
        await unlink(join(this.dir!, `${existing.dataFile.split('.')[0]}.json`)).catch(() => undefined);
        await unlink(join(this.dir!, existing.dataFile)).catch(() => undefined);
      }
      return true;
    });
  }

  /**
   * Data first under a fresh name, then the metadata file renamed over the old one: a crash leaves
   * either the old object or the new one, never metadata pointing at missing bytes.
   */
  private async persist(key: string, body: Buffer, entry: Entry): Promise<string> {
    const id = createHash('sha256').update(key).digest('hex');
    const dataFile = `${id}.${randomUUID()}.data`;
    await writeFile(join(this.dir!, dataFile), body);
    const tmp = join(this.dir!, `${id}.${randomUUID()}.tmp`);
    await writeFile(tmp, JSON.stringify({ ...describe(entry), dataFile }));
    await rename(tmp, join(this.dir!, `${id}.json`));
    return dataFile;
  }

  private withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }
}
