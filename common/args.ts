/** Tiny argv parser for the CLI commands: --key value, --key=value, --flag, positionals. */
import { parseArgs } from 'node:util';

export interface ArgSpec {
  [name: string]: { type: 'string' | 'boolean'; short?: string; default?: string | boolean; multiple?: boolean };
}

export function parseCommandArgs<S extends ArgSpec>(argv: string[], spec: S) {
  return parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
}
