/** Reading a config file: JSON (.json) or YAML (.yaml/.yml); a problem names the file. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import type * as Yaml from 'yaml';
import { ConfigError } from './config-error.js';

/** The YAML parser, loaded for a YAML file only (~35 ms of start-up a JSON config does not need). */
function parseYaml(text: string, options: Yaml.ParseOptions & Yaml.DocumentOptions & Yaml.SchemaOptions & Yaml.ToJSOptions): unknown {
  return (createRequire(import.meta.url)('yaml') as typeof Yaml).parse(text, options);
}

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
