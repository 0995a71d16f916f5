import type { Runner } from '../lib/types.js';

/** A `Runner` over `@libsql/client` (Flue's guide), with the benchmark's file pragmas at `durability` (default 'full'). */
export declare function clientRunner(url: string, durability?: 'full' | 'normal'): Runner;
