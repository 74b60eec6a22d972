/** Names inside `_delta_log/`: commits, checkpoints of every kind, `_last_checkpoint`. */

export const LOG_DIR = '_delta_log';
export const LAST_CHECKPOINT = `${LOG_DIR}/_last_checkpoint`;

export function padVersion(version: number): string {
  return String(version).padStart(20, '0');
}

export function commitKey(version: number): string {
  return `${LOG_DIR}/${padVersion(version)}.json`;
}

export function checkpointKey(version: number): string {
  return `${LOG_DIR}/${padVersion(version)}.checkpoint.parquet`;
}

export type LogFile =
  | { kind: 'commit'; version: number; key: string }
  | { kind: 'checkpoint'; version: number; key: string }
  | { kind: 'multipart-checkpoint'; version: number; key: string; part: number; parts: number }
  | { kind: 'v2-checkpoint'; version: number; key: string; format: 'json' | 'parquet' }
  | { kind: 'compacted'; version: number; endVersion: number; key: string }
  | { kind: 'crc'; version: number; key: string };

const COMMIT = /^(\d{20})\.json$/;
const CHECKPOINT = /^(\d{20})\.checkpoint\.parquet$/;
const MULTIPART = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const V2 = /^(\d{20})\.checkpoint\.[0-9a-fA-F-]{36}\.(json|parquet)$/;
const COMPACTED = /^(\d{20})\.(\d{20})\.compacted\.json$/;
const CRC = /^(\d{20})\.crc$/;

/** Classifies a key under `_delta_log/`; anything else (temp files, `_sidecars/`) is null. */
export function parseLogFile(key: string): LogFile | null {
  const name = key.slice(key.lastIndexOf('/') + 1);
  let m: RegExpExecArray | null;
  if ((m = COMMIT.exec(name))) return { kind: 'commit', version: Number(m[1]), key };
  if ((m = CHECKPOINT.exec(name))) return { kind: 'checkpoint', version: Number(m[1]), key };
  if ((m = MULTIPART.exec(name))) return { kind: 'multipart-checkpoint', version: Number(m[1]), key, part: Number(m[2]), parts: Number(m[3]) };
  if ((m = V2.exec(name))) return { kind: 'v2-checkpoint', version: Number(m[1]), key, format: m[2] as 'json' | 'parquet' };
  if ((m = COMPACTED.exec(name))) return { kind: 'compacted', version: Number(m[1]), endVersion: Number(m[2]), key };
  if ((m = CRC.exec(name))) return { kind: 'crc', version: Number(m[1]), key };
  return null;
}
