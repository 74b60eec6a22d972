/**
 * Delta log actions (docs/delta-rules.md §Actions) and their NDJSON form. Field names are the protocol's own.
 * Unknown actions and fields are kept through decode (readers must ignore, writers must not lose them).
 */
import { OtslakeError } from '../common/errors.js';

export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[];
  writerFeatures?: string[];
}

export interface Format {
  provider: string;
  options?: Record<string, string>;
}

export interface Metadata {
  id: string;
  name?: string | null;
  description?: string | null;
  format: Format;
  schemaString: string;
  partitionColumns: string[];
  createdTime?: number | null;
  configuration: Record<string, string>;
}

export interface DeletionVectorDescriptor {
  storageType: string;
  pathOrInlineDv: string;
  offset?: number | null;
  sizeInBytes: number;
  cardinality: number;
  maxRowIndex?: number | null;
}

export interface Add {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVectorDescriptor | null;
  baseRowId?: number | null;
  defaultRowCommitVersion?: number | null;
  clusteringProvider?: string | null;
}

export interface Remove {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean | null;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVectorDescriptor | null;
  baseRowId?: number | null;
  defaultRowCommitVersion?: number | null;
}

export interface Txn {
  appId: string;
  version: number;
  lastUpdated?: number | null;
}

export interface Cdc {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  dataChange: boolean;
  tags?: Record<string, string> | null;
}

export interface DomainMetadata {
  domain: string;
  configuration: string;
  removed: boolean;
}

export type CommitInfo = Record<string, unknown>;

/** One line of a commit file. Exactly one key is set; unknown action kinds are kept as `other`. */
export type Action =
  | { protocol: Protocol }
  | { metaData: Metadata }
  | { add: Add }
  | { remove: Remove }
  | { txn: Txn }
  | { cdc: Cdc }
  | { commitInfo: CommitInfo }
  | { domainMetadata: DomainMetadata }
  | { checkpointMetadata: { version: number; tags?: Record<string, string> | null } }
  | { sidecar: { path: string; sizeInBytes: number; modificationTime: number; tags?: Record<string, string> | null } };

/** Per-file statistics (`add.stats`, a JSON string in the log). */
export interface FileStats {
  numRecords: number;
  minValues?: Record<string, unknown>;
  maxValues?: Record<string, unknown>;
  nullCount?: Record<string, unknown>;
  tightBounds?: boolean;
}

export function encodeActions(actions: readonly Action[]): Uint8Array {
  return new TextEncoder().encode(actions.map((a) => JSON.stringify(a)).join('\n') + '\n');
}

/** Parses an NDJSON commit. A broken line is OTSL_LAKE_LOG_CORRUPT naming the version and line. */
export function decodeActions(bytes: Uint8Array | string, version?: number): Action[] {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  const out: Action[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo += 1;
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as Action);
    } catch (err) {
      throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `commit ${version ?? '?'} line ${lineNo} is not JSON: ${(err as Error).message}`, {
        cause: err,
        context: { ...(version === undefined ? {} : { version }), line: lineNo },
      });
    }
  }
  return out;
}

// ---- Delta schema (metaData.schemaString) ----

export type PrimitiveType =
  | 'string'
  | 'long'
  | 'integer'
  | 'short'
  | 'byte'
  | 'float'
  | 'double'
  | 'boolean'
  | 'binary'
  | 'date'
  | 'timestamp'
  | 'timestamp_ntz'
  | `decimal(${number},${number})`;

export interface StructField {
  name: string;
  type: DataType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}
export interface StructType {
  type: 'struct';
  fields: StructField[];
}
export interface ArrayType {
  type: 'array';
  elementType: DataType;
  containsNull: boolean;
}
export interface MapType {
  type: 'map';
  keyType: DataType;
  valueType: DataType;
  valueContainsNull: boolean;
}
export type DataType = PrimitiveType | string | StructType | ArrayType | MapType;

export function parseSchema(schemaString: string): StructType {
  try {
    const s = JSON.parse(schemaString) as StructType;
    if (s.type !== 'struct' || !Array.isArray(s.fields)) throw new Error('top level is not a struct');
    return s;
  } catch (err) {
    throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `metaData.schemaString is not a Delta schema: ${(err as Error).message}`, { cause: err });
  }
}
