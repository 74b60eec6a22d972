/**
 * Avro object container files (the form of Iceberg manifests and manifest lists) through avsc: it
 * encodes the header (magic, `avro.schema` with every `field-id`, `avro.codec`, our key-value
 * metadata, sync marker) and the records; its BlockDecoder reads files back. Choice and figures:
 * docs/iceberg.md §Avro: the library.
 */
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRaw } from 'node:zlib';
import { createRequire } from 'node:module';
import type avroTypes from 'avsc';
import { OtslakeError } from '../../common/errors.js';

type Avsc = typeof avroTypes;
/** avsc is loaded by the first Iceberg file: a daemon without Iceberg tables never pays for it (~25 ms at start). */
let loaded: Avsc | null = null;
function avsc(): Avsc {
  return (loaded ??= createRequire(import.meta.url)('avsc') as Avsc);
}

export type AvroSchema = Record<string, unknown>;

/**
 * Names of the records whose `long` fields are exact: numbers while safe integers, bigints beyond
 * ±(2^53 − 1). avsc's own long refuses anything beyond ±(2^53 − 2) both ways (it cannot be a JS
 * number); an Iceberg long partition value can be any int64. Scoped to those records because avsc's
 * custom long goes through an 8-byte buffer per value, ~3× slower over a whole manifest entry.
 */
export type ExactLongRecords = readonly string[];

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** One representation per value (number when safe, else bigint), so a value read back equals the one written. */
export function canonicalLong(n: bigint): number | bigint {
  return n >= MIN_SAFE && n <= MAX_SAFE ? Number(n) : n;
}

let exactLongType: avroTypes.Type | null = null;
function exactLong(): avroTypes.Type {
  return (exactLongType ??= avsc().types.LongType.__with({
    // avsc hands over and takes the value as 8 bytes, two's complement, little-endian.
    fromBuffer: (buf: Buffer) => canonicalLong(buf.readBigInt64LE()),
    toBuffer: (value: number | bigint) => {
      const buf = Buffer.alloc(8);
      buf.writeBigInt64LE(BigInt(value));
      return buf;
    },
    fromJSON: (value: number | string | bigint) => canonicalLong(BigInt(value)),
    toJSON: (value: number | bigint) => (typeof value === 'bigint' ? value.toString() : value),
    isValid: (value: unknown) =>
      (typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'bigint' && BigInt.asIntN(64, value) === value),
    compare: (a: number | bigint, b: number | bigint) => (a < b ? -1 : a > b ? 1 : 0),
  }));
}

const typeCache = new Map<string, avroTypes.Type>();

/** The avsc type of a schema, compiled once per distinct schema (compiling costs ~0.1 ms). */
export function avroType(schema: AvroSchema, exactLongRecords: ExactLongRecords = []): avroTypes.Type {
  const key = `${exactLongRecords.join(',')}|${JSON.stringify(schema)}`;
  let type = typeCache.get(key);
  if (!type) {
    const typeHook = (s: avroTypes.Schema): avroTypes.Type | undefined => {
      const record = s as { type?: unknown; name?: unknown };
      if (record.type !== 'record' || !exactLongRecords.includes(record.name as string)) return undefined;
      return avsc().Type.forSchema(s, { registry: { long: exactLong() } });
    };
    type = avsc().Type.forSchema(schema as avroTypes.Schema, exactLongRecords.length > 0 ? { typeHook } : {});
    typeCache.set(key, type);
    if (typeCache.size > 256) typeCache.delete(typeCache.keys().next().value!);
  }
  return type;
}

let framing: { header: avroTypes.Type; long: avroTypes.Type } | null = null;
/** The container's header record and block counts, compiled with avsc on first use. */
function frame(): { header: avroTypes.Type; long: avroTypes.Type } {
  return (framing ??= {
    header: avsc().Type.forSchema({
      type: 'record',
      name: 'org.apache.avro.file.Header',
      fields: [
        { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
        { name: 'meta', type: { type: 'map', values: 'bytes' } },
        { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
      ],
    } as avroTypes.Schema),
    long: avsc().Type.forSchema('long'),
  });
}
const MAGIC = Buffer.from('Obj\u0001', 'latin1');
/** Records per block: a manifest of a few thousand entries is a handful of deflate calls. */
const BLOCK_RECORDS = 1000;

/**
 * One container file holding `records`: avsc encodes the header and every record; the framing
 * (header, then per block: count, byte size, deflated records, sync marker) is the spec's. The
 * header's `avro.schema` is the schema as given, so the `field-id` of every field reaches readers
 * (avsc's own stream encoder drops field attributes when handed a compiled type, and compiling a
 * type per file costs more than the encoding). Written even without records: an Iceberg reader
 * opens an empty manifest list like any other. Codec deflate, as Iceberg writes by default.
 */
export function encodeAvroFile(
  schema: AvroSchema,
  records: readonly unknown[],
  metadata: Record<string, string>,
  exactLongRecords: ExactLongRecords = [],
): Uint8Array {
  const type = avroType(schema, exactLongRecords);
  const meta: Record<string, Buffer> = { 'avro.schema': Buffer.from(JSON.stringify(schema)), 'avro.codec': Buffer.from('deflate') };
  for (const [k, v] of Object.entries(metadata)) meta[k] = Buffer.from(v, 'utf8');
  const sync = randomBytes(16);
  const parts: Buffer[] = [frame().header.toBuffer({ magic: MAGIC, meta, sync })];
  try {
    for (let i = 0; i < records.length; i += BLOCK_RECORDS) {
      const block = records.slice(i, i + BLOCK_RECORDS);
      const body = deflateRawSync(Buffer.concat(block.map((r) => type.toBuffer(r))));
      parts.push(frame().long.toBuffer(block.length), frame().long.toBuffer(body.byteLength), body, sync);
    }
  } catch (err) {
    throw new OtslakeError('OTSL_ICEBERG_WRITE', `encoding an Avro file failed: ${(err as Error).message}`, { cause: err });
  }
  return Buffer.concat(parts);
}

export interface DecodedAvroFile {
  metadata: Record<string, string>;
  records: Record<string, unknown>[];
}

/**
 * Reads a container file back: its key-value metadata and every record (with the writer's schema,
 * compiled as `avroType` does, so the longs of `exactLongRecords` read back exactly).
 */
export async function decodeAvroFile(bytes: Uint8Array, file: string, exactLongRecords: ExactLongRecords = []): Promise<DecodedAvroFile> {
  const decoder = new (avsc().streams.BlockDecoder)({
    codecs: { deflate: inflateRaw } as never,
    // avsc compiles what the hook returns, and a compiled type compiles to itself.
    parseHook: (schema: avroTypes.Schema) => avroType(schema as AvroSchema, exactLongRecords),
  });
  const metadata: Record<string, string> = {};
  decoder.on('metadata', (_type: avroTypes.Type, _codec: string, header: { meta: Record<string, Buffer> }) => {
    for (const [k, v] of Object.entries(header.meta)) metadata[k] = v.toString('utf8');
  });
  const records: Record<string, unknown>[] = [];
  try {
    Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]).pipe(decoder);
    for await (const r of decoder) records.push(r as Record<string, unknown>);
  } catch (err) {
    throw new OtslakeError('OTSL_ICEBERG_CORRUPT', `${file} is not a readable Avro file: ${(err as Error).message}`, { cause: err, context: { file } });
  }
  return { metadata, records };
}
