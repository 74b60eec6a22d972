/**
 * Fault injection for the emulators, per RPC path: error answers, added latency and dropped
 * connections (before the request is processed, or after it was processed but before the answer:
 * the case that makes clients retry something that already happened).
 */
import { OtslakeError } from '../common/errors.js';

export interface FaultSpec {
  /** The RPC path ('/PutRow', '/tunnel/readrecords'), or '*' for every path without its own spec. */
  path: string;
  /** Probability in [0, 1] of answering with an error instead of processing. */
  errorRate?: number;
  /** Error to answer with; defaults to the service's "busy" error (503). */
  errorStatus?: number;
  errorCode?: string;
  errorMessage?: string;
  /** Added before processing, on every matching request. */
  latencyMs?: number;
  /** Probability in [0, 1] of destroying the connection. */
  dropRate?: number;
  /** 'before': nothing is processed; 'after': processed, then the answer is lost. Default 'before'. */
  drop?: 'before' | 'after';
  /** Only the next N matching requests; then the spec removes itself. */
  times?: number;
}

export interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
}

export type FaultDecision =
  | { latencyMs: number; action: 'none' }
  | { latencyMs: number; action: 'error'; error: ErrorAnswer }
  | { latencyMs: number; action: 'drop-before' | 'drop-after' };

function checkRate(name: string, value: number | undefined): void {
  if (value !== undefined && !(value >= 0 && value <= 1)) {
    throw new OtslakeError('OTSL_EMULATOR', `fault ${name} must be within [0, 1], got ${value}`);
  }
}

export class FaultInjector {
  private readonly specs = new Map<string, FaultSpec & { remaining?: number }>();

  constructor(private readonly random: () => number = Math.random) {}

  /** Sets (replacing) the fault of `spec.path`. */
  set(spec: FaultSpec): void {
    if (typeof spec.path !== 'string' || !(spec.path === '*' || spec.path.startsWith('/'))) {
      throw new OtslakeError('OTSL_EMULATOR', `fault path must be '*' or start with '/', got ${String(spec.path)}`);
    }
    checkRate('errorRate', spec.errorRate);
    checkRate('dropRate', spec.dropRate);
    if (spec.latencyMs !== undefined && !(spec.latencyMs >= 0)) {
      throw new OtslakeError('OTSL_EMULATOR', `fault latencyMs must be >= 0, got ${spec.latencyMs}`);
    }
    if (spec.drop !== undefined && spec.drop !== 'before' && spec.drop !== 'after') {
      throw new OtslakeError('OTSL_EMULATOR', `fault drop must be 'before' or 'after', got ${String(spec.drop)}`);
    }
    if (spec.times !== undefined && !(Number.isInteger(spec.times) && spec.times > 0)) {
      throw new OtslakeError('OTSL_EMULATOR', `fault times must be a positive integer, got ${spec.times}`);
    }
    this.specs.set(spec.path, { ...spec, ...(spec.times !== undefined ? { remaining: spec.times } : {}) });
  }

  /** Clears one path's fault, or all of them. */
  clear(path?: string): void {
    if (path === undefined) this.specs.clear();
    else this.specs.delete(path);
  }

  list(): FaultSpec[] {
    return [...this.specs.values()].map(({ remaining, ...spec }) => ({ ...spec, ...(remaining !== undefined ? { times: remaining } : {}) }));
  }

  decide(path: string, busy: ErrorAnswer): FaultDecision {
    const spec = this.specs.get(path) ?? this.specs.get('*');
    if (!spec) return { latencyMs: 0, action: 'none' };
    if (spec.remaining !== undefined) {
      spec.remaining -= 1;
      if (spec.remaining <= 0) this.specs.delete(spec.path);
    }
    const latencyMs = spec.latencyMs ?? 0;
    if (spec.dropRate !== undefined && this.random() < spec.dropRate) {
      return { latencyMs, action: spec.drop === 'after' ? 'drop-after' : 'drop-before' };
    }
    if (spec.errorRate !== undefined && this.random() < spec.errorRate) {
      return {
        latencyMs,
        action: 'error',
        error: {
          status: spec.errorStatus ?? busy.status,
          code: spec.errorCode ?? busy.code,
          message: spec.errorMessage ?? `${busy.message} (injected fault)`,
        },
      };
    }
    return { latencyMs, action: 'none' };
  }
}
