/**
 * The schema of one `tables` entry and of one declared column: the same kind of schema as the top-level
 * keys (config/schema.ts), checked by the same machinery (config/validate.ts) once per entry, rendered
 * into docs/configuration.md by config/config-doc.ts. What a schema cannot say (a key allowed only in
 * one mode, names across columns, paths across entries) is checked in config/table-list.ts.
 */
import { integerIn, oneOf } from './formats.js';
import type { SchemaNode } from './key-spec.js';

export const TUNNEL_TYPES = ['BaseData', 'Stream', 'BaseAndStream'] as const;
export const TABLE_MODES = ['changelog', 'mirror'] as const;
export const COLUMN_TYPES = ['INTEGER', 'DOUBLE', 'BOOLEAN', 'STRING', 'BINARY'] as const;
/** Declared types a Delta partition column can have (string, long, boolean in the lake). */
export const PARTITION_COLUMN_TYPES = ['INTEGER', 'STRING', 'BOOLEAN'] as const;
/** lake/mirror/type-conflict.ts TYPE_CONFLICT_POLICIES (config/ stays free of lake imports). */
export const TYPE_CONFLICT_POLICIES = ['companion', 'string', 'dead-letter'] as const;
/**
 * companion: the value lands with its own type in `<name>__<type>`, so nothing leaves the table and
 * a mirror still equals its source (a dead-lettered UPDATE would leave a mirror row stale).
 */
export const DEFAULT_TYPE_CONFLICT_POLICY = 'companion';
/** lake/mirror/layout.ts DEFAULT_MIRROR_BUCKETS / MAX_MIRROR_BUCKETS. */
export const DEFAULT_MIRROR_BUCKETS = 16;
export const MAX_MIRROR_BUCKETS = 4096;
/** A mirror batch rewrites about min(changed keys, files) × this (docs/mirror.md §Cost): far below the changelog's 128MiB. */
export const DEFAULT_MIRROR_TARGET_FILE_BYTES = 8 * 1024 * 1024;

export type TunnelType = (typeof TUNNEL_TYPES)[number];
export type TableMode = (typeof TABLE_MODES)[number];
export type ColumnType = (typeof COLUMN_TYPES)[number];
export type TypeConflictPolicyName = (typeof TYPE_CONFLICT_POLICIES)[number];

export const COLUMN_SCHEMA = {
  name: {
    doc: 'Column name as in Tablestore. Delta column names are case-insensitive, so two columns must differ in more than case.',
    format: 'column-name',
    default: '',
  },
  type: {
    doc: `One of ${COLUMN_TYPES.join(', ')}.`,
    format: oneOf(COLUMN_TYPES),
    default: '',
  },
} satisfies SchemaNode;

export const TABLE_ENTRY_SCHEMA = {
  table: {
    doc: 'Tablestore table name.',
    format: 'table-name',
    default: '',
  },
  tunnel: {
    name: {
      doc: "Tunnel to read. Its server-side checkpoints show the daemon's progress, so give each table its own tunnel. The default carries the lake's identity (8 hex digits of a hash of lake.uri and path), so two lakes never share a tunnel by accident. A lake records the tunnel it consumes (table property otslake.tunnel.id) and keeps reading that one; an empty lake refuses a tunnel that was already consumed (OTSL_TUNNEL_LAKE_MISMATCH).",
      format: 'optional-string',
      default: '',
      defaultText: '`otslake-<table>-<lake id>`',
    },
    type: {
      doc: `One of ${TUNNEL_TYPES.join(', ')}. BaseAndStream lands the existing rows, then every change.`,
      format: oneOf(TUNNEL_TYPES),
      default: 'BaseAndStream',
    },
  },
  mode: {
    doc: `One of ${TABLE_MODES.join(', ')}. changelog appends one row per change (never rewrites files); mirror keeps one row per primary key.`,
    format: oneOf(TABLE_MODES),
    default: 'changelog',
  },
  path: {
    doc: 'The table\'s folder under lake.uri: relative, no "..", segments must not start with "_" or ".". Two entries must not share a folder or nest.',
    format: 'table-path',
    default: '',
    defaultText: '`<table>`',
  },
  columns: {
    doc: 'Declared attribute columns, a list of { name, type } (below), by their lake names (after select.rename). Undeclared columns are discovered from the data. Names must differ in more than case, from each other and from the metadata columns (_op, _ts, _seq, _channel, _deleted_columns, _date).',
    format: 'list',
    default: [],
    items: COLUMN_SCHEMA,
  },
  select: {
    include: {
      doc: 'Source attribute columns to land, by their Tablestore names; every other attribute column is left out (never decoded into the lake, never discovered). The primary key always lands. Empty: every column. Set include or exclude, not both.',
      format: 'name-list',
      default: [],
    },
    exclude: {
      doc: 'Source attribute columns to leave out, by their Tablestore names: never written, never discovered, and dropped from `_deleted_columns`. Primary-key columns cannot be excluded (they identify a row: a mirror merges by them, a changelog row without them names no row); a table that tries stops with OTSL_TABLE_COLUMN_CONFLICT. Excluding a source column named like a metadata column (e.g. `_op`) is one way to land its table.',
      format: 'name-list',
      default: [],
    },
    rename: {
      doc: "Source column name → lake column name, e.g. `{ customer_email: email }`; primary-key columns may be renamed too. `columns`, `partitionBy` and `_deleted_columns` use the lake names. A lake name must not be a metadata column (under the table's metadataPrefix), another rename's lake name, a listed source name that lands under its own name, or a primary-key column; a source column named like a lake name of another column dead-letters its rows (column-name-conflict). Renaming later starts a new lake column: earlier rows keep the old name (docs/changelog.md §Column selection and renaming).",
      format: 'column-renames',
      default: {},
      defaultText: '`{}`',
    },
  },
  partitionBy: {
    doc: `Column names to partition the Delta table by: \`_date\` (the UTC day of \`_ts\`, a Delta date column that exists only when named here), or columns declared in \`columns\` with type ${PARTITION_COLUMN_TYPES.join(', ')} (so that validate-config can check them without asking Tablestore; primary-key columns are not allowed). Empty: unpartitioned, which suits most tables below a few hundred GB. Must be empty for mirror tables. Fixed at table creation.`,
    format: 'name-list',
    default: [],
  },
  metadataPrefix: {
    doc: 'The prefix of the metadata columns, so that a source column named like one of them (e.g. _op) lands under its own name: a changelog table has <prefix>op, <prefix>ts, <prefix>seq, <prefix>channel, <prefix>deleted_columns (and <prefix>date when partitioned by it), a mirror table <prefix>ts and <prefix>seq (its staged changes use all five). Letters, digits and "_", not starting with a digit. Fixed at table creation.',
    format: 'metadata-prefix',
    default: '_',
  },
  retention: {
    doc: 'mode changelog only: rows older than this (by `_ts`) leave the table. The daemon removes whole files whose newest row is older — with `partitionBy: [_date]` whole days — in one commit per run (removes with dataChange true; the table is then not delta.appendOnly), at every maintenance.logCleanupIntervalMs; vacuum deletes the files once maintenance.vacuum.retentionMs has passed. Rows without `_ts` are kept. 0 keeps everything.',
    format: 'duration-ms',
    default: 0,
    defaultText: '0 (keep everything)',
  },
  typeConflictPolicy: {
    doc: `One of ${TYPE_CONFLICT_POLICIES.join(', ')}: what a value whose type contradicts its column becomes (both modes). companion lands it with its own type in the nullable column <name>__<type>; string lands its text in <name>__string; dead-letter sets the row aside under _otslake/dead-letters (a mirror then misses that change). Counted in otslake_type_conflicts_total{table,column,policy} and shown in /status.`,
    format: oneOf(TYPE_CONFLICT_POLICIES),
    default: DEFAULT_TYPE_CONFLICT_POLICY,
  },
  iceberg: {
    doc: 'Iceberg metadata for this table (docs/iceberg.md), when lake.iceberg is on too. Turning it off stops the updates; turning it on again catches up from the Delta log.',
    format: 'flag',
    default: true,
  },
  changeDataFeed: {
    doc: 'mode mirror only: delta.enableChangeDataFeed on the table (writer version 4), each batch writes its net changes under _change_data/. Fixed at table creation.',
    format: 'flag',
    default: false,
  },
  mirror: {
    buckets: {
      doc: `mode mirror only: primary-key hash buckets (1..${MAX_MIRROR_BUCKETS}); merge tasks of a batch run in parallel over buckets. Fixed at table creation.`,
      format: integerIn(1, MAX_MIRROR_BUCKETS),
      default: DEFAULT_MIRROR_BUCKETS,
    },
    targetFileSize: {
      doc: 'mode mirror only: size the merge cuts files to. A batch rewrites about min(changed keys, files) × this, so it is far below lake.targetFileSizeBytes.',
      format: 'file-size',
      default: DEFAULT_MIRROR_TARGET_FILE_BYTES,
    },
  },
} satisfies SchemaNode;

/** Keys that only mean something for mode mirror; set for a changelog table they are a mistake. */
export const MIRROR_ONLY_KEYS = ['changeDataFeed', 'mirror'] as const;
