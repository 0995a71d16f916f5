#!/usr/bin/env node
/**
 * `npx flue-libsql <command>` — for the people who run a Flue app's database. Every command
 * reads the same options and environment as `libsql()` (`--url`, `LIBSQL_URL`,
 * `TURSO_DATABASE_URL`, `LIBSQL_AUTH_TOKEN`, `TURSO_AUTH_TOKEN`) and never prints a token.
 * One file per command in ./cli/; docs/cli.md documents them and their --json shapes.
 *
 * The commands load the package's native module lazily (never as static imports): when it
 * cannot load (no prebuilt package for this platform), the loader's message is printed as one
 * clean error instead of an uncaught exception with a stack.
 */
import { enableCompileCache } from 'node:module';
import { UsageError } from './cli/args.js';

// Each command is a new process that loads the same modules again — `show --messages` most of
// all: Flue's runtime, about 1,100 files. Node keeps their compiled code in its cache directory
// (the OS temp directory, or NODE_COMPILE_CACHE) and skips compiling them the next time; where
// the directory cannot be written it answers with a status, and the command runs uncached.
enableCompileCache();

const USAGE = `usage: flue-libsql <command> [options] [--url URL] [--sync-url URL]

  conversations [--agent NAME] [--since DATE] [--json]
           one line per conversation: agent, id, user messages, submissions, last activity
  show AGENT/ID [--messages] [--tools] [--json]
           one conversation: activity, turns, submissions, tokens, cost, models;
           --messages the conversation as text, --tools every tool call
  stats [--agent NAME] [--since DATE] [--json]
           submissions by outcome per agent, failure and retry rates, tool calls by name,
           tokens and cost by model and agent
  copy --to URL [--from URL]
           copy Flue's data to another database (idempotent, resumable); the target's token
           from LIBSQL_TO_AUTH_TOKEN
  status   target kind, whether it is reachable, Flue format version, pending migrations,
           and the row count of every flue_* table
  migrate  create or upgrade Flue's schema (idempotent) and report what was applied
  check    PRAGMA integrity_check

The database comes from --url, else LIBSQL_URL, else TURSO_DATABASE_URL, else file:.flue/flue.db;
the token from LIBSQL_AUTH_TOKEN or TURSO_AUTH_TOKEN. Only migrate and copy (its target) write.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || rest.includes('--help') || rest.includes('-h')) {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'conversations':
      return (await import('./cli/conversations.js')).conversationsCommand(rest);
    case 'show':
      return (await import('./cli/show.js')).showCommand(rest);
    case 'stats':
      return (await import('./cli/stats.js')).statsCommand(rest);
    case 'copy':
      return (await import('./cli/copy.js')).copyCommand(rest);
    case 'status':
    case 'migrate':
    case 'check':
      return (await import('./cli/maintenance.js')).maintenanceCommand(command, rest);
    default:
      throw new UsageError(`unknown command '${command}' (flue-libsql --help lists them)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`flue-libsql: ${error.message} (flue-libsql --help)`);
      process.exit(2);
    }
    const { code, message } = error as { code?: string; message?: string };
    const text = message ?? String(error);
    // The loader's own message already starts with the package name.
    console.error(text.startsWith('flue-libsql') ? text : `flue-libsql: ${code ? `${code}: ` : ''}${text}`);
    process.exit(1);
  },
);
