import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'inspect',
  async run(): Promise<number> {
    process.stderr.write('otslake inspect: not implemented yet\n');
    return 2;
  },
};
