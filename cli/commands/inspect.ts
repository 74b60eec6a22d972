/**
 * `otslake inspect URI [--version N] [--json]`: what an operator wants to know about a Delta table
 * before trusting it — version, protocol, schema, partitioning, file/record/byte totals, txn positions,
 * and the Iceberg metadata beside it (which Delta version it mirrors).
 * Reads the log only (never data files), so it works on any table whose log we can read.
 */
import type { DataType, StructType } from '../../lake/actions.js';
import { describeIceberg, type IcebergSummary } from '../../lake/iceberg/table-metadata.js';
import { loadSnapshot, parseStats, type Snapshot } from '../../lake/snapshot.js';
import type { Command } from '../command.js';
import { runTableCommand, UsageError } from './table-command.js';

export interface TableSummary {
  version: number;
  minReaderVersion: number;
  minWriterVersion: number;
  schema: StructType;
  partitionColumns: string[];
  numFiles: number;
  /** Sum of stats.numRecords; null when at least one file has no stats. */
  numRecords: number | null;
  sizeBytes: number;
  /** appId → txn version. */
  txns: Record<string, number>;
  /** The Iceberg metadata kept beside the log (docs/iceberg.md), null when the table has none. */
  iceberg: IcebergSummary | null;
}

function summarizeSnapshot(snapshot: Snapshot, iceberg: IcebergSummary | null): TableSummary {
  let numRecords: number | null = 0;
  let sizeBytes = 0;
  for (const add of snapshot.files.values()) {
    sizeBytes += add.size;
    if (numRecords === null) continue;
    const n = parseStats(add)?.numRecords;
    numRecords = typeof n === 'number' ? numRecords + n : null;
  }
  const txns: Record<string, number> = {};
  for (const [appId, txn] of [...snapshot.txns].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) txns[appId] = txn.version;
  return {
    version: snapshot.version,
    minReaderVersion: snapshot.protocol.minReaderVersion,
    minWriterVersion: snapshot.protocol.minWriterVersion,
    schema: snapshot.schema,
    partitionColumns: snapshot.metadata.partitionColumns,
    numFiles: snapshot.files.size,
    numRecords,
    sizeBytes,
    txns,
    iceberg,
  };
}

function typeName(type: DataType): string {
  if (typeof type === 'string') return type;
  if (type.type === 'array') return `array<${typeName(type.elementType)}>`;
  if (type.type === 'map') return `map<${typeName(type.keyType)},${typeName(type.valueType)}>`;
  if (type.type === 'struct') return `struct<${type.fields.map((f) => `${f.name}:${typeName(f.type)}`).join(',')}>`;
  return JSON.stringify(type);
}

function formatSummary(uri: string, s: TableSummary, snapshot: Snapshot): string {
  const lines = [
    `table:      ${uri}`,
    `version:    ${s.version} (${new Date(snapshot.timestamp).toISOString()})`,
    `protocol:   reader ${s.minReaderVersion}, writer ${s.minWriterVersion}` +
      (snapshot.protocol.readerFeatures?.length ? `; reader features ${snapshot.protocol.readerFeatures.join(', ')}` : '') +
      (snapshot.protocol.writerFeatures?.length ? `; writer features ${snapshot.protocol.writerFeatures.join(', ')}` : ''),
    `partitions: ${s.partitionColumns.length ? s.partitionColumns.join(', ') : '(none)'}`,
    `files:      ${s.numFiles}`,
    `records:    ${s.numRecords === null ? 'unknown (some files have no stats)' : s.numRecords}`,
    `size:       ${s.sizeBytes} bytes`,
    'schema:',
    ...s.schema.fields.map((f) => `  ${f.name}: ${typeName(f.type)}${f.nullable ? '' : ' NOT NULL'}`),
    `txns:       ${Object.keys(s.txns).length === 0 ? '(none)' : ''}`,
    ...Object.entries(s.txns).map(([appId, v]) => `  ${appId} = ${v}`),
    `iceberg:    ${
      s.iceberg === null
        ? '(none)'
        : `metadata v${s.iceberg.metadataVersion}, mirrors Delta version ${s.iceberg.deltaVersion}` +
          (s.iceberg.currentSnapshotId === null ? ', no snapshot' : `, snapshot ${s.iceberg.currentSnapshotId} of ${s.iceberg.snapshots} kept`)
    }`,
  ];
  return lines.join('\n') + '\n';
}

export const command: Command = {
  summary: 'describe a Delta table: version, protocol, schema, files, records, txns, and its Iceberg metadata',
  run: (argv) =>
    runTableCommand(
      {
        name: 'inspect',
        usage: 'usage: otslake inspect URI [--version N] [--json] [--config FILE]',
        options: { version: { type: 'string' }, json: { type: 'boolean' } },
        async run(values, openTable) {
          let version: number | undefined;
          if (values.version !== undefined) {
            version = Number(values.version);
            if (!/^\d+$/.test(values.version) || !Number.isSafeInteger(version)) {
              throw new UsageError(`--version must be a non-negative integer, got "${values.version}"`);
            }
          }
          const store = openTable();
          const snapshot = await loadSnapshot(store, version === undefined ? {} : { version });
          const summary = summarizeSnapshot(snapshot, await describeIceberg(store));
          process.stdout.write(values.json ? JSON.stringify(summary) + '\n' : formatSummary(store.uri, summary, snapshot));
          return 0;
        },
      },
      argv,
    ),
};
