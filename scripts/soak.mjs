// `npm run soak [seconds]`: the soak under faults (__test__/failover/soak.test.ts) for longer than the
// test command's 30 s — 600 s unless told — with the same workload, faults and checks; its
// report line (faults injected, turns acknowledged, lost) is the last thing it prints.
// FLUE_LIBSQL_SOAK_SEED draws a run's faults again; FLUE_LIBSQL_SQLD names another sqld.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE22 = join(ROOT, 'node_modules', 'node', 'bin', 'node');
const seconds = process.argv[2] ?? process.env.FLUE_LIBSQL_SOAK_SECONDS ?? '600';
if (!/^\d+$/.test(seconds) || Number(seconds) < 10) {
  console.error(`usage: npm run soak [seconds >= 10] (got ${seconds})`);
  process.exit(2);
}

// The soak imports the built package (dist/): build what is out of date first.
const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'ensure-built.mjs')], { cwd: ROOT, stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

const result = spawnSync(NODE22, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '__test__/failover/soak.test.ts'], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, FLUE_LIBSQL_SOAK_SECONDS: seconds },
});
process.exit(result.status ?? 1);
