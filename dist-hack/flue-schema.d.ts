import type { Runner } from './runner.js';
/** Turns the native migrator's refusal into Flue's own error class. */
export declare function toFlueError(error: unknown): unknown;
export declare function migrateFlueSchemaOverRunner(runner: Runner): Promise<void>;
/**
 * Splits a script into statements at the `;` that end them, for a runner that takes one
 * statement per call. Comments are dropped (they may hold `;`), quoted text is kept intact.
 * Enough for the embedded DDL (no triggers, so no `;` inside a statement body).
 */
export declare function splitStatements(script: string): string[];
