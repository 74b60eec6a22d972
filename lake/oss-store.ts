/**
 * ObjectStore on Alibaba Cloud OSS (oss://bucket/prefix) through `ali-oss`.
 *
 * Put-if-absent sends `x-oss-forbid-overwrite: true`; a 409 FileAlreadyExists means "exists". Each
 * logical put also carries a unique `x-oss-meta-otslake-write-id`: when a *retry* meets 409, the
 * first attempt may have landed without us seeing the answer (timeout, dropped connection), so the
 * object is HEADed and a matching write id is our own success, not a conflict. Without this a commit
 * that succeeded would be reported lost and redone as the next version — a duplicate.
 *
 * Bodies at or above the multipart threshold are uploaded in parts; forbid-overwrite and the write
 * id ride on initiate and complete, so the same rules hold for large objects.
 */
import { randomUUID } from 'node:crypto';
import { OtslakeError } from '../common/errors.js';
import type { GetOptions, ListOptions, ObjectMeta, ObjectStore, PutOptions } from './object-store.js';
import { joinKey, normalizeRoot, validateKey, validatePrefix, validateRange } from './object-key.js';
import { OssConnection, isAlreadyExists, isNoSuchKey, ossStatus, type OssStoreOptions } from './oss-client.js';

export type { OssStoreOptions, OssCredentials } from './oss-client.js';

const WRITE_ID_META = 'otslake-write-id';
const WRITE_ID_HEADER = `x-oss-meta-${WRITE_ID_META}`;

type Body = Uint8Array | AsyncIterable<Uint8Array>;

interface HeadResult {
  size: number;
  lastModified: number;
  writeId: string | undefined;
}

export class OssStore implements ObjectStore {
  readonly uri: string;

  /** Opens a client for `options.bucket`, rooted at `options.prefix`. */
  static open(options: OssStoreOptions): OssStore {
    return new OssStore(new OssConnection(options), normalizeRoot(options.prefix ?? ''), true);
  }

  private constructor(
    private readonly conn: OssConnection,
    /** Key prefix inside the bucket, without a trailing slash ('' = bucket root). */
    readonly root: string,
    private readonly ownsConnection: boolean,
  ) {
    this.uri = `oss://${conn.bucket}${root === '' ? '' : `/${root}`}`;
  }

  private full(key: string): string {
    return joinKey(this.root, key);
  }

  private context(key: string) {
    return { uri: this.uri, key };
  }

  async put(key: string, body: Body, options: PutOptions = {}): Promise<ObjectMeta> {
    validateKey(key, { uri: this.uri });
    const writeId = randomUUID();
    const ifAbsent = options.ifAbsent ?? false;
    const parts = partsOf(body, this.conn.partSizeBytes);
    // Buffer up to the threshold: small bodies (the Delta log) go as one PutObject.
    const buffered: Uint8Array[] = [];
    let bufferedBytes = 0;
    let exhausted = false;
    while (bufferedBytes < this.conn.thresholdBytes) {
      const next = await parts.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      buffered.push(next.value);
      bufferedBytes += next.value.length;
    }
    if (exhausted) return this.putSimple(key, concat(buffered, bufferedBytes), writeId, ifAbsent, options.signal);
    return this.putMultipart(key, buffered, parts, writeId, ifAbsent, options.signal);
  }

  private headers(writeId: string, ifAbsent: boolean): Record<string, string> {
    return { [WRITE_ID_HEADER]: writeId, ...(ifAbsent ? { 'x-oss-forbid-overwrite': 'true' } : {}) };
  }

  private async putSimple(key: string, data: Buffer, writeId: string, ifAbsent: boolean, signal: AbortSignal | undefined): Promise<ObjectMeta> {
    return this.conn.call('PutObject', this.context(key), signal, async (attempt) => {
      try {
        const result = await this.conn.client.put(this.full(key), data, { headers: this.headers(writeId, ifAbsent), timeout: this.conn.timeoutMs });
        return { key, size: data.length, lastModified: dateOf(result.res.headers as Record<string, string>) };
      } catch (err) {
        if (ifAbsent && isAlreadyExists(err)) return this.resolveConflict(key, writeId, attempt, err, signal);
        throw err;
      }
    });
  }

  /**
   * A 409 on the first attempt is a genuine conflict. On a retry it may be our own earlier attempt:
   * the write id decides.
   */
  private async resolveConflict(key: string, writeId: string, attempt: number, err: unknown, signal: AbortSignal | undefined): Promise<ObjectMeta> {
    if (attempt > 1) {
      const existing = await this.headRaw(key, signal);
      if (existing !== null && existing.writeId === writeId) return { key, size: existing.size, lastModified: existing.lastModified };
    }
    throw this.alreadyExists(key, err, attempt);
  }

  private alreadyExists(key: string, err: unknown, attempts: number): OtslakeError {
    return new OtslakeError('OTSL_LAKE_ALREADY_EXISTS', `"${key}" already exists in ${this.uri}`, {
      context: { ...this.context(key), requestId: (err as { requestId?: string }).requestId, attempts },
    });
  }

  private async putMultipart(
    key: string,
    first: Uint8Array[],
    rest: AsyncIterator<Uint8Array>,
    writeId: string,
    ifAbsent: boolean,
    signal: AbortSignal | undefined,
  ): Promise<ObjectMeta> {
    const name = this.full(key);
    const client = this.conn.client;
    const timeout = this.conn.timeoutMs;
    const context = this.context(key);
    const { uploadId } = await this.conn.call('InitiateMultipartUpload', context, signal, async (attempt) => {
      try {
        return await client.initMultipartUpload(name, { headers: this.headers(writeId, ifAbsent), timeout });
      } catch (err) {
        // Nothing of ours can exist before complete, so a 409 here is a genuine conflict.
        if (ifAbsent && isAlreadyExists(err)) throw this.alreadyExists(key, err, attempt);
        throw err;
      }
    });
    const done: Array<{ number: number; etag: string }> = [];
    const inFlight = new Set<Promise<void>>();
    let size = 0;
    try {
      const uploadOne = (part: Uint8Array, partNumber: number) =>
        this.conn.call('UploadPart', { ...context, partNumber }, signal, async () => {
          const data = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
          const result = await client.uploadPart(name, uploadId, partNumber, data, 0, data.length, { timeout });
          done.push({ number: partNumber, etag: result.etag });
        });
      const pending = first.values();
      for (let partNumber = 1; ; partNumber += 1) {
        const fromBuffer = pending.next();
        const next = fromBuffer.done ? await rest.next() : fromBuffer;
        if (next.done) break;
        size += next.value.length;
        const task: Promise<void> = uploadOne(next.value, partNumber).finally(() => inFlight.delete(task));
        task.catch(() => undefined); // failures surface through race/all below
        inFlight.add(task);
        if (inFlight.size >= this.conn.partConcurrency) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      done.sort((a, b) => a.number - b.number);
      return await this.conn.call('CompleteMultipartUpload', context, signal, async (attempt) => {
        try {
          const result = await client.completeMultipartUpload(name, uploadId, done, {
            headers: ifAbsent ? { 'x-oss-forbid-overwrite': 'true' } : {},
            timeout,
          });
          return { key, size, lastModified: dateOf(result.res.headers as Record<string, string>) };
        } catch (err) {
          // After an unseen successful complete, a retry finds the object present or the upload gone.
          const conflict = ifAbsent && isAlreadyExists(err);
          if (attempt > 1 && (conflict || (err as { code?: string }).code === 'NoSuchUpload')) {
            const existing = await this.headRaw(key, signal);
            if (existing !== null && existing.writeId === writeId) return { key, size: existing.size, lastModified: existing.lastModified };
          }
          if (conflict) throw this.alreadyExists(key, err, attempt);
          throw err;
        }
      });
    } catch (err) {
      await Promise.allSettled(inFlight);
      await client.abortMultipartUpload(name, uploadId, { timeout }).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    validateKey(key, { uri: this.uri });
    const range = options.range;
    if (range !== undefined) validateRange(range, this.context(key));
    return this.conn.call('GetObject', this.context(key), options.signal, async () => {
      const headers: Record<string, string> =
        range === undefined ? {} : { Range: `bytes=${range.start}-${range.end ?? ''}`, 'x-oss-range-behavior': 'standard' };
      let result;
      try {
        result = await this.conn.client.get(this.full(key), undefined, { headers, timeout: this.conn.timeoutMs });
      } catch (err) {
        if (ossStatus(err) === 416) {
          throw new OtslakeError('OTSL_LAKE_RANGE_INVALID', `range start ${range?.start} is beyond the end of "${key}" in ${this.uri}`, {
            context: { ...this.context(key), start: range?.start, end: range?.end, requestId: (err as { requestId?: string }).requestId },
          });
        }
        throw err;
      }
      const content = result.content as Buffer;
      const bytes = new Uint8Array(content.buffer, content.byteOffset, content.byteLength);
      // A server that ignored the Range header sent the whole object: cut the range out here.
      if (range !== undefined && result.res.status === 200) {
        if (range.start >= bytes.length)
          throw new OtslakeError('OTSL_LAKE_RANGE_INVALID', `range start ${range.start} is beyond the end of "${key}"`, { context: this.context(key) });
        return bytes.subarray(range.start, range.end === undefined ? bytes.length : range.end + 1);
      }
      return bytes;
    });
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectMeta | null> {
    validateKey(key, { uri: this.uri });
    const found = await this.headRaw(key, options.signal);
    return found === null ? null : { key, size: found.size, lastModified: found.lastModified };
  }

  private headRaw(key: string, signal: AbortSignal | undefined): Promise<HeadResult | null> {
    return this.conn.call('HeadObject', this.context(key), signal, async () => {
      try {
        const result = await this.conn.client.head(this.full(key), { timeout: this.conn.timeoutMs });
        const headers = result.res.headers as Record<string, string>;
        const meta = (result.meta ?? {}) as Record<string, string>;
        return { size: Number(headers['content-length'] ?? 0), lastModified: dateOf(headers, 'last-modified'), writeId: meta[WRITE_ID_META] };
      } catch (err) {
        if (isNoSuchKey(err)) return null;
        throw err;
      }
    });
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ObjectMeta[]> {
    validatePrefix(prefix, { uri: this.uri });
    const rootPrefix = this.root === '' ? '' : `${this.root}/`;
    const out: ObjectMeta[] = [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    let token: string | null = null;
    while (out.length < limit) {
      const pageSize = Math.min(this.conn.listPageSize, limit - out.length);
      const query: Record<string, string> = { prefix: rootPrefix + prefix, 'max-keys': String(pageSize) };
      if (token !== null) query['continuation-token'] = token;
      else if (options.startAfter !== undefined) query['start-after'] = rootPrefix + options.startAfter;
      const page = await this.conn.call('ListObjectsV2', { uri: this.uri, prefix }, options.signal, () =>
        this.conn.client.listV2(query as never, { timeout: this.conn.timeoutMs }),
      );
      for (const object of page.objects ?? []) {
        out.push({ key: object.name.slice(rootPrefix.length), size: Number(object.size), lastModified: Date.parse(object.lastModified) });
      }
      token = page.nextContinuationToken ?? null;
      if (!page.isTruncated || token === null) break;
    }
    return out.length > limit ? out.slice(0, limit) : out;
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    validateKey(key, { uri: this.uri });
    await this.conn.call('DeleteObject', this.context(key), options.signal, async () => {
      try {
        await this.conn.client.delete(this.full(key), { timeout: this.conn.timeoutMs });
      } catch (err) {
        if (isNoSuchKey(err)) return;
        throw err;
      }
    });
  }

  child(prefix: string): OssStore {
    const sub = normalizeRoot(prefix, { uri: this.uri });
    return new OssStore(this.conn, sub === '' ? this.root : joinKey(this.root, sub), false);
  }

  /** Releases the connection's sockets; children share their parent's connection and close nothing. */
  async close(): Promise<void> {
    if (this.ownsConnection) this.conn.close();
  }
}

function dateOf(headers: Record<string, string>, name = 'date'): number {
  const parsed = Date.parse(headers[name] ?? '');
  return Number.isFinite(parsed) ? parsed : Date.now();
}

function concat(chunks: Uint8Array[], total: number): Buffer {
  if (chunks.length === 1) return Buffer.from(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.byteLength);
  return Buffer.concat(chunks, total);
}

/** The body cut into parts of exactly `partSize` bytes (the last one shorter). */
async function* partsOfIterable(body: AsyncIterable<Uint8Array>, partSize: number): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of body) {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(partSize - pendingBytes, chunk.length - offset);
      pending.push(chunk.subarray(offset, offset + take));
      pendingBytes += take;
      offset += take;
      if (pendingBytes === partSize) {
        yield Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

function partsOf(body: Body, partSize: number): AsyncIterator<Uint8Array> {
  if (body instanceof Uint8Array) {
    return (async function* () {
      if (body.length === 0) yield body;
      for (let offset = 0; offset < body.length; offset += partSize) yield body.subarray(offset, offset + partSize);
    })();
  }
  return partsOfIterable(body, partSize);
}
