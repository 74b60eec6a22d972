/** Reading a config file: JSON (.json) or YAML (.yaml/.yml); a problem names the file. */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';

/** Reads JSON (.json) or YAML (.yaml/.yml). A parse error names the file and the position. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError([{ key: '', problem: `cannot be read: ${reason}` }], path);
  }
  const ext = extname(path).toLowerCase();
  try {
    if (ext === '.json') return JSON.parse(text) as unknown;
    if (ext === '.yaml' || ext === '.yml') return parseYaml(text, { prettyErrors: true }) as unknown;
  } catch (err) {
    const detail = (err as Error).message.split('\n')[0];
    throw new ConfigError([{ key: '', problem: `is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${detail}` }], path);
  }
  throw new ConfigError([{ key: '', problem: `has extension "${ext}"; use .json, .yaml or .yml` }], path);
}
