/**
 * The table API's proto2 messages, loaded at runtime from the official SDK's own
 * lib/protocol/tablestore.proto so that field numbers cannot drift from the client's.
 * Field names stay snake_case as in the .proto. 64-bit fields decode as Long; toNumber() converts.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import { RpcError } from './rpc.js';

let root: protobuf.Root | null = null;

function loadRoot(): protobuf.Root {
  if (root) return root;
  const require = createRequire(import.meta.url);
  const sdkDir = path.dirname(require.resolve('tablestore/package.json'));
  const text = fs.readFileSync(path.join(sdkDir, 'lib', 'protocol', 'tablestore.proto'), 'utf8');
  root = protobuf.parse(text, { keepCase: true }).root;
  root.resolveAll();
  return root;
}

const types = new Map<string, protobuf.Type>();

function messageType(name: string): protobuf.Type {
  let t = types.get(name);
  if (!t) {
    t = loadRoot().lookupType(`main.proto.${name}`);
    types.set(name, t);
  }
  return t;
}

/**
 * Decodes a request. A missing proto2 `required` field is tolerated here (the partial message is
 * used) and checked by the handler, which can name the field in an OTSParameterInvalid.
 */
export function decodeRequest<T>(name: string, body: Uint8Array): T {
  const type = messageType(name);
  let message: protobuf.Message;
  try {
    message = type.decode(body);
  } catch (err) {
    if (!(err instanceof protobuf.util.ProtocolError && err.instance)) {
      throw new RpcError(400, 'OTSParameterInvalid', `Failed to parse the ${name}: ${(err as Error).message}`);
    }
    message = err.instance as protobuf.Message;
  }
  // Decoded messages answer absent optional fields with prototype defaults (an enum's first value);
  // the plain object holds only what the client sent, so `??` defaults work.
  return type.toObject(message, { defaults: false, arrays: true }) as T;
}

/** Encodes a response; every required field must be present in `value`. */
export function encodeMessage(name: string, value: Record<string, unknown>): Uint8Array {
  return messageType(name).encode(value).finish();
}

export function encodeError(code: string, message: string): Uint8Array {
  return encodeMessage('Error', { code, message });
}

/** Long | number | undefined → number (ms timestamps and counts fit in 2^53). */
export function toNumber(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return value;
  return Number((value as { toString(): string }).toString());
}

/** The message type's enum values, e.g. enumValues('Direction') → { FORWARD: 0, BACKWARD: 1 }. */
export function enumValues(name: string): Record<string, number> {
  return loadRoot().lookupEnum(`main.proto.${name}`).values;
}
