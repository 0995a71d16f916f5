/**
 * Which `@flue/runtime` this run's Flue suites exercise — and that our code runs on that same
 * copy. The repo installs two: `@flue/runtime` (2.1.0, the newest the peer range admits) and
 * `@flue/runtime-2.0` (`npm:@flue/runtime@2.0.3`, the oldest, the one `@flue/vite` 2.0.3 pins).
 * The default run imports the first; `scripts/vitest.flue-2.0.config.ts` aliases every
 * `@flue/runtime[/…]` import to the second and names it in FLUE_LIBSQL_FLUE_RUNTIME_PACKAGE /
 * FLUE_LIBSQL_FLUE_RUNTIME_VERSION.
 *
 * Proven here, for the copy the run expects: its version; that `@flue/runtime/adapter`,
 * `/test-utils` and `/node` as the test files import them are that copy's modules (not the
 * other's); that `dist/` (the adapter's format check) and `lib/` (the stores) call that copy's
 * helpers — the errors they throw are its classes, not the other copy's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as adapterModule from '@flue/runtime/adapter';
import * as nodeModule from '@flue/runtime/node';
import * as testUtilsModule from '@flue/runtime/test-utils';
import { libsql, open } from '../../dist/index.js';
import { createAttachmentStore } from '../../lib/flue/stores/index.js';
import { writeStamp } from '../support/flue-stamp.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COPIES = ['@flue/runtime', '@flue/runtime-2.0'];
const expectedPackage = process.env.FLUE_LIBSQL_FLUE_RUNTIME_PACKAGE ?? '@flue/runtime';
const otherPackage = COPIES.find((name) => name !== expectedPackage)!;
const packageDir = (name: string) => join(REPO_ROOT, 'node_modules', ...name.split('/'));
const versionOf = (name: string) => (JSON.parse(readFileSync(join(packageDir(name), 'package.json'), 'utf8')) as { version: string }).version;
/** A copy's module, loaded by its file path (never through the `@flue/runtime` specifier). */
const load = (name: string, file: string) => import(/* @vite-ignore */ join(packageDir(name), 'dist', file));

const otherInstalled = existsSync(join(packageDir(otherPackage), 'package.json'));

describe(`the Flue runtime under test: ${expectedPackage}@${versionOf(expectedPackage)}`, () => {
  it('is the version this run expects', () => {
    const expected = process.env.FLUE_LIBSQL_FLUE_RUNTIME_VERSION;
    if (expected) expect(versionOf(expectedPackage)).toBe(expected);
    expect(JSON.parse(readFileSync(join(packageDir(expectedPackage), 'package.json'), 'utf8')).name).toBe('@flue/runtime');
    console.log(`flue-runtime-version: @flue/runtime ${versionOf(expectedPackage)} (${expectedPackage}) on Node ${process.versions.node}`);
  });

  it('@flue/runtime/adapter, /test-utils and /node resolve to that copy', async () => {
    expect(adapterModule.PersistedFormatVersionError).toBe((await load(expectedPackage, 'adapter.mjs')).PersistedFormatVersionError);
    expect(testUtilsModule.defineStoreContractTests).toBe((await load(expectedPackage, 'test-utils/define-store-contract-tests.mjs')).defineStoreContractTests);
    expect(nodeModule.start).toBe((await load(expectedPackage, 'node/index.mjs')).start);
    if (otherInstalled) {
      expect(adapterModule.PersistedFormatVersionError).not.toBe((await load(otherPackage, 'adapter.mjs')).PersistedFormatVersionError);
    }
  });

  it("dist/'s adapter refuses a format-2 store with that copy's PersistedFormatVersionError", async () => {
    const db = await open(':memory:');
    try {
      await writeStamp(db, 'format_version', '2');
      const error = await libsql(db).migrate().then(
        () => new Error('migrate() accepted a format-2 store'),
        (rejection: unknown) => rejection,
      );
      const flueError = error instanceof adapterModule.PersistedFormatVersionError ? error : (error as Error).cause;
      expect(flueError).toBeInstanceOf(adapterModule.PersistedFormatVersionError);
      if (otherInstalled) expect(flueError).not.toBeInstanceOf((await load(otherPackage, 'adapter.mjs')).PersistedFormatVersionError);
    } finally {
      await db.close();
    }
  });

  it("lib/'s stores call that copy's helpers: a bad attachment fails with its AttachmentIntegrityError", async () => {
    const db = await open(':memory:');
    try {
      await db.migrateFlueSchema();
      const store = createAttachmentStore(db);
      const bytes = new Uint8Array([1, 2, 3]);
      const attachment = await adapterModule.createAttachmentRef({ id: 'att-1', mimeType: 'application/octet-stream', bytes });
      const error = await store
        .put({ streamPath: 'agents/x/conversations/y', conversationId: 'y', attachment: { ...attachment, size: 4 }, bytes })
        .then(() => new Error('put() accepted bytes that do not match the ref'), (rejection: unknown) => rejection);
      expect(error).toBeInstanceOf(adapterModule.AttachmentIntegrityError);
      if (otherInstalled) expect(error).not.toBeInstanceOf((await load(otherPackage, 'adapter.mjs')).AttachmentIntegrityError);
    } finally {
      await db.close();
    }
  });
});
