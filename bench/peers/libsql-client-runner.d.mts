import type { Runner } from '../../lib/runner.js';

/** A `Runner` over `@libsql/client` (Flue's guide), with the benchmark's file pragmas. */
export declare function clientRunner(url: string): Runner;
