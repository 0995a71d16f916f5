/**
 * The runner's own error codes are one set in the native core (src/error.rs, `ErrorCode::RUNNER`),
 * the TypeScript layer (lib/errors.ts, `RUNNER_ERROR_CODES` behind `LibsqlErrorCode`) and
 * docs/api.md's table: a code added to one and not the others fails here.
 */
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { runnerErrorCodes } from '../../index.js';
import { RUNNER_ERROR_CODES } from '../../dist/index.js';

const documented = [...readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8').split('### Error codes')[1].matchAll(/^\| `([A-Z_]+)` \|/gm)].map(
  ([, code]) => code,
);

test('the native core, lib/errors.ts and docs/api.md list the same runner error codes, each once', () => {
  const native = runnerErrorCodes();
  expect(native.length).toBeGreaterThan(15);
  expect(new Set(native).size).toBe(native.length);
  expect([...RUNNER_ERROR_CODES]).toEqual(native);
  expect(documented).toEqual(native);
});
