/**
 * The Tunnel service's state (tunnels, their channels and checkpoints, connected clients) and its
 * persistence: one JSON file, replaced atomically (write tmp, fsync, rename) after every change, so
 * a restarted emulator resumes exactly where the previous one stopped.
 *
 * Versions and sequence numbers are plain numbers: they count events and stay far below 2^53.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { OtslakeError } from '../../common/errors.js';

export type TunnelKind = 'BaseData' | 'Stream' | 'BaseAndStream';
export type ChannelKind = 'BaseData' | 'Stream';
export type ChannelState = 'WAIT' | 'OPEN' | 'CLOSING' | 'CLOSE' | 'TERMINATED';

export interface StreamConfigState {
  flag?: 'LATEST' | 'EARLIEST';
  /** ns since epoch, as decimal strings (JSON has no bigint). */
  startOffsetNs?: string;
  endOffsetNs?: string;
}

export interface ChannelRecord {
  id: string;
  kind: ChannelKind;
  partitionId: string;
  hashStart: number;
  hashEnd: number;
  parents: string[];
  status: ChannelState;
  version: number;
  owner: string | null;
  /** Suspended through Schedule(CLOSING): never handed out until resumed. */
  suspended: boolean;
  /** Reported TERMINATED by its owner or terminated through Schedule. */
  terminated: boolean;
  checkpoint: { token: string; seq: number } | null;
  /** Stream channels: change-log index where reading starts. */
  startIndex: number;
}

export interface TunnelRecord {
  id: string;
  name: string;
  table: string;
  kind: TunnelKind;
  createTimeMs: number;
  streamId: string;
  streamConfig: StreamConfigState | null;
  channels: ChannelRecord[];
  /** Set once a change the tunnel still had to deliver was trimmed by the stream retention; never cleared. */
  expired?: boolean;
}

export interface ClientRecord {
  id: string;
  tunnelId: string;
  timeoutMs: number;
  lastHeartbeatMs: number;
}

export interface TunnelState {
  tunnels: TunnelRecord[];
  clients: ClientRecord[];
}

const STATE_FILE = 'tunnel-state.json';
const STATE_VERSION = 1;

/** Reads the state file of `dataDir`; an absent file is an empty state. */
export function loadTunnelState(dataDir: string | undefined): TunnelState {
  if (dataDir === undefined) return { tunnels: [], clients: [] };
  const file = join(dataDir, STATE_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { tunnels: [], clients: [] };
    throw new OtslakeError('OTSL_EMULATOR', 'cannot read the Tunnel state file', { cause: err, context: { file } });
  }
  try {
    const parsed = JSON.parse(text) as { version?: number } & Partial<TunnelState>;
    if (parsed.version !== STATE_VERSION || !Array.isArray(parsed.tunnels) || !Array.isArray(parsed.clients)) {
      throw new Error(`unsupported state version ${String(parsed.version)}`);
    }
    return { tunnels: parsed.tunnels, clients: parsed.clients };
  } catch (err) {
    throw new OtslakeError('OTSL_EMULATOR', 'the Tunnel state file is corrupt', { cause: err, context: { file } });
  }
}

/** Serialises writes of the state file; each save writes the state as it is when the save runs. */
export class TunnelStateWriter {
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(private readonly dataDir: string | undefined) {
    if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  }

  save(state: TunnelState): Promise<void> {
    const dir = this.dataDir;
    if (dir === undefined) return Promise.resolve();
    const run = this.chain.then(() => writeAtomically(dir, JSON.stringify({ version: STATE_VERSION, ...state }), ++this.seq));
    // A failed write must not wedge every later one; the caller still sees its own failure.
    this.chain = run.catch(() => undefined);
    return run;
  }

  async flush(): Promise<void> {
    await this.chain;
  }
}

async function writeAtomically(dir: string, text: string, seq: number): Promise<void> {
  const file = join(dir, STATE_FILE);
  const tmp = `${file}.${process.pid}.${seq}.tmp`;
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    throw new OtslakeError('OTSL_EMULATOR', 'cannot write the Tunnel state file', { cause: err, context: { file } });
  }
}
