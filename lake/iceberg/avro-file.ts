/**
 * Avro object container files (the form of Iceberg manifests and manifest lists) through avsc: its
 * BlockEncoder writes the header (magic, `avro.schema` with every custom attribute such as
 * `field-id`, `avro.codec`, our key-value metadata, sync marker) and the blocks; its BlockDecoder
 * reads them back. Choice and figures: docs/iceberg.md §Avro.
 */
import { Readable } from 'node:stream';
import { deflateRawSync, inflateRaw } from 'node:zlib';
import avro from 'avsc';
import { OtslakeError } from '../../common/errors.js';

export type AvroSchema = Record<string, unknown>;

const typeCache = new Map<string, avro.Type>();

/** The avsc type of a schema, compiled once per distinct schema (compiling costs ~0.1 ms). */
export function avroType(schema: AvroSchema): avro.Type {
  const key = JSON.stringify(schema);
  let type = typeCache.get(key);
  if (!type) {
    type = avro.Type.forSchema(schema as avro.Schema);
    typeCache.set(key, type);
    if (typeCache.size > 256) typeCache.delete(typeCache.keys().next().value!);
  }
  return type;
}

async function collect(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * One container file holding `records`. The header is written even without records: an Iceberg
 * reader opens an empty manifest list like any other. Codec deflate, as Iceberg writes by default.
 */
export async function encodeAvroFile(schema: AvroSchema, records: readonly unknown[], metadata: Record<string, string>): Promise<Uint8Array> {
  const meta: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(metadata)) meta[k] = Buffer.from(v, 'utf8');
  // The compiled type is cached; its header schema keeps every attribute (exportAttrs). Deflate
  // runs inline: a block is a few KiB, and a trip through the libuv pool costs more than it.
  const encoder = new avro.streams.BlockEncoder(avroType(schema), {
    codec: 'deflate',
    codecs: { deflate: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, deflateRawSync(buf)) },
    writeHeader: true,
    metadata: meta,
  } as unknown as Partial<avro.EncoderOptions>);
  const done = collect(encoder);
  try {
    for (const r of records) {
      if (!encoder.write(r)) await new Promise((resolve) => encoder.once('drain', resolve));
    }
    encoder.end();
    return await done;
  } catch (err) {
    throw new OtslakeError('OTSL_ICEBERG_WRITE', `encoding an Avro file failed: ${(err as Error).message}`, { cause: err });
  }
}

export interface DecodedAvroFile {
  metadata: Record<string, string>;
  records: Record<string, unknown>[];
}

/** Reads a container file back: its key-value metadata and every record (with the writer's schema). */
export async function decodeAvroFile(bytes: Uint8Array, file: string): Promise<DecodedAvroFile> {
  const decoder = new avro.streams.BlockDecoder({ codecs: { deflate: inflateRaw } as never });
  const metadata: Record<string, string> = {};
  decoder.on('metadata', (_type: avro.Type, _codec: string, header: { meta: Record<string, Buffer> }) => {
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
