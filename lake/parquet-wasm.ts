/**
 * parquet-wasm, loaded on first use. Its Node build compiles the whole parquet-rs module when loaded (~70 ms of
 * CPU here, bench/startup.ts), and the daemon's main thread needs it only to write or read a checkpoint, compact,
 * or merge a mirror, so it should not pay for it at start; a worker loads it with its first file.
 * Types come from the package as usual (`import type * as pw from 'parquet-wasm'`).
 */
import { createRequire } from 'node:module';
import type * as PW from 'parquet-wasm';

let loaded: typeof PW | null = null;

export function parquetWasm(): typeof PW {
  // The package's "node" export, the same module an `import 'parquet-wasm'` loads (one wasm instance).
  return (loaded ??= createRequire(import.meta.url)('parquet-wasm') as typeof PW);
}
