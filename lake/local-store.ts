/**
 * ObjectStore on a local filesystem (file://).
 *
 * Every put writes a temp file beside the target and fsyncs it, so readers see a whole object or
 * none. A plain put then renames over the target; put-if-absent instead `link()`s the temp file to
 * the target, which fails with EEXIST when the target exists — atomic create-if-absent without ever
 * exposing a half-written file (O_EXCL on the target itself would). The directory is fsynced after
 * either, so the new name survives a crash. Temp names start with TEMP_PREFIX: never a Delta log
 * name, skipped by `list`, and in the same directory so link/rename never cross filesystems.
 */
import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { link, mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OtslakeError } from '../common/errors.js';
import { throwIfAborted } from '../common/retry.js';
import type { GetOptions, ListOptions, ObjectMeta, ObjectStore, PutOptions } from './object-store.js';
import { clampRange, compareKeys, normalizeRoot, validateKey, validatePrefix } from './object-key.js';

export const TEMP_PREFIX = '.otslake-tmp-';

/** How many stat() calls one list() keeps in flight. */
const LIST_STAT_CONCURRENCY = 32;

export interface LocalStoreOptions {
  /** fsync files and directories on put (default true). Only benchmarks and throwaway data turn it off. */
  fsync?: boolean;
}

const RETRIABLE_ERRNO = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR']);
const MISSING_ERRNO = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

export class LocalStore implements ObjectStore {
  readonly uri: string;
  private readonly fsync: boolean;

  /** `rootDir` must be absolute; it is created on the first put. */
  constructor(
    readonly rootDir: string,
    options: LocalStoreOptions = {},
  ) {
    if (!rootDir.startsWith('/')) {
      throw new OtslakeError('OTSL_LAKE_URI_INVALID', `local store root must be an absolute path, got "${rootDir}"`, { context: { uri: rootDir } });
    }
    this.rootDir = rootDir.length > 1 ? rootDir.replace(/\/+$/, '') : rootDir;
    this.uri = pathToFileURL(this.rootDir).href;
    this.fsync = options.fsync ?? true;
  }

  private pathOf(key: string): string {
    return join(this.rootDir, key);
  }

  private ioError(op: string, key: string, err: unknown): OtslakeError {
    const errno = errnoOf(err);
    return new OtslakeError('OTSL_LAKE_IO', `local ${op} of "${key}" in ${this.uri} failed: ${(err as Error).message}`, {
      cause: err,
      retriable: errno !== undefined && RETRIABLE_ERRNO.has(errno),
      context: { uri: this.uri, key, file: this.pathOf(key), op, ...(errno ? { errno } : {}) },
    });
  }

  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<ObjectMeta> {
    validateKey(key, { uri: this.uri });
    throwIfAborted(options.signal);
    const target = this.pathOf(key);
    const dir = dirname(target);
    const tmp = join(dir, `${TEMP_PREFIX}${randomUUID()}`);
    let meta: ObjectMeta;
    try {
      await this.ensureDir(dir);
      meta = await this.writeTemp(tmp, key, body, options.signal);
      if (options.ifAbsent) {
        try {
          await link(tmp, target);
        } catch (err) {
          if (errnoOf(err) === 'EEXIST') {
            throw new OtslakeError('OTSL_LAKE_ALREADY_EXISTS', `"${key}" already exists in ${this.uri}`, { context: { uri: this.uri, key } });
          }
          throw err;
        }
      } else {
        await rename(tmp, target);
      }
      if (this.fsync) await fsyncDir(dir);
    } catch (err) {
      throw err instanceof OtslakeError ? err : this.ioError('put', key, err);
    } finally {
      // After a rename the temp name is gone already; after link (or a failure) it must go.
      await unlink(tmp).catch(() => undefined);
    }
    return meta;
  }

  private async writeTemp(tmp: string, key: string, body: Uint8Array | AsyncIterable<Uint8Array>, signal: AbortSignal | undefined): Promise<ObjectMeta> {
    const fh = await open(tmp, 'wx');
    try {
      if (body instanceof Uint8Array) {
        await writeAll(fh, body);
      } else {
        for await (const chunk of body) {
          throwIfAborted(signal);
          await writeAll(fh, chunk);
        }
      }
      if (this.fsync) await fh.sync();
      const st = await fh.stat();
      return { key, size: st.size, lastModified: Math.floor(st.mtimeMs) };
    } finally {
      await fh.close();
    }
  }

  /** mkdir -p, then fsync the parents of every directory it created so their names are durable. */
  private async ensureDir(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true });
    if (first === undefined || !this.fsync) return;
    const parents: string[] = [];
    for (let d = dir; d !== first; d = dirname(d)) parents.push(dirname(d));
    parents.push(dirname(first));
    for (const parent of parents) await fsyncDir(parent);
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    validateKey(key, { uri: this.uri });
    throwIfAborted(options.signal);
    let fh: FileHandle;
    try {
      fh = await open(this.pathOf(key), 'r');
    } catch (err) {
      if (MISSING_ERRNO.has(errnoOf(err) ?? '')) throw this.notFound(key);
      throw this.ioError('get', key, err);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw this.notFound(key);
      if (options.range === undefined) return new Uint8Array(await fh.readFile());
      const { start, end } = clampRange(options.range, st.size, { uri: this.uri, key });
      const out = new Uint8Array(end - start + 1);
      let filled = 0;
      while (filled < out.length) {
        const { bytesRead } = await fh.read(out, filled, out.length - filled, start + filled);
        if (bytesRead === 0) break; // truncated underneath us: return what exists
        filled += bytesRead;
      }
      return filled === out.length ? out : out.subarray(0, filled);
    } catch (err) {
      throw err instanceof OtslakeError ? err : this.ioError('get', key, err);
    } finally {
      await fh.close();
    }
  }

  private notFound(key: string): OtslakeError {
    return new OtslakeError('OTSL_LAKE_NOT_FOUND', `"${key}" does not exist in ${this.uri}`, { context: { uri: this.uri, key } });
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectMeta | null> {
    validateKey(key, { uri: this.uri });
    throwIfAborted(options.signal);
    try {
      const st = await stat(this.pathOf(key));
      return st.isFile() ? { key, size: st.size, lastModified: Math.floor(st.mtimeMs) } : null;
    } catch (err) {
      if (MISSING_ERRNO.has(errnoOf(err) ?? '')) return null;
      throw this.ioError('head', key, err);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ObjectMeta[]> {
    validatePrefix(prefix, { uri: this.uri });
    throwIfAborted(options.signal);
    // Walk only the directory the prefix points into, and only sub-directories that can match.
    const baseDir = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const keys: string[] = [];
    await this.walk(baseDir, prefix, keys, options.signal);
    keys.sort(compareKeys);
    const startAfter = options.startAfter;
    let selected = startAfter === undefined ? keys : keys.filter((k) => compareKeys(k, startAfter) > 0);
    if (options.limit !== undefined) selected = selected.slice(0, Math.max(0, options.limit));
    // stat() in parallel (bounded): a log of tens of thousands of commits is listed in one pass.
    const metas: (ObjectMeta | null)[] = new Array(selected.length);
    let next = 0;
    const worker = async () => {
      while (next < selected.length) {
        const i = next++;
        metas[i] = await this.head(selected[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(LIST_STAT_CONCURRENCY, selected.length) }, worker));
    // A key deleted while listing is skipped, as a listing snapshot would.
    return metas.filter((m): m is ObjectMeta => m !== null);
  }

  private async walk(relDir: string, prefix: string, keys: string[], signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(signal);
    let entries: Dirent[];
    try {
      entries = await readdir(this.pathOf(relDir === '' ? '.' : relDir), { withFileTypes: true });
    } catch (err) {
      if (MISSING_ERRNO.has(errnoOf(err) ?? '')) return;
      throw this.ioError('list', relDir, err);
    }
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_PREFIX)) continue;
      const rel = relDir + entry.name;
      if (entry.isDirectory()) {
        const asDir = `${rel}/`;
        if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) await this.walk(asDir, prefix, keys, signal);
      } else if (rel.startsWith(prefix)) {
        keys.push(rel);
      }
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    validateKey(key, { uri: this.uri });
    throwIfAborted(options.signal);
    try {
      await unlink(this.pathOf(key));
    } catch (err) {
      if (MISSING_ERRNO.has(errnoOf(err) ?? '')) return;
      throw this.ioError('delete', key, err);
    }
  }

  child(prefix: string): LocalStore {
    const root = normalizeRoot(prefix, { uri: this.uri });
    return new LocalStore(root === '' ? this.rootDir : join(this.rootDir, root), { fsync: this.fsync });
  }
}

async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await fh.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
