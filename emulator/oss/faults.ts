/**
 * Fault injection for the OSS emulator, to drive clients' retry paths:
 * - `error`: answer with a 5xx (or any) OSS error document instead of processing;
 * - `drop-before`: destroy the connection before the request is processed (nothing happened);
 * - `drop-after`: process the request, then destroy the connection instead of answering — the
 *   "unseen success" a client must not mistake for failure of a conditional write;
 * - `delay`: wait before processing (a client with a shorter timeout gives up, the write still lands).
 * Rules are one-shot by default and matched in order; random rates add background chaos.
 */
import { OtslakeError } from '../../common/errors.js';

export type FaultKind = 'error' | 'drop-before' | 'drop-after' | 'delay';

export interface FaultRule {
  kind: FaultKind;
  /** How many matching requests this rule hits (default 1). */
  times?: number;
  /** Only requests with this operation name, e.g. PutObject, GetObject, ListObjectsV2, CompleteMultipartUpload. */
  op?: string;
  /** Only requests with this HTTP method. */
  method?: string;
  /** Only object keys starting with this prefix. */
  keyPrefix?: string;
  /** For `error`: the HTTP status (default 503). */
  status?: number;
  /** For `error`: the OSS error code (default ServiceUnavailable for 503, InternalError otherwise). */
  code?: string;
  /** For `delay`. */
  delayMs?: number;
}

export interface RandomFaults {
  /** Probability in [0, 1] that a request gets a 5xx error. */
  errorRate?: number;
  errorStatus?: number;
  dropBeforeRate?: number;
  dropAfterRate?: number;
  /** Added to every request before processing. */
  latencyMs?: number;
}

export interface FaultDecision {
  kind: FaultKind | 'none';
  status?: number;
  code?: string;
  delayMs?: number;
}

export interface RequestFacts {
  op: string;
  method: string;
  key: string;
}

const KINDS: readonly FaultKind[] = ['error', 'drop-before', 'drop-after', 'delay'];

function checkRate(name: string, value: number | undefined): void {
  if (value !== undefined && !(value >= 0 && value <= 1)) {
    throw new OtslakeError('OTSL_EMULATOR', `fault ${name} must be within [0, 1], got ${value}`, { context: { rate: name } });
  }
}

export class FaultInjector {
  private rules: Array<FaultRule & { remaining: number }> = [];
  private random: RandomFaults = {};
  /** How many faults were applied, by kind: lets a test prove a fault actually fired. */
  readonly fired: Record<FaultKind, number> = { error: 0, 'drop-before': 0, 'drop-after': 0, delay: 0 };
  private readonly listeners = new Set<(kind: FaultKind, facts: RequestFacts) => void>();

  constructor(private readonly rand: () => number = Math.random) {}

  inject(...rules: FaultRule[]): void {
    for (const rule of rules) {
      if (!KINDS.includes(rule.kind)) {
        throw new OtslakeError('OTSL_EMULATOR', `unknown fault kind "${String(rule.kind)}"`, { context: { kind: String(rule.kind) } });
      }
      if (rule.kind === 'delay' && !(typeof rule.delayMs === 'number' && rule.delayMs >= 0)) {
        throw new OtslakeError('OTSL_EMULATOR', 'a delay fault needs delayMs >= 0', { context: { kind: rule.kind } });
      }
      this.rules.push({ ...rule, remaining: rule.times ?? 1 });
    }
  }

  setRandom(random: RandomFaults): void {
    checkRate('errorRate', random.errorRate);
    checkRate('dropBeforeRate', random.dropBeforeRate);
    checkRate('dropAfterRate', random.dropAfterRate);
    this.random = { ...random };
  }

  /** Disarms every rule and rate, and zeroes the `fired` counters. */
  clear(): void {
    this.rules = [];
    this.random = {};
    for (const kind of KINDS) this.fired[kind] = 0;
  }

  /** Rules still armed (with their remaining hits) and the random rates. */
  state(): { rules: FaultRule[]; random: RandomFaults; fired: Record<FaultKind, number> } {
    return { rules: this.rules.map(({ remaining, ...r }) => ({ ...r, times: remaining })), random: { ...this.random }, fired: { ...this.fired } };
  }

  /**
   * Calls `listener` for every fault fired from now on, as the request arrives (before a delay starts): a test
   * awaits "the request is at the server" instead of sleeping. Returns the unsubscribe.
   */
  onFired(listener: (kind: FaultKind, facts: RequestFacts) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Decides the fate of one request; consumes a rule when one matches. */
  decide(facts: RequestFacts): FaultDecision {
    const index = this.rules.findIndex((r) => matches(r, facts));
    if (index >= 0) {
      const rule = this.rules[index]!;
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.rules.splice(index, 1);
      return this.fire({ kind: rule.kind, status: rule.status, code: rule.code, delayMs: rule.delayMs }, facts);
    }
    const r = this.random;
    if (r.dropBeforeRate && this.rand() < r.dropBeforeRate) return this.fire({ kind: 'drop-before' }, facts);
    if (r.errorRate && this.rand() < r.errorRate) return this.fire({ kind: 'error', status: r.errorStatus }, facts);
    if (r.dropAfterRate && this.rand() < r.dropAfterRate) return this.fire({ kind: 'drop-after' }, facts);
    if (r.latencyMs) return { kind: 'delay', delayMs: r.latencyMs };
    return { kind: 'none' };
  }

  private fire(decision: FaultDecision & { kind: FaultKind }, facts: RequestFacts): FaultDecision {
    this.fired[decision.kind] += 1;
    for (const listener of this.listeners) listener(decision.kind, facts);
    return decision;
  }
}

function matches(rule: FaultRule, facts: RequestFacts): boolean {
  if (rule.op !== undefined && rule.op !== facts.op) return false;
  if (rule.method !== undefined && rule.method.toUpperCase() !== facts.method) return false;
  if (rule.keyPrefix !== undefined && !facts.key.startsWith(rule.keyPrefix)) return false;
  return true;
}
