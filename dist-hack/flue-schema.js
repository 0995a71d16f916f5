/**
 * Flue's format-1 schema over a runner that is not ours (`libsql(runner)`).
 *
 * Our own `Database` migrates natively (`migrateFlueSchema`, the Rust migrator). A runner
 * written by hand for the three-function seam has only `query`/`transaction`, so for it the
 * same stamp rules run here, over `runner.transaction`, with the same embedded DDL.
 */
import { FLUE_FORMAT_VERSION, PersistedFormatVersionError } from '@flue/runtime/adapter';
import { LibsqlError } from './errors.js';
import { native } from './load-native.js';
const LEGACY_SCHEMA_VERSION = '8';
/** Turns the native migrator's refusal into Flue's own error class. */
export function toFlueError(error) {
    if (error instanceof LibsqlError && error.code === 'FLUE_FORMAT_VERSION') {
        const storedVersion = error.storedVersion ?? 'unknown';
        return new PersistedFormatVersionError({ storedVersion, supportedVersion: FLUE_FORMAT_VERSION });
    }
    return error;
}
export async function migrateFlueSchemaOverRunner(runner) {
    const statements = native.flueMigrations().flatMap((migration) => splitStatements(migration.sql));
    await runner.transaction(async (tx) => {
        const stamp = await readStamp(tx);
        for (const statement of statements)
            await tx.query(statement);
        await tx.query('CREATE TABLE IF NOT EXISTS flue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
        if (stamp === 'new') {
            await tx.query(`INSERT OR IGNORE INTO flue_meta (key, value) VALUES ('format_version', ?)`, [String(FLUE_FORMAT_VERSION)]);
        }
        else if (stamp === 'legacy') {
            await tx.query(`UPDATE flue_meta SET key = 'format_version', value = ? WHERE key = 'schema_version'`, [String(FLUE_FORMAT_VERSION)]);
        }
    });
}
/**
 * Splits a script into statements at the `;` that end them, for a runner that takes one
 * statement per call. Comments are dropped (they may hold `;`), quoted text is kept intact.
 * Enough for the embedded DDL (no triggers, so no `;` inside a statement body).
 */
export function splitStatements(script) {
    const statements = [];
    let current = '';
    for (let i = 0; i < script.length; i++) {
        const char = script[i];
        if (char === '-' && script[i + 1] === '-') {
            const end = script.indexOf('\n', i);
            i = end === -1 ? script.length : end - 1;
            continue;
        }
        if (char === '/' && script[i + 1] === '*') {
            const end = script.indexOf('*/', i + 2);
            i = end === -1 ? script.length : end + 1;
            current += ' ';
            continue;
        }
        if (char === "'" || char === '"' || char === '`' || char === '[') {
            const close = char === '[' ? ']' : char;
            let end = script.indexOf(close, i + 1);
            // A doubled quote inside quoted text is an escaped quote, not the end.
            while (end !== -1 && close !== ']' && script[end + 1] === close)
                end = script.indexOf(close, end + 2);
            end = end === -1 ? script.length - 1 : end;
            current += script.slice(i, end + 1);
            i = end;
            continue;
        }
        if (char === ';') {
            if (current.trim() !== '')
                statements.push(current.trim());
            current = '';
            continue;
        }
        current += char;
    }
    if (current.trim() !== '')
        statements.push(current.trim());
    return statements;
}
/** Reads the stamp before anything is written; refuses unknown, newer and unversioned stores. */
async function readStamp(tx) {
    const refuse = (storedVersion) => new PersistedFormatVersionError({ storedVersion, supportedVersion: FLUE_FORMAT_VERSION });
    const hasMeta = (await tx.query(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flue_meta'`)).length > 0;
    if (hasMeta) {
        const [format] = await tx.query(`SELECT value FROM flue_meta WHERE key = 'format_version'`);
        if (format) {
            if (String(format.value) !== String(FLUE_FORMAT_VERSION))
                throw refuse(String(format.value));
            return 'current';
        }
        const [legacy] = await tx.query(`SELECT value FROM flue_meta WHERE key = 'schema_version'`);
        if (legacy) {
            if (String(legacy.value) !== LEGACY_SCHEMA_VERSION)
                throw refuse(String(legacy.value));
            return 'legacy';
        }
    }
    const flueTables = await tx.query(String.raw `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name LIKE 'flue\_%' ESCAPE '\' AND name <> 'flue_meta' LIMIT 1`);
    if (flueTables.length > 0)
        throw refuse('unversioned');
    return 'new';
}
