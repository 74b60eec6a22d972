/**
 * `otslake <command>` in its own process, for the tests that need a real process (signals, SIGKILL):
 * the CLI runs from the TypeScript sources through tsx (the same entry as bin/otslake, which loads
 * dist/), and its JSON log lines on stderr are collected so that a test awaits a log line instead of
 * sleeping. `killSpawned()` in afterEach SIGKILLs whatever a test left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { onLogLines } from '../../common/log-lines.js';

const CLI = new URL('../../cli/main.ts', import.meta.url).href;
const spawned: ChildProcess[] = [];

export interface CliProcess {
  child: ChildProcess;
  /** Every log line so far (a non-JSON line is kept as `{msg: 'non-json', line}`). */
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  /** Resolves with the first log line whose `msg` matches; rejects on timeout or exit. */
  logged(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** `env`: variables added to this process's environment for the child (e.g. OTSLAKE_CRASH_AT). */
export function spawnCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', `import(${JSON.stringify(CLI)}).then((m) => m.main(process.argv.slice(1)))`, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  spawned.push(child);
  const logs: Record<string, unknown>[] = [];
  onLogLines(child.stderr!, (rec) => {
    logs.push(rec);
    child.emit('log', rec);
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const logged = (msg: string, timeoutMs = 20_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const found = logs.find((l) => l.msg === msg);
      if (found) return resolve(found);
      const timer = setTimeout(
        () => finish(new Error(`no "${msg}" log within ${timeoutMs} ms; got ${JSON.stringify(logs.slice(-8).map((l) => l.msg))}`)),
        timeoutMs,
      );
      const onLog = (rec: Record<string, unknown>) => rec.msg === msg && finish(null, rec);
      const onExit = () => finish(new Error(`process exited before "${msg}"; last logs ${JSON.stringify(logs.slice(-5))}`));
      const finish = (err: Error | null, rec?: Record<string, unknown>) => {
        clearTimeout(timer);
        child.off('log', onLog);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve(rec!);
      };
      child.on('log', onLog);
      child.once('exit', onExit);
    });
  return { child, logs, exited, logged };
}

export function killSpawned(): void {
  for (const c of spawned.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
