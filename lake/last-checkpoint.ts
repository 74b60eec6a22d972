/**
 * `_delta_log/_last_checkpoint`: a hint only. Readers must work without it, and a hint that is
 * missing, unparsable or points at a checkpoint that is not (completely) there is ignored, never fatal
 * (golden `corrupted-last-checkpoint-kernel`, delta-rs `table_failed_last_checkpoint_update`).
 */
import { hasCode } from '../common/errors.js';
import { LAST_CHECKPOINT } from './log-path.js';
import type { ObjectStore } from './object-store.js';

export interface LastCheckpoint {
  version: number;
  /** Number of actions in the checkpoint. */
  size?: number;
  /** Multi-part checkpoints: number of parts. */
  parts?: number;
  sizeInBytes?: number;
  numOfAddFiles?: number;
  checkpointSchema?: unknown;
  checksum?: string;
  tags?: Record<string, string>;
}

/** Parses the hint; anything that is not an object with a non-negative integer version is null. */
function parseLastCheckpoint(text: string): LastCheckpoint | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.version !== 'number' || !Number.isSafeInteger(v.version) || v.version < 0) return null;
  if (v.parts !== undefined && v.parts !== null && (typeof v.parts !== 'number' || !Number.isSafeInteger(v.parts) || v.parts < 1)) return null;
  return v as unknown as LastCheckpoint;
}

/** Reads the hint; null when it is absent or corrupt. Store errors other than "not found" propagate. */
export async function readLastCheckpoint(store: ObjectStore, signal?: AbortSignal): Promise<LastCheckpoint | null> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(LAST_CHECKPOINT, signal ? { signal } : {});
  } catch (err) {
    if (hasCode(err, 'OTSL_LAKE_NOT_FOUND')) return null;
    throw err;
  }
  return parseLastCheckpoint(new TextDecoder().decode(bytes));
}
