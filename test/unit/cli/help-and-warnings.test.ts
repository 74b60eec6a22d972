/**
 * The CLI as documented: `run --help` and `status --help` print their usage and exit 0 (a usage
 * mistake is 2); --idle-timeout needs --until-idle. The daemon's process warnings are JSON log lines,
 * not Node's plain-text stderr lines.
 */
import { setMaxListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { command as run } from '../../../cli/commands/run.js';
import { command as status } from '../../../cli/commands/status.js';
import type { Logger } from '../../../common/log.js';
import { routeProcessWarnings } from '../../../daemon/main.js';
import { captureOutput } from '../../helpers/capture-output.js';

afterEach(() => vi.restoreAllMocks());

const capture = captureOutput;

describe('CLI help', () => {
  it('run --help and status --help exit 0 with every flag listed', async () => {
    const r = await capture(() => run.run(['--help']));
    expect(r.code).toBe(0);
    for (const flag of ['--config', '--until-idle', '--idle-timeout', '--help']) expect(r.out).toContain(flag);
    const s = await capture(() => status.run(['-h']));
    expect(s.code).toBe(0);
    for (const flag of ['--config', '--json', '--help']) expect(s.out).toContain(flag);
  });

  it('usage mistakes exit 2', async () => {
    expect((await capture(() => run.run(['--bogus']))).code).toBe(2);
    expect((await capture(() => run.run(['--config', 'x.json', '--idle-timeout', '5m']))).err).toContain('--idle-timeout needs --until-idle');
    expect((await capture(() => run.run(['--config', 'x.json', '--until-idle', '--idle-timeout', 'soon']))).code).toBe(2);
    expect((await capture(() => status.run([]))).code).toBe(2);
  });
});

describe('process warnings', () => {
  it('go to the JSON log instead of stderr while the daemon runs', async () => {
    const lines: unknown[] = [];
    const log = { warn: (msg: string, fields: unknown) => lines.push({ msg, fields }) } as unknown as Logger;
    let stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
    const restore = routeProcessWarnings(log);
    try {
      // What too many abort listeners on one signal used to print.
      const signal = new AbortController().signal;
      setMaxListeners(2, signal);
      for (let i = 0; i < 3; i++) signal.addEventListener('abort', () => undefined);
      await new Promise((resolve) => process.nextTick(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      restore();
    }
    expect(lines).toEqual([{ msg: 'node warning', fields: expect.objectContaining({ name: 'MaxListenersExceededWarning' }) }]);
    expect(stderr).toBe('');
  });
});
