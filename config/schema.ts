/**
 * The single source of otslake's configuration keys, defaults, environment variables and docs.
 * docs/configuration.md is rendered from this file (config/config-doc.ts) and a test keeps them in sync.
 *
 * Every `doc` says why the default is what it is, so that an operator can judge whether to change it.
 * Secrets are `sensitive`: convict then never echoes their value, and redactedConfig() masks them.
 * Durations and sizes accept human strings in files ('30s', '128MiB') and are numbers once resolved.
 */
import { availableParallelism } from 'node:os';
import { integerIn, oneOf, registerConfigFormats } from './formats.js';
import { listKeys, type KeyDescription, type SchemaNode } from './key-spec.js';
import { TABLE_ENTRY_SCHEMA } from './table-entry-schema.js';

export {
  TUNNEL_TYPES,
  TABLE_MODES,
  COLUMN_TYPES,
  TYPE_CONFLICT_POLICIES,
  DEFAULT_TYPE_CONFLICT_POLICY,
  DEFAULT_MIRROR_BUCKETS,
  MAX_MIRROR_BUCKETS,
  DEFAULT_MIRROR_TARGET_FILE_BYTES,
  TABLE_ENTRY_SCHEMA,
  COLUMN_SCHEMA,
  type TunnelType,
  type TableMode,
  type ColumnType,
  type TypeConflictPolicyName,
} from './table-entry-schema.js';
export { isKeySpec, type KeySpec, type SchemaNode, type KeyDescription } from './key-spec.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** Leaves the machine's cores to the daemon's own event loop (commits, HTTP, heartbeats). */
export function defaultWorkerThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

registerConfigFormats();

export const CONFIG_SCHEMA = {
  source: {
    endpoint: {
      doc: 'Tablestore instance endpoint, e.g. https://myinst.cn-hangzhou.ots.aliyuncs.com. Required: there is no sensible default region.',
      format: 'http-url',
      default: '',
      env: 'OTSLAKE_SOURCE_ENDPOINT',
    },
    instance: {
      doc: 'Tablestore instance name (sent as x-ots-instancename). Required.',
      format: 'required-string',
      default: '',
      env: 'OTSLAKE_SOURCE_INSTANCE',
    },
    accessKeyId: {
      doc: 'AccessKey ID for Tablestore. Required; prefer the environment variable over the file.',
      format: 'required-string',
      default: '',
      env: 'OTSLAKE_SOURCE_ACCESS_KEY_ID',
    },
    accessKeySecret: {
      doc: 'AccessKey secret for Tablestore. Required; keep it out of the file (systemd EnvironmentFile, mode 0600).',
      format: 'required-string',
      default: '',
      env: 'OTSLAKE_SOURCE_ACCESS_KEY_SECRET',
      sensitive: true,
    },
    securityToken: {
      doc: 'STS security token when the AccessKey is temporary. Empty means a long-term AccessKey.',
      format: 'optional-string',
      default: '',
      env: 'OTSLAKE_SOURCE_SECURITY_TOKEN',
      sensitive: true,
    },
    requestTimeoutMs: {
      doc: 'Per-request timeout for Tablestore/Tunnel calls. 30s covers a ReadRecords of several MB on a slow link while still detecting a dead connection well within the Tunnel heartbeat timeout.',
      format: 'duration-ms',
      default: 30_000,
      env: 'OTSLAKE_SOURCE_REQUEST_TIMEOUT_MS',
    },
    heartbeatIntervalMs: {
      doc: 'Tunnel heartbeat interval. The heartbeat both keeps our channels and brings new ones (children of a split, channels freed by another daemon); 10s picks them up promptly at a negligible request rate (the SDKs use 30s).',
      format: 'duration-ms',
      default: 10_000,
      env: 'OTSLAKE_SOURCE_HEARTBEAT_INTERVAL_MS',
    },
    heartbeatTimeoutMs: {
      doc: "Tunnel client timeout sent on connect: after this long without a heartbeat the server gives our channels to another client. It is also how long a crashed (SIGKILLed) daemon's channels stay blocked before its restart can take them back; 60s instead of the SDKs' 300s keeps a systemd restart quick, and is still far above any event-loop pause. Must exceed heartbeatIntervalMs.",
      format: 'duration-ms',
      default: 60_000,
      env: 'OTSLAKE_SOURCE_HEARTBEAT_TIMEOUT_MS',
    },
    streamRetentionMs: {
      doc: "How long the Tunnel keeps a table's changes, used only when DescribeTable does not report the table's stream expiration_time (it normally does, and that wins). 7d is Tablestore's documented retention of a Tunnel's incremental data. A change unread for longer is trimmed and its tunnel expires (OTSL_TUNNEL_LOST); /status `retention` and otslake_table_retention_* measure each table's lag against it.",
      format: 'duration-ms',
      default: 604_800_000,
      env: 'OTSLAKE_SOURCE_STREAM_RETENTION_MS',
    },
    retentionWarningPercent: {
      doc: "Lag, in percent of the table's stream retention, at which the daemon logs a warning (`table lag nears the tunnel retention`). 50 leaves half the retention (3.5 days by default) to fix the cause before changes are lost.",
      format: integerIn(1, 100),
      default: 50,
      env: 'OTSLAKE_SOURCE_RETENTION_WARNING_PERCENT',
    },
    retentionCriticalPercent: {
      doc: 'Lag, in percent of the stream retention, at which the daemon logs the same line as an error: 80 leaves about a day of a 7-day retention, time to fix the cause or to plan a resync. Set it above retentionWarningPercent.',
      format: integerIn(1, 100),
      default: 80,
      env: 'OTSLAKE_SOURCE_RETENTION_CRITICAL_PERCENT',
    },
    maxChannelsPerTable: {
      doc: "Channels of one table this daemon reads at most; those beyond it are handed back to the Tunnel (reported CLOSE, their positions dropped) for the other daemons of the fleet to take. 0 = no cap: the Tunnel service spreads a tunnel's channels evenly over its clients as they join and leave, a channel handed back that no other daemon has room for is read by nobody, and a daemon holding more channels than its worker slots (workers.threads × workers.tasksPerThread) reads them in turns within each batch, later but completely. Set it on hosts smaller than the rest of the fleet, to at least channels ÷ daemons (docs/operations.md §Balanced work).",
      format: integerIn(0, 100_000),
      default: 0,
      env: 'OTSLAKE_SOURCE_MAX_CHANNELS_PER_TABLE',
    },
  },
  lake: {
    uri: {
      doc: "Root of the lake: file:///absolute/path or oss://bucket/prefix. Each table lives in its `path` below it. The default matches the systemd unit's StateDirectory.",
      format: 'lake-uri',
      default: 'file:///var/lib/otslake/lake',
      env: 'OTSLAKE_LAKE_URI',
    },
    oss: {
      endpoint: {
        doc: 'OSS endpoint, e.g. https://oss-cn-hangzhou.aliyuncs.com (or http://127.0.0.1:9000 for the emulator). Required when lake.uri is oss://.',
        format: 'optional-http-url',
        default: '',
        env: 'OTSLAKE_LAKE_OSS_ENDPOINT',
      },
      region: {
        doc: 'OSS region, e.g. oss-cn-hangzhou. Needed for V4 signing; empty lets the client derive it from the endpoint.',
        format: 'optional-string',
        default: '',
        env: 'OTSLAKE_LAKE_OSS_REGION',
      },
      accessKeyId: {
        doc: 'AccessKey ID for OSS. Required when lake.uri is oss://; may differ from the Tablestore key (least privilege).',
        format: 'optional-string',
        default: '',
        env: 'OTSLAKE_LAKE_OSS_ACCESS_KEY_ID',
      },
      accessKeySecret: {
        doc: 'AccessKey secret for OSS. Required when lake.uri is oss://; keep it in the environment.',
        format: 'optional-string',
        default: '',
        env: 'OTSLAKE_LAKE_OSS_ACCESS_KEY_SECRET',
        sensitive: true,
      },
      securityToken: {
        doc: 'STS security token for OSS when the key is temporary. Empty means a long-term AccessKey.',
        format: 'optional-string',
        default: '',
        env: 'OTSLAKE_LAKE_OSS_SECURITY_TOKEN',
        sensitive: true,
      },
      sldEnable: {
        doc: 'Path-style addressing (/bucket/key) instead of bucket.endpoint. Off for Alibaba Cloud and for IP endpoints (e.g. http://127.0.0.1:9000; ali-oss then names the bucket in the Host header, which the emulator reads). Turn on only for a hostname endpoint without per-bucket DNS, e.g. http://localhost:9000.',
        format: 'flag',
        default: false,
        env: 'OTSLAKE_LAKE_OSS_SLD_ENABLE',
      },
    },
    targetFileSizeBytes: {
      doc: 'Size compaction aims for. 128MiB is the usual Parquet sweet spot for Spark/Trino scans (kafka-delta-ingest uses the same); smaller files multiply object-store requests.',
      format: 'size-bytes',
      default: 128 * 1024 * 1024,
      env: 'OTSLAKE_LAKE_TARGET_FILE_SIZE_BYTES',
    },
    iceberg: {
      doc: "Keep Iceberg metadata (format v2, under each table's metadata/) in step with every Delta commit, so Iceberg engines and catalogs read the same Parquet files (docs/iceberg.md). On by default: it costs a few small writes per commit. A table is mirrored when both this and its tables[].iceberg are on.",
      format: 'flag',
      default: true,
      env: 'OTSLAKE_LAKE_ICEBERG',
    },
    checkpointInterval: {
      doc: "Write a Delta checkpoint every N commits. 10 is Delta's own default (delta.checkpointInterval), so readers replay at most 9 JSON commits.",
      format: 'count',
      default: 10,
      env: 'OTSLAKE_LAKE_CHECKPOINT_INTERVAL',
    },
  },
  tables: {
    doc: 'The tables to land: a list of entries { table, tunnel: { name, type }, mode, path, columns?, partitionBy?, … } described in "tables entries" below, each checked like the keys here. Empty by default so that a fresh config validates; the daemon then has nothing to do.',
    format: 'list',
    default: [],
    items: TABLE_ENTRY_SCHEMA,
  },
  batch: {
    intervalMs: {
      doc: 'Time between the starts of two micro-batches of a table. Each batch is one Delta commit: 30s keeps lag near half a minute while a table gains at most 2,880 commits a day per daemon, which checkpoints make cheap to read. A batch starts early only when the previous one ended on a budget (maxRecordsPerChannel, maxBytesPerChannel, maxDurationMs): the daemon is behind and catches up with full batches.',
      format: 'duration-ms',
      default: 30_000,
      env: 'OTSLAKE_BATCH_INTERVAL_MS',
    },
    maxRecordsPerChannel: {
      doc: "Record budget of one channel task, checked between ReadRecords pages: the Tunnel service decides a page's size (tablestore-local: up to 1,000 records), so a task reads at least one whole page and may overshoot the budget by up to a page, and a batch holds up to one task per channel. 100k rows bound a worker's buffers to tens of MB for typical rows and still make files worth reading.",
      format: 'count',
      default: 100_000,
      env: 'OTSLAKE_BATCH_MAX_RECORDS_PER_CHANNEL',
    },
    maxBytesPerChannel: {
      doc: 'Byte budget (raw Tunnel record bytes) of one channel task. 64MiB caps worker memory for wide rows, where the record budget alone would not.',
      format: 'size-bytes',
      default: 64 * 1024 * 1024,
      env: 'OTSLAKE_BATCH_MAX_BYTES_PER_CHANNEL',
    },
    maxDurationMs: {
      doc: "Time budget of one channel task. 20s ends a read of a quiet channel well before the next batch is due (batch.intervalMs), so one slow channel does not hold back a table's commit.",
      format: 'duration-ms',
      default: 20_000,
      env: 'OTSLAKE_BATCH_MAX_DURATION_MS',
    },
    retryInitialMs: {
      doc: 'Pause after a failed batch (lake rejecting writes, source unreachable, a failed start-up), doubled with jitter on each further failure up to batch.retryMaxMs. 1s rides out a blip without a hot retry loop.',
      format: 'duration-ms',
      default: 1_000,
      env: 'OTSLAKE_BATCH_RETRY_INITIAL_MS',
    },
    retryMaxMs: {
      doc: 'Longest pause between two attempts of a failing table. 1m keeps a long outage to about one attempt a minute per table and still resumes within a minute of the fault clearing.',
      format: 'duration-ms',
      default: 60_000,
      env: 'OTSLAKE_BATCH_RETRY_MAX_MS',
    },
    maxTableCommitsPerSecond: {
      doc: "Commit budget of one table, summed over every daemon that shares its tunnel. Each daemon counts the writers it sees in the table's log (and, as a floor, the tunnel's clients holding channels) and starts its batches at least writers ÷ budget seconds apart, so a hundred daemons on one table stay near this rate instead of racing each other for every version (freshness then is about writers ÷ budget seconds). 10 keeps a local or OSS Delta log far from the rate where commits start losing races most of the time.",
      format: integerIn(1, 1000),
      default: 10,
      env: 'OTSLAKE_BATCH_MAX_TABLE_COMMITS_PER_SECOND',
    },
  },
  workers: {
    threads: {
      doc: "Worker threads that decode records and write Parquet. Default: CPU cores − 1 (min 1), leaving a core for the daemon's event loop, whose lag grows when workers take every core.",
      format: 'count',
      default: defaultWorkerThreads(),
      defaultText: 'CPU cores − 1, at least 1',
      env: 'OTSLAKE_WORKERS_THREADS',
    },
    tasksPerThread: {
      doc: 'Channel tasks one worker thread runs at once. 2 lets a thread decode one channel while another waits for its next ReadRecords page or an upload (on OSS every request is a round trip of tens of ms): a batch of 4 channels on one thread waits ~6 sequential OSS round trips instead of ~10, and a 200k-row snapshot lands ~15 % faster. Each task buffers up to one row group (50k rows) of its channel: 4 halves the round trips again but took the peak RSS of a one-thread daemon from ~243 to ~265 MiB (bench/README.md).',
      format: integerIn(1, 16),
      default: 2,
      env: 'OTSLAKE_WORKERS_TASKS_PER_THREAD',
    },
  },
  http: {
    host: {
      doc: 'Address of the health/metrics/status endpoints. Loopback by default: /status shows table names and positions, so exposing it is a deliberate choice.',
      format: 'required-string',
      default: '127.0.0.1',
      env: 'OTSLAKE_HTTP_HOST',
    },
    port: {
      doc: 'Port of the health/metrics/status endpoints; 0 picks a free port (tests). 9780 is unassigned and away from the emulators (8780, 9000).',
      format: 'tcp-port',
      default: 9780,
      env: 'OTSLAKE_HTTP_PORT',
    },
  },
  log: {
    level: {
      doc: 'Lowest log level written (JSON lines on stderr). info logs one line per batch and state change, which journald keeps cheaply.',
      format: oneOf(LOG_LEVELS),
      default: 'info',
      env: 'OTSLAKE_LOG_LEVEL',
    },
  },
  shutdown: {
    graceMs: {
      doc: "On SIGTERM, how long the in-flight batch may take to commit before it is abandoned (nothing is lost: uncommitted files are invisible). 30s covers a batch at default budgets; the systemd unit's TimeoutStopSec (60s) is longer.",
      format: 'duration-ms',
      default: 30_000,
      env: 'OTSLAKE_SHUTDOWN_GRACE_MS',
    },
  },
  maintenance: {
    compact: {
      enabled: {
        doc: 'Bin-pack small files in the background. On by default: micro-batches write many small files, and readers pay per file.',
        format: 'flag',
        default: true,
        env: 'OTSLAKE_MAINTENANCE_COMPACT_ENABLED',
      },
      intervalMs: {
        doc: 'How often a table is considered for compaction (changelog tables; mirror merges keep their own sizes). 5m bounds the small files readers see to ~300 with one-second batches (10 at the default 30s), and a compaction commit (dataChange false) never conflicts with the batches.',
        format: 'duration-ms',
        default: 300_000,
        env: 'OTSLAKE_MAINTENANCE_COMPACT_INTERVAL_MS',
      },
      minFiles: {
        doc: 'Compact only when at least this many files are below lake.targetFileSizeBytes / 2; fewer is not worth a rewrite.',
        format: 'count',
        default: 10,
        env: 'OTSLAKE_MAINTENANCE_COMPACT_MIN_FILES',
      },
    },
    vacuum: {
      enabled: {
        doc: 'Delete files no longer referenced by the table (compacted, or written by batches that never committed). On by default, else storage only grows.',
        format: 'flag',
        default: true,
        env: 'OTSLAKE_MAINTENANCE_VACUUM_ENABLED',
      },
      intervalMs: {
        doc: 'How often vacuum runs per table. Daily is plenty next to a 7-day retention.',
        format: 'duration-ms',
        default: 86_400_000,
        env: 'OTSLAKE_MAINTENANCE_VACUUM_INTERVAL_MS',
      },
      retentionMs: {
        doc: "Unreferenced files younger than this are kept, so readers on older snapshots and time travel keep working. 7 days is Delta's default (delta.deletedFileRetentionDuration).",
        format: 'duration-ms',
        default: 604_800_000,
        env: 'OTSLAKE_MAINTENANCE_VACUUM_RETENTION_MS',
      },
    },
    logCleanupIntervalMs: {
      doc: 'How often expired Delta log files are removed (after a checkpoint exists to anchor the log). 1h keeps the listing cost negligible; retention, not this interval, decides what goes.',
      format: 'duration-ms',
      default: 3_600_000,
      env: 'OTSLAKE_MAINTENANCE_LOG_CLEANUP_INTERVAL_MS',
    },
    logRetentionMs: {
      doc: "Delta commits older than this and older than the latest checkpoint are removed after a checkpoint. 30 days is Delta's default (delta.logRetentionDuration).",
      format: 'duration-ms',
      default: 2_592_000_000,
      env: 'OTSLAKE_MAINTENANCE_LOG_RETENTION_MS',
    },
  },
} satisfies SchemaNode;

/** Every leaf key of the top-level schema in schema order, with dotted paths. */
export function listConfigKeys(node: SchemaNode = CONFIG_SCHEMA): KeyDescription[] {
  return listKeys(node);
}

/** The convention every `env` above follows: OTSLAKE_ + the dotted path in SCREAMING_SNAKE_CASE. */
export function envNameFor(key: string): string {
  return (
    'OTSLAKE_' +
    key
      .split('.')
      .map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('_')
  );
}
