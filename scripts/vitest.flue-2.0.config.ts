/**
 * The Flue-facing suites on the oldest `@flue/runtime` the peer range admits, 2.0.3 (the version
 * `@flue/vite` 2.0.3 pins), installed next to 2.1.0 as the dev dependency
 * `"@flue/runtime-2.0": "npm:@flue/runtime@2.0.3"`.
 *
 * Every `@flue/runtime` / `@flue/runtime/<subpath>` import that vite resolves — the test files,
 * Flue's contract suites (`@flue/runtime/test-utils`), `lib/` and `dist/` (the stores, the schema
 * check, the adapter) — goes to that copy, so the suites exercise 2.0.3's code and our stores on
 * 2.0.3's helpers, with one module instance (one `PersistedFormatVersionError` class).
 * `__test__/flue/runtime-version.test.ts` proves which copy loaded. Its one project, `flue-2.0`,
 * holds the files of that run (scripts/vitest.runs.config.ts): `npx vitest run --config
 * scripts/vitest.flue-2.0.config.ts` (scripts/test.mjs), or some of them by path after it.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from '../vitest.config.ts';
import { runProject } from './vitest.runs.config.ts';

export const FLUE_RUNTIME_ALIAS = '@flue/runtime-2.0';

export default defineConfig({
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  resolve: {
    alias: [{ find: /^@flue\/runtime(?=\/|$)/, replacement: FLUE_RUNTIME_ALIAS }],
  },
  test: {
    ...base.test,
    env: { FLUE_LIBSQL_FLUE_RUNTIME_PACKAGE: FLUE_RUNTIME_ALIAS, FLUE_LIBSQL_FLUE_RUNTIME_VERSION: '2.0.3' },
    projects: [runProject('flue-2.0')],
  },
});
