import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { generateApiTypes, SCHEMA_FILE } from './web-api-types.ts';

it('web/src/api/schema.d.ts matches the server\'s OpenAPI document (else run npm run web:api)', { timeout: 60_000 }, async () => {
  const fresh = await generateApiTypes();
  assert.ok(fresh === readFileSync(SCHEMA_FILE, 'utf8'), 'web/src/api/schema.d.ts is stale: run `npm run web:api` and commit it');
  assert.match(fresh, /"\/api\/jobs": \{/);
});
