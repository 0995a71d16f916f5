/**
 * The subsets of the test suites that the test command (scripts/test.mjs) runs again under
 * another setting, each a project named after its run: `npx vitest run --config
 * scripts/vitest.runs.config.ts --project <name>`. Their files overlap, so one is run at a time.
 * The suites' own projects, one per folder of __test__/, are in vitest.config.ts.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import base from '../vitest.config.ts';

/** Test files by folder and name (`runner/values` is `__test__/runner/values.test.ts`); a folder alone is all of it. */
export const RUNS: Record<string, string[]> = {
  /**
   * The remote suites with the servers' clients on Hrana over WebSocket
   * (`FLUE_LIBSQL_TEST_TRANSPORT=ws`: the tests' sqld servers hand out ws:// urls); the runner
   * suites cover both transports in every run (their `remote` and `remote-ws` kinds).
   */
  websocket: ['remote/sqld-harness', 'runner/remote', 'reliability/remote', 'remote/auth', 'flue/stores-contract', 'flue/stores-one-request', 'remote/lanes', 'replica/writes', 'flue/agent'],
  /**
   * The servers behind a TLS terminator (`FLUE_LIBSQL_TEST_TLS_DIR`, the CA in
   * NODE_EXTRA_CA_CERTS): the runner suites with server kinds (`https://` and `wss://`; the
   * others open only local targets), Flue's contract suites, the agent restart and a replica
   * syncing over `https://`. Trust and TLS failures have a suite of their own (remote/tls).
   */
  tls: [
    ...['values', 'statements', 'errors', 'transactions', 'lifecycle', 'concurrency', 'open', 'remote'].map((name) => `runner/${name}`),
    'flue/stores-contract',
    'flue/agent',
    'replica/writes',
  ],
  /** Under the extra Node versions: the runner suites, Flue's contract suites, the agent test and the package install test. */
  'other-nodes': ['runner', 'flue/stores-contract', 'flue/agent', 'flue/runtime-version', 'packaging/package-install'],
  /**
   * On the oldest @flue/runtime the peer range admits (scripts/vitest.flue-2.0.config.ts): the
   * Flue-facing suites, and the CLI (a child process on the installed @flue/runtime) reading what
   * 2.0.3 wrote.
   */
  'flue-2.0': ['flue/runtime-version', 'flue/stores-contract', 'flue/stores-one-request', 'flue/agent', 'cli/commands'],
  /** Under qemu-user on linux-arm64 (scripts/arm64.sh): the runner suites, Flue's contract suites and the binding. */
  arm64: ['runner', 'flue/stores-contract', 'packaging/native-binding'],
  /** Under a musl Node (scripts/musl.sh): the same suites on the linux-musl modules. */
  musl: ['runner', 'flue/stores-contract', 'packaging/native-binding'],
};

/** The run's project: its files, with the options of vitest.config.ts. */
export function runProject(name: string): TestProjectInlineConfiguration {
  const include = RUNS[name].map((entry) => (entry.includes('/') ? `__test__/${entry}.test.ts` : `__test__/${entry}/**/*.test.ts`));
  return { extends: true, test: { name, include } };
}

export default defineConfig({
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  // `flue-2.0` means something only with 2.0.3 aliased in: that config holds it.
  test: { ...base.test, projects: Object.keys(RUNS).filter((name) => name !== 'flue-2.0').map(runProject) },
});
