import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'run',
  async run(): Promise<number> {
    process.stderr.write('otslake run: not implemented yet\n');
    return 2;
  },
};
