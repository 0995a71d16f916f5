// The test command: builds the addon, runs the Rust unit tests and the vitest suites (under
// the Node 22 this repo installs), and ends with one summary line for both.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const resultsFile = '.vitest-results.json';

function run(command, args, { capture = false } = {}) {
  const result = spawnSync(command, args, { stdio: capture ? ['inherit', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8' });
  if (capture) process.stdout.write(result.stdout ?? '');
  return result;
}

const build = run('npm', ['run', 'build']);
if (build.status !== 0) {
  console.log('tests: 0 passed, 1 failed (the build failed)');
  process.exit(1);
}

const cargo = run('cargo', ['test', '--release', '--quiet'], { capture: true });
let rustPassed = 0;
let rustFailed = cargo.status === 0 ? 0 : 1;
for (const match of (cargo.stdout ?? '').matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
  rustPassed += Number(match[1]);
  rustFailed = Math.max(rustFailed, 0) + Number(match[2]);
}

rmSync(resultsFile, { force: true });
const vitestArgs = ['vitest', 'run', '--reporter=default', `--reporter=json`, `--outputFile.json=${resultsFile}`, ...process.argv.slice(2)];
const vitest = run('npx', vitestArgs);
let results = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0 };
try {
  results = JSON.parse(readFileSync(resultsFile, 'utf8'));
} catch {
  results.numFailedTests = 1; // no results file: vitest itself failed to run
}

// Tests against a libSQL server or an embedded replica name it (describe or test title).
const tests = (results.testResults ?? []).flatMap((file) => file.assertionResults ?? []);
const onServer = tests.filter((test) => /\b(remote|replica|sqld|server)\b/i.test(test.fullName ?? ''));
const serverPassed = onServer.filter((test) => test.status === 'passed').length;
const skippedTests = tests.filter((test) => test.status === 'pending' || test.status === 'skipped' || test.status === 'todo');

// CI has a server (FLUE_LIBSQL_SQLD): there, a skipped test is a test that did not run, and fails the run.
const mustNotSkip = Boolean(process.env.CI && process.env.FLUE_LIBSQL_SQLD);
const skipFailures = mustNotSkip ? skippedTests.length : 0;
if (skipFailures > 0) {
  console.log(`\nCI with FLUE_LIBSQL_SQLD set: ${skipFailures} test(s) skipped, and none may be:`);
  for (const test of skippedTests) console.log(`  skipped: ${test.fullName}`);
}

const passed = rustPassed + results.numPassedTests;
const failed = rustFailed + results.numFailedTests + skipFailures + (vitest.status !== 0 && results.numFailedTests === 0 ? 1 : 0);
const skipped = results.numPendingTests + results.numTodoTests;
console.log(`\nrust: ${rustPassed} passed, ${rustFailed} failed; vitest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped`);
console.log(`against a libSQL server (sqld ${process.env.FLUE_LIBSQL_SQLD ? 'started by the tests' : process.env.FLUE_LIBSQL_TEST_URL ? 'at FLUE_LIBSQL_TEST_URL' : 'not available'}) or a replica of one: ${serverPassed} passed, ${onServer.length - serverPassed} not passed`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
