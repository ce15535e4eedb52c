import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { emittedSchema } from '../../src/graphql/print-schema.js';

describe('schema/schema.graphql', () => {
  it('is exactly what the code emits (run `npm run schema:emit` after changing the API)', async () => {
    const committed = readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(await emittedSchema());
  });
});
