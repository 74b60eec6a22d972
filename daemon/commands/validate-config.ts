import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'validate-config',
  async run(): Promise<number> {
    process.stderr.write('otslake validate-config: not implemented yet\n');
    return 2;
  },
};
