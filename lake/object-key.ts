/**
 * Object keys shared by every ObjectStore: validation (a key must never escape the store's root, which
 * matters for file:// where a key becomes a path) and the one sort order of listings.
 */
import { OtslakeError, type ErrorContext } from '../common/errors.js';

/**
 * Code-point order, which is the UTF-8 byte order OSS and S3 list in. Plain `<` compares UTF-16 code
 * units and would put U+E000–U+FFFF after astral characters; the fix-up moves surrogates to the top.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

function invalid(message: string, key: string, context: ErrorContext): OtslakeError {
  return new OtslakeError('OTSL_LAKE_KEY_INVALID', message, { context: { ...context, key } });
}

function checkSegments(value: string, context: ErrorContext, allowTrailingSlash: boolean): void {
  if (value.startsWith('/')) throw invalid(`object key must be relative, got "${value}"`, value, context);
  if (value.includes('\0') || value.includes('\\')) throw invalid(`object key has a NUL or backslash: "${value}"`, value, context);
  const segments = value.split('/');
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '' && !(last && allowTrailingSlash)) throw invalid(`object key has an empty segment: "${value}"`, value, context);
    if (segment === '.' || segment === '..') throw invalid(`object key has a "${segment}" segment: "${value}"`, value, context);
  });
}

/** A key names one object: non-empty, relative, '/'-separated, no empty/./.. segments. */
export function validateKey(key: string, context: ErrorContext = {}): string {
  if (typeof key !== 'string' || key === '') throw invalid('object key is empty', String(key), context);
  checkSegments(key, context, false);
  return key;
}

/** A list prefix may be '' (everything), end in '/', or stop mid-name ('_delta_log/0000'). */
export function validatePrefix(prefix: string, context: ErrorContext = {}): string {
  if (prefix === '') return prefix;
  checkSegments(prefix, context, true);
  return prefix;
}

/** A child root: trailing slashes dropped, '' stays the root itself. */
export function normalizeRoot(prefix: string, context: ErrorContext = {}): string {
  const trimmed = prefix.replace(/\/+$/, '');
  if (trimmed === '') return '';
  return validateKey(trimmed, context);
}

export function joinKey(root: string, key: string): string {
  return root === '' ? key : `${root}/${key}`;
}

/** Rejects a malformed GetOptions.range before any I/O (negative, fractional, or end before start). */
export function validateRange(range: { start: number; end?: number }, context: ErrorContext): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0 || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
    throw new OtslakeError('OTSL_LAKE_RANGE_INVALID', `invalid byte range ${start}-${end ?? ''} for "${context.key}"`, { context: { ...context, start, end } });
  }
}

/**
 * The inclusive byte range a GetOptions.range selects in an object of `size` bytes: the end is clamped,
 * a start at or past the end is OTSL_LAKE_RANGE_INVALID (as OSS answers with x-oss-range-behavior: standard).
 */
export function clampRange(range: { start: number; end?: number }, size: number, context: ErrorContext): { start: number; end: number } {
  validateRange(range, context);
  if (range.start >= size) {
    throw new OtslakeError('OTSL_LAKE_RANGE_INVALID', `range start ${range.start} is beyond the end of "${context.key}" (${size} bytes)`, {
      context: { ...context, start: range.start, end: range.end, size },
    });
  }
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}
