/** Human strings ('30s', '128MiB') exist only in config files; code works in …Ms and …Bytes. */

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

export function parseDuration(input: string | number): number {
  if (typeof input === 'number') return input;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)?\s*$/i.exec(input);
  if (!m) throw new RangeError(`not a duration: "${input}" (expected e.g. 500ms, 30s, 5m, 7d)`);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const factor = DURATION_UNITS[unit];
  if (factor === undefined) throw new RangeError(`unknown duration unit "${unit}" in "${input}"`);
  return Math.round(Number(m[1]) * factor);
}

export function parseBytes(input: string | number): number {
  if (typeof input === 'number') return input;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)?\s*$/i.exec(input);
  if (!m) throw new RangeError(`not a byte size: "${input}" (expected e.g. 900KiB, 128MiB)`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = BYTE_UNITS[unit];
  if (factor === undefined) throw new RangeError(`unknown byte unit "${unit}" in "${input}"`);
  return Math.round(Number(m[1]) * factor);
}

/** Delta's `interval 30 days` style used by table properties such as delta.logRetentionDuration. */
export function parseDeltaInterval(input: string): number {
  const m = /^\s*(?:interval\s+)?(\d+)\s*(millisecond|second|minute|hour|day|week)s?\s*$/i.exec(input);
  if (!m) throw new RangeError(`not a Delta interval: "${input}" (expected e.g. "interval 30 days")`);
  const unit = m[2]!.toLowerCase();
  const factor = { millisecond: 1, second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 }[unit]!;
  return Number(m[1]) * factor;
}
