import { describe, expect, it } from 'vitest';
import { OtslakeError } from '../../../common/errors.js';
import { withRetry, sleep } from '../../../common/retry.js';
import { parseBytes, parseDuration, parseDeltaInterval } from '../../../common/units.js';
import { createLogger } from '../../../common/log.js';

describe('withRetry', () => {
  it('retries retriable errors and returns the first success', async () => {
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw new OtslakeError('OTSL_TUNNEL_HTTP', 'reset', { retriable: true });
        return 'ok';
      },
      { policy: { initialDelayMs: 1, maxDelayMs: 2 } },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('never retries a non-retriable error or a programmer error', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls += 1;
        throw new TypeError('bug');
      }),
    ).rejects.toThrow(TypeError);
    await expect(
      withRetry(async () => {
        calls += 1;
        throw new OtslakeError('OTSL_TUNNEL_AUTH', 'no');
      }),
    ).rejects.toMatchObject({ code: 'OTSL_TUNNEL_AUTH' });
    expect(calls).toBe(2);
  });

  it('gives up with OTSL_RETRIES_EXHAUSTED carrying the context and attempts', async () => {
    const err = await withRetry(
      async () => {
        throw new OtslakeError('OTSL_TUNNEL_HTTP', 'down', { retriable: true, context: { channelId: 'c1' } });
      },
      { policy: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 } },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OTSL_RETRIES_EXHAUSTED', context: { channelId: 'c1', attempts: 3 } });
  });

  it('stops waiting when aborted', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'OTSL_ABORTED' });
  });
});

describe('units', () => {
  it('parses durations, byte sizes and Delta intervals', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseBytes('128MiB')).toBe(128 * 1024 * 1024);
    expect(parseDeltaInterval('interval 30 days')).toBe(30 * 86_400_000);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });
});

describe('log', () => {
  it('writes one JSON object per line and redacts secrets', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) }).child({ table: 'orders' });
    log.info('connected', { config: { accessKeyId: 'AK', accessKeySecret: 'SECRET' }, stsToken: 'TOKEN' });
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({
      level: 'info',
      msg: 'connected',
      table: 'orders',
      config: { accessKeyId: 'AK', accessKeySecret: '[Redacted]' },
      stsToken: '[Redacted]',
    });
    expect(lines[0]).not.toContain('SECRET');
  });
});
