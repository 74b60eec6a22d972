import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'emulator',
  async run(): Promise<number> {
    process.stderr.write('otslake emulator: not implemented yet\n');
    return 2;
  },
};
