/**
 * The runner seam Flue's libSQL stores run on: three functions, nothing else.
 *
 * `open()` returns a `Database` that satisfies `Runner`; any hand-written object with
 * the same three functions (for example over `@libsql/client`) satisfies it too, which
 * is what lets `libsql(runner)` accept code written for the seam.
 */
export {};
