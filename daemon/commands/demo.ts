import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'demo',
  async run(): Promise<number> {
    process.stderr.write('otslake demo: not implemented yet\n');
    return 2;
  },
};
