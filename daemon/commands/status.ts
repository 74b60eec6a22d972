import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'status',
  async run(): Promise<number> {
    process.stderr.write('otslake status: not implemented yet\n');
    return 2;
  },
};
