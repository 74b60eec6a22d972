/**
 * `bin/otslake <command> [options]`: the one CLI entry. Each command lives in cli/commands/<name>.ts
 * (the demo in cli/demo/) and is loaded lazily, so that `otslake inspect` does not pay for the
 * emulator or the worker pool.
 */
import type { Command } from './command.js';

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./commands/run.js')).command,
  status: async () => (await import('./commands/status.js')).command,
  'validate-config': async () => (await import('./commands/validate-config.js')).command,
  inspect: async () => (await import('./commands/inspect.js')).command,
  compact: async () => (await import('./commands/compact.js')).command,
  vacuum: async () => (await import('./commands/vacuum.js')).command,
  resync: async () => (await import('./commands/resync.js')).command,
  emulator: async () => (await import('./commands/emulator.js')).command,
  'oss-emulator': async () => (await import('./commands/oss-emulator.js')).command,
  demo: async () => (await import('./demo/command.js')).command,
};

function usage(): string {
  return [
    'usage: otslake <command> [options]',
    '',
    'commands:',
    '  run --config FILE [--until-idle]     run the daemon',
    '  status --config FILE [--json]         per table: lake version, rows, channels, lag',
    '  validate-config --config FILE         check a config file',
    '  inspect URI [--version N] [--json]    describe a Delta table',
    '  compact URI [--execute]               bin-pack small files (dry run by default)',
    '  vacuum URI [--execute]                delete unreferenced files (dry run by default)',
    '  emulator [--host H] [--port P] ...    run tablestore-local',
    '  oss-emulator [--host H] [--port P]    run the OSS emulator',
    '  demo                                  the embedded demo (npm start)',
  ].join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    process.exitCode = name === undefined ? 2 : 0;
    return;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`otslake: unknown command "${name}"\n\n${usage()}\n`);
    process.exitCode = 2;
    return;
  }
  const command = await load();
  process.exitCode = await command.run(rest);
}
