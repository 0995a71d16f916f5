/**
 * Argument parsing shared by the commands: one `parseArgs` per command (unknown options are
 * refused), `--since DATE` and the `AGENT/ID` of a conversation. A bad argument is a
 * `UsageError`: the entry point prints its one line and exits 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

/** The options every command takes: where the database is. */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  'sync-url': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<const T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  positionalCount: number,
) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...CONNECTION_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals.length !== positionalCount) {
    const extra = parsed.positionals.slice(positionalCount);
    throw new UsageError(extra.length ? `unexpected argument '${extra[0]}'` : 'missing argument');
  }
  return parsed;
}

/** `--since 2026-12-01` or any date-time `Date.parse` reads: epoch milliseconds. */
export function parseSince(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new UsageError(`--since: not a date: '${text}' (use e.g. 2026-12-01 or 2026-12-01T09:00Z)`);
  return time;
}

/** `AGENT/ID`: the agent name, then the instance id (which may itself contain slashes). */
export function parseConversationRef(text: string): { agent: string; id: string } {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) throw new UsageError(`expected AGENT/ID, got '${text}'`);
  return { agent: text.slice(0, slash), id: text.slice(slash + 1) };
}
