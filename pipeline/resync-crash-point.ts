/**
 * Named crash points of a resync, for the tests that prove a resync survives a crash at any step
 * (test/integration/resync-crash.test.ts): with OTSLAKE_CRASH_AT=<name> the process SIGKILLs itself when
 * it reaches that point — exactly there, which a kill from outside on a log line cannot promise. Not
 * configuration (config/load.ts leaves OTSLAKE_CRASH_* alone); unset, a crash point costs one comparison.
 */
export type CrashPoint = 'resync-before-switch' | 'resync-after-switch' | 'resync-before-tunnel-delete';

export function crashPoint(name: CrashPoint): void {
  if (process.env.OTSLAKE_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}
