import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BEGIN_MARKER, DOC_PATH, END_MARKER, renderConfigKeys } from '../../../config/config-doc.js';
import { envNameFor, listConfigKeys } from '../../../config/schema.js';

describe('docs/configuration.md', () => {
  it('holds the key table generated from the schema (regenerate: npx tsx config/config-doc.ts --write)', () => {
    const text = readFileSync(DOC_PATH, 'utf8');
    const block = text.slice(text.indexOf(BEGIN_MARKER), text.indexOf(END_MARKER) + END_MARKER.length);
    expect(block).toBe(renderConfigKeys());
  });

  it('every key has a doc, and an env var named by the convention (tables excepted)', () => {
    for (const k of listConfigKeys()) {
      expect(k.doc.length, k.key).toBeGreaterThan(20);
      if (k.key === 'tables') expect(k.env).toBeNull();
      else expect(k.env, k.key).toBe(envNameFor(k.key));
    }
  });

  it('marks exactly the secrets as sensitive', () => {
    const sensitive = listConfigKeys()
      .filter((k) => k.sensitive)
      .map((k) => k.key);
    expect(sensitive.sort()).toEqual(['lake.oss.accessKeySecret', 'lake.oss.securityToken', 'source.accessKeySecret', 'source.securityToken']);
  });
});
