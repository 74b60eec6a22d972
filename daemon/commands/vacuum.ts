import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'vacuum',
  async run(): Promise<number> {
    process.stderr.write('otslake vacuum: not implemented yet\n');
    return 2;
  },
};
