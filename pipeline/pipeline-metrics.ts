/**
 * What the pipeline reports as it runs, as event verbs: the pipeline never spells a metric name, and
 * never depends on how the process exposes them (daemon/metrics.ts implements this for Prometheus;
 * benchmarks and tests may pass their own).
 */
export interface PipelineMetrics {
  recordsRead(table: string, channel: string, n: number, bytes: number): void;
  filesWritten(table: string, n: number, bytes: number, rows: number): void;
  batchCompleted(table: string, durationMs: number, rows: number): void;
  commitCompleted(table: string, latencyMs: number, version?: number): void;
  commitConflicted(table: string, fenced: boolean): void;
  /** A commit that went through after losing `n` races (blind appends move to the next free version). */
  commitRacesLost(table: string, n: number): void;
  /** The table's commit pacing as this daemon sees it, and how long it held back its next batch for it. */
  commitPacing(table: string, pacing: { commitRate: number; writers: number; delayMs: number }): void;
  tunnelCheckpointed(table: string, channels?: number): void;
  channelLag(table: string, channel: string, lagMs: number): void;
  /** A channel that finished (split parent) or moved to another daemon: drop its series. */
  channelRemoved(table: string, channel: string): void;
  errorOccurred(kind: string): void;
  deadLettered(table: string, reason: string, n: number): void;
  typeConflicted(table: string, column: string, policy: string, n: number): void;
  mirrorMerged(table: string, stats: { inserted: number; updated: number; deleted: number; filesRewritten: number }): void;
  maintenanceCompleted(table: string, task: string, outcome: string, durationMs: number, files: number): void;
}
