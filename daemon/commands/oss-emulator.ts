import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'oss-emulator',
  async run(): Promise<number> {
    process.stderr.write('otslake oss-emulator: not implemented yet\n');
    return 2;
  },
};
