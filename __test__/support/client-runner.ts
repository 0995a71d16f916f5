/**
 * The `@libsql/client` runner the tests use as the reference driver. One implementation,
 * shared with the benchmark (where it is "peer 1"): bench/peers/libsql-client-runner.mjs.
 */
export { clientRunner } from '../../bench/peers/libsql-client-runner.mjs';
