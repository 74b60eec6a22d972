/**
 * A minimal filesystem ObjectStore for reader tests (get/head/list, plus a plain put for fixtures).
 * Not atomic: the real one is lake/local-store.ts.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { OtslakeError } from '../../common/errors.js';
import type { GetOptions, ListOptions, ObjectMeta, ObjectStore } from '../../lake/object-store.js';

export class FsStore implements ObjectStore {
  readonly uri: string;
  constructor(readonly root: string) {
    this.uri = `file://${root}`;
  }

  private abs(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>): Promise<ObjectMeta> {
    const chunks: Uint8Array[] = [];
    if (body instanceof Uint8Array) chunks.push(body);
    else for await (const c of body) chunks.push(c);
    await fs.mkdir(path.dirname(this.abs(key)), { recursive: true });
    await fs.writeFile(this.abs(key), Buffer.concat(chunks));
    return (await this.head(key))!;
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    try {
      const buf = await fs.readFile(this.abs(key));
      if (!options.range) return buf;
      return buf.subarray(options.range.start, options.range.end === undefined ? undefined : options.range.end + 1);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new OtslakeError('OTSL_LAKE_NOT_FOUND', `no object ${key}`, { context: { key } });
      throw err;
    }
  }

  async head(key: string): Promise<ObjectMeta | null> {
    try {
      const st = await fs.stat(this.abs(key));
      return st.isFile() ? { key, size: st.size, lastModified: st.mtimeMs } : null;
    } catch {
      return null;
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ObjectMeta[]> {
    const out: ObjectMeta[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(path.join(dir, e.name), key);
        else if (key.startsWith(prefix)) {
          const st = await fs.stat(path.join(dir, e.name));
          out.push({ key, size: st.size, lastModified: st.mtimeMs });
        }
      }
    };
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await walk(base ? this.abs(base) : this.root, base);
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const after = options.startAfter;
    const filtered = after === undefined ? out : out.filter((o) => o.key > after);
    return options.limit === undefined ? filtered : filtered.slice(0, options.limit);
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.abs(key), { force: true });
  }

  child(prefix: string): ObjectStore {
    return new FsStore(this.abs(prefix));
  }
}
