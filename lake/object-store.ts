/**
 * One storage interface over file:// and oss:// (the kernel's StorageHandler contract):
 * `list` returns keys sorted, `put` with `ifAbsent` is atomic create-if-not-exists and reports an
 * existing object as OTSL_LAKE_ALREADY_EXISTS, nothing is ever overwritten by a log writer.
 * Keys are relative to the store's root and always use '/' separators.
 */

export interface ObjectMeta {
  key: string;
  size: number;
  /** Last modification, ms since epoch. */
  lastModified: number;
}

export interface PutOptions {
  /** Atomic create-if-absent; an existing object raises OTSL_LAKE_ALREADY_EXISTS. */
  ifAbsent?: boolean;
  signal?: AbortSignal;
}

export interface ListOptions {
  /** Only keys strictly greater than this one (lexicographic). */
  startAfter?: string;
  /** Stop after this many keys. */
  limit?: number;
  signal?: AbortSignal;
}

export interface GetOptions {
  /** Inclusive byte range [start, end]; end may be omitted for "to the end". */
  range?: { start: number; end?: number };
  signal?: AbortSignal;
}

export interface ObjectStore {
  /** A URI that names the root, e.g. file:///var/lake/orders or oss://bucket/prefix. */
  readonly uri: string;
  put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<ObjectMeta>;
  get(key: string, options?: GetOptions): Promise<Uint8Array>;
  /** null when the object does not exist. */
  head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectMeta | null>;
  /** Every key under `prefix` (recursively), sorted, paginated internally. */
  list(prefix: string, options?: ListOptions): Promise<ObjectMeta[]>;
  /** Deleting a missing object is not an error. */
  delete(key: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** A store rooted at `root/prefix`. */
  child(prefix: string): ObjectStore;
  close?(): Promise<void>;
}
