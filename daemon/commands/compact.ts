import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'compact',
  async run(): Promise<number> {
    process.stderr.write('otslake compact: not implemented yet\n');
    return 2;
  },
};
