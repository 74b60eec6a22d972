/**
 * tablestore-local's own PlainBuffer codec (docs/plainbuffer.md): decoding of request rows,
 * encoding of response rows and of Tunnel record bytes. It imports nothing from tunnel/, so the
 * client's decoder and this encoder check each other instead of sharing a bug.
 */
export { decodeRow, decodeRows, type DecodedCell, type DecodedKeyCell, type DecodedRow, type KeyValue } from './plainbuffer-read.js';
export { encodePrimaryKey, encodeRow, encodeRows, encodeStreamRecord, type StreamRecordOptions } from './plainbuffer-write.js';
