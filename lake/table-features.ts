/**
 * Which Delta protocol versions and reader features otslake's snapshot reader can honour.
 *
 * Two levels, because otslake reads tables for two different reasons:
 * - **log** reads (version, protocol, schema, the list of files, txns, tombstones): what the daemon,
 *   `inspect`, the writer's conflict checks and vacuum need. Any feature whose effect is confined to
 *   how *data files* are interpreted does not change the log, so it is allowed here.
 * - **content** reads (decoding the rows of the live files, e.g. mirror-mode copy-on-write): every
 *   feature that changes what a data file means must be implemented, or the read is refused.
 *
 * | reader feature          | log | content | why |
 * |-------------------------|-----|---------|-----|
 * | v2Checkpoint            | yes | yes     | UUID-named/sidecar checkpoints are read by checkpoint-reader.ts |
 * | timestampNtz            | yes | yes     | only a column type; Parquet carries it as a plain int64 timestamp |
 * | vacuumProtocolCheck     | yes | yes     | constrains VACUUM only (vacuum must check the writer protocol) |
 * | deletionVectors         | yes | only when no live file has a DV | descriptors are listed, DVs are not applied |
 * | columnMapping           | yes | only with mode `none` | physical-name resolution is not implemented |
 * | typeWidening(-preview)  | yes | no      | old files may hold narrower physical types |
 * | variantType(-preview), variantShredding-preview | yes | no | no variant decoder |
 * | catalogManaged, catalogOwned-preview | no | no | the commits of record live in a catalog, not in `_delta_log/` |
 * | anything else           | no  | no      | unknown semantics: refusing is the only safe answer |
 *
 * Reader version 1 has no features, 2 implies columnMapping, 3 lists them in `readerFeatures`;
 * anything above 3 is refused. Writer features never restrict a reader.
 */
import { OtslakeError } from '../common/errors.js';
import type { Add, Metadata, Protocol } from './actions.js';

export type ReadPurpose = 'log' | 'content';

const LOG_READABLE = new Set([
  'v2Checkpoint',
  'timestampNtz',
  'vacuumProtocolCheck',
  'deletionVectors',
  'columnMapping',
  'typeWidening',
  'typeWidening-preview',
  'variantType',
  'variantType-preview',
  'variantShredding-preview',
]);

const CONTENT_READABLE_ALWAYS = new Set(['v2Checkpoint', 'timestampNtz', 'vacuumProtocolCheck']);

const MAX_READER_VERSION = 3;

/** The reader features a protocol requires, with the implicit ones of reader version 2. */
function readerFeaturesOf(protocol: Protocol): string[] {
  if (protocol.minReaderVersion >= 3) return protocol.readerFeatures ?? [];
  if (protocol.minReaderVersion === 2) return ['columnMapping'];
  return [];
}

function unsupported(feature: string, purpose: ReadPurpose, why: string, table?: string): OtslakeError {
  return new OtslakeError('OTSL_LAKE_UNSUPPORTED_FEATURE', `Delta feature "${feature}" is not supported for ${purpose} reads: ${why}`, {
    context: { feature, purpose, ...(table === undefined ? {} : { table }) },
  });
}

/** Throws OTSL_LAKE_UNSUPPORTED_FEATURE (or LOG_CORRUPT for an invalid protocol) unless the log can be read. */
export function assertLogReadable(protocol: Protocol, table?: string): void {
  const reader = protocol.minReaderVersion;
  if (!Number.isInteger(reader) || reader < 1) {
    throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `protocol.minReaderVersion ${String(reader)} is not a valid reader version`, {
      context: table === undefined ? {} : { table },
    });
  }
  if (reader > MAX_READER_VERSION) {
    throw unsupported(`readerVersion ${reader}`, 'log', `otslake reads reader versions 1..${MAX_READER_VERSION}`, table);
  }
  if (reader === 3 && !Array.isArray(protocol.readerFeatures)) {
    throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', 'protocol has minReaderVersion 3 but no readerFeatures list', {
      context: table === undefined ? {} : { table },
    });
  }
  for (const feature of readerFeaturesOf(protocol)) {
    if (!LOG_READABLE.has(feature)) throw unsupported(feature, 'log', 'unknown or catalog-managed reader feature', table);
  }
}

export interface ContentCheckInput {
  protocol: Protocol;
  metadata: Metadata;
  /** A Snapshot's files map (or anything with values()). */
  files: { values(): Iterable<Add> };
}

/** Throws OTSL_LAKE_UNSUPPORTED_FEATURE unless the rows of every live file can be decoded as-is. */
export function assertContentReadable(snapshot: ContentCheckInput, table?: string): void {
  assertLogReadable(snapshot.protocol, table);
  const mappingMode = snapshot.metadata.configuration?.['delta.columnMapping.mode'] ?? 'none';
  if (mappingMode !== 'none') throw unsupported('columnMapping', 'content', `column mapping mode "${mappingMode}" needs physical-name resolution`, table);
  for (const feature of readerFeaturesOf(snapshot.protocol)) {
    if (CONTENT_READABLE_ALWAYS.has(feature) || feature === 'columnMapping') continue;
    if (feature === 'deletionVectors') {
      for (const add of snapshot.files.values()) {
        if (add.deletionVector) throw unsupported('deletionVectors', 'content', `file ${add.path} has a deletion vector, which otslake cannot apply`, table);
      }
      continue;
    }
    throw unsupported(feature, 'content', 'data files would be misread', table);
  }
}
