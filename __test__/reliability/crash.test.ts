/**
 * Crash safety: a process killed with SIGKILL at a random moment loses nothing it was told
 * was written, never leaves half a write behind, and never damages the file.
 *
 * A child process (support/children/reliability-crash-worker.mjs) drives the real adapter —
 * `libsql()` → `migrate()` → `connect()` → Flue's three stores — in a loop, and prints one
 * line per write AFTER the write's promise resolved. The parent kills it at random moments
 * (during startup and WAL recovery, right after an acknowledgement, or at a random time into
 * the loop), reopens the database, and checks every acknowledgement it ever received, the
 * absence of partial batches, `PRAGMA integrity_check`, and that the next child carries on.
 * Runs alternate between durability 'full' and 'normal': both promise to survive a process
 * crash (only 'full' promises to survive a power loss, which no test here can simulate).
 *
 * A second test kills `migrate()` on fresh files at random points and proves the next start
 * migrates cleanly to exactly the schema, stamp and migration record of an uninterrupted run.
 *
 * Sizes: FLUE_LIBSQL_CRASH_KILLS=200 runs 200 kills of each kind (default 25 workload kills
 * and 30 migrate kills). FLUE_LIBSQL_CRASH_SEED=<n> repeats a run's kill timings.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_READ_LIMIT } from '@flue/runtime/adapter';
import { libsql, open } from '../../dist/index.js';
import { makeTempDir, runNodeChild, type ChildResult, type TempDir } from '../support/runner-helpers.js';
import { seededRandom } from '../../scripts/seeded-random.mjs';

const WORKER = fileURLToPath(new URL('../support/children/reliability-crash-worker.mjs', import.meta.url));
const STREAM = 'agents/crash/main';
const CONVERSATION = 'conv_crash';

const configuredKills = Number(process.env.FLUE_LIBSQL_CRASH_KILLS) || undefined;
const WORKLOAD_KILLS = configuredKills ?? 25;
const MIGRATE_KILLS = configuredKills ?? 30;
const SEED = Number(process.env.FLUE_LIBSQL_CRASH_SEED) || Math.floor(Math.random() * 2 ** 31);
console.log(
  `[reliability-crash] ${WORKLOAD_KILLS} workload kills, ${MIGRATE_KILLS} migrate kills, seed ${SEED} ` +
    `(FLUE_LIBSQL_CRASH_SEED=${SEED} repeats these timings; FLUE_LIBSQL_CRASH_KILLS=200 for a long run)`,
);


/** Busy-waits for `ms` (fractions allowed): timers are too coarse to aim a kill inside a 10 ms migrate. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

type AckLine =
  | { t: 'ready'; producerId: string; epoch: number }
  | { t: 'sub'; id: string; state: 'queued' | 'ready' | 'running'; attemptId?: string }
  | { t: 'batch'; offset: string; ids: string[] }
  | { t: 'att'; id: string; size: number; sha256: string }
  | { t: 'opening' }
  | { t: 'migrated'; ms: number };

/** Everything the children acknowledged, over all runs. */
interface Ledger {
  submissions: Map<string, { state: 'queued' | 'ready' | 'running'; attemptId?: string }>;
  batches: Map<string, string[]>;
  attachments: Map<string, { size: number; sha256: string }>;
}

const STATE_RANK = { queued: 0, ready: 1, running: 2 } as const;

function record(ledger: Ledger, line: AckLine): void {
  if (line.t === 'sub') {
    const previous = ledger.submissions.get(line.id);
    if (!previous || STATE_RANK[line.state] > STATE_RANK[previous.state]) {
      ledger.submissions.set(line.id, { state: line.state, attemptId: line.attemptId });
    }
  } else if (line.t === 'batch') {
    ledger.batches.set(line.offset, line.ids);
  } else if (line.t === 'att') {
    ledger.attachments.set(line.id, { size: line.size, sha256: line.sha256 });
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reopens the database as a restarted process would and lists every way it breaks the
 * acknowledgements or the file's integrity (an empty list is a pass).
 */
async function verify(path: string, ledger: Ledger): Promise<{ problems: string[]; batches: number; records: number }> {
  const problems: string[] = [];
  const adapter = libsql({ url: `file:${path}` });
  let batchCount = 0;
  let recordCount = 0;
  try {
    await adapter.migrate();
    const { submissionStore, conversationStreamStore, attachmentStore } = await adapter.connect();

    for (const [id, acked] of ledger.submissions) {
      const stored = await submissionStore.getSubmission(id);
      if (!stored) {
        problems.push(`acknowledged submission ${id} (${acked.state}) is missing`);
        continue;
      }
      if (acked.state !== 'queued' && stored.canonicalReadyAt === null) problems.push(`submission ${id} was acknowledged ready but is not`);
      if (acked.state === 'running' && (stored.status !== 'running' || stored.attemptId !== acked.attemptId)) {
        problems.push(`submission ${id} was acknowledged running under ${acked.attemptId}, found ${stored.status} / ${stored.attemptId}`);
      }
    }

    // Every batch in the stream, acknowledged or not, must be whole.
    const stored = new Map<string, string[]>();
    const seenTurns = new Set<string>();
    for (let offset: string | undefined; ; ) {
      const page = await conversationStreamStore.read(STREAM, { offset, limit: MAX_READ_LIMIT });
      for (const batch of page.batches) {
        const ids = batch.records.map((r) => String((r as { id: unknown }).id));
        stored.set(batch.offset, ids);
        recordCount += ids.length;
        const match = /^r-(\d+)-(\d+)-1of(\d+)$/.exec(ids[0] ?? '');
        const whole = match !== null && ids.length === Number(match[3]) &&
          ids.every((id, k) => id === `r-${match[1]}-${match[2]}-${k + 1}of${match[3]}`);
        if (!whole) problems.push(`batch ${batch.offset} is partial or malformed: ${ids.join(',')}`);
        const turn = match ? `${match[1]}-${match[2]}` : batch.offset;
        if (seenTurns.has(turn)) problems.push(`batch of turn ${turn} is stored twice`);
        seenTurns.add(turn);
      }
      if (page.upToDate || page.batches.length === 0) break;
      offset = page.nextOffset;
    }
    batchCount = stored.size;
    for (const [offset, ids] of ledger.batches) {
      const found = stored.get(offset);
      if (!found) problems.push(`acknowledged batch ${offset} (${ids[0]}…) is missing`);
      else if (found.join(',') !== ids.join(',')) problems.push(`batch ${offset} holds ${found.join(',')}, acknowledged ${ids.join(',')}`);
    }

    for (const [id, acked] of ledger.attachments) {
      let got;
      try {
        got = await attachmentStore.get({ streamPath: STREAM, attachmentId: id, conversationId: CONVERSATION });
      } catch (error) {
        problems.push(`attachment ${id} fails to read: ${(error as Error).message}`);
        continue;
      }
      if (!got) problems.push(`acknowledged attachment ${id} is missing`);
      else if (got.bytes.length !== acked.size || sha256Hex(got.bytes) !== acked.sha256) {
        problems.push(`attachment ${id} bytes differ (${got.bytes.length} bytes, acknowledged ${acked.size})`);
      }
    }
  } finally {
    await adapter.close();
  }

  const db = await open(`file:${path}`);
  try {
    const integrity = await db.query('PRAGMA integrity_check');
    if (integrity.length !== 1 || integrity[0].integrity_check !== 'ok') problems.push(`integrity_check: ${JSON.stringify(integrity)}`);
    const foreignKeys = await db.query('PRAGMA foreign_key_check');
    if (foreignKeys.length > 0) problems.push(`foreign_key_check: ${JSON.stringify(foreignKeys)}`);
    const stamp = await db.query(`SELECT value FROM flue_meta WHERE key = 'format_version'`);
    if (stamp[0]?.value !== '1') problems.push(`format stamp is ${JSON.stringify(stamp)}`);
  } finally {
    await db.close();
  }
  return { problems, batches: batchCount, records: recordCount };
}

type KillPlan =
  | { kind: 'after-spawn'; ms: number }
  | { kind: 'after-ready'; ms: number }
  | { kind: 'after-ack'; ack: number; spinMs: number };

function planKill(run: number, random: () => number): KillPlan {
  if (run % 5 === 4) return { kind: 'after-spawn', ms: Math.floor(random() * 160) }; // startup, recovery, migrate, producer takeover
  if (run % 2 === 0) return { kind: 'after-ready', ms: 5 + Math.floor(random() * 150) };
  return { kind: 'after-ack', ack: 1 + Math.floor(random() * 400), spinMs: random() * 1.5 };
}

describe('SIGKILL during a Flue workload', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it(
    `loses no acknowledged write and leaves no partial batch over ${WORKLOAD_KILLS} kills of one database`,
    async () => {
      const random = seededRandom(SEED);
      const path = dir.file('crash.db');
      const ledger: Ledger = { submissions: new Map(), batches: new Map(), attachments: new Map() };
      const runs: string[] = [];

      for (let run = 0; run < WORKLOAD_KILLS; run++) {
        const durability = run % 2 === 0 ? 'full' : 'normal';
        const plan = planKill(run, random);
        let acks = 0;
        let killed = false;
        const kill = (child: { kill(signal: NodeJS.Signals): boolean }) => {
          if (!killed) {
            killed = true;
            child.kill('SIGKILL');
          }
        };
        let timer: NodeJS.Timeout | undefined;
        const { child, done } = runNodeChild(WORKER, [path, String(run), durability, 'workload'], {
          onStdoutLine: (text, proc) => {
            let line: AckLine;
            try {
              line = JSON.parse(text) as AckLine;
            } catch {
              return; // not an acknowledgement
            }
            record(ledger, line);
            if (line.t !== 'ready') acks += 1;
            if (plan.kind === 'after-ready' && line.t === 'ready') timer = setTimeout(() => kill(proc), plan.ms);
            if (plan.kind === 'after-ack' && acks === plan.ack) {
              spin(plan.spinMs);
              kill(proc);
            }
          },
        });
        if (plan.kind === 'after-spawn') timer = setTimeout(() => kill(child), plan.ms);
        // Backstop: an `after-ack` plan whose ack count is never reached still ends in a kill.
        const backstop = setTimeout(() => kill(child), 3000);
        const result: ChildResult = await done;
        clearTimeout(timer);
        clearTimeout(backstop);
        // The worker loops forever: anything but our SIGKILL is a failure of its own.
        expect(result.signal, `run ${run} ended by itself:\n${result.stderr}`).toBe('SIGKILL');
        expect(result.stderr).toBe('');

        const verdict = await verify(path, ledger);
        runs.push(`${plan.kind}:${acks}`);
        expect(verdict.problems, `after kill ${run + 1} (${durability}, ${JSON.stringify(plan)}, ${acks} acks in this run)`).toEqual([]);
        expect(verdict.batches).toBeGreaterThanOrEqual(ledger.batches.size);
      }

      // The kills landed at varied points: some before any write, most in the middle of the loop.
      console.log(
        `[reliability-crash] ${WORKLOAD_KILLS} kills; acknowledged ${ledger.submissions.size} submissions, ` +
          `${ledger.batches.size} batches, ${ledger.attachments.size} attachments; acks per run: ${runs.join(' ')}`,
      );
      expect(ledger.batches.size).toBeGreaterThan(WORKLOAD_KILLS);
      expect(ledger.attachments.size).toBeGreaterThan(WORKLOAD_KILLS);
      expect([...ledger.submissions.values()].some((s) => s.state === 'running')).toBe(true);

      // And the store keeps working after the last kill: one more full round-trip through a child.
      const after = runNodeChild(WORKER, [path, String(WORKLOAD_KILLS), 'full', 'workload'], {
        onStdoutLine: (text, proc) => {
          const line = JSON.parse(text) as AckLine;
          record(ledger, line);
          if (line.t === 'att') proc.kill('SIGKILL');
        },
      });
      const last = await after.done;
      expect(last.stderr).toBe('');
      expect(last.stdout).toContain('"t":"att"');
      expect((await verify(path, ledger)).problems).toEqual([]);
    },
    60_000 + WORKLOAD_KILLS * 4_000,
  );
});

describe('SIGKILL during migrate() on a fresh file', () => {
  let dir: TempDir;
  let reference: { schema: unknown; stamp: unknown; migrations: unknown };

  /** What a migrated database holds (the time each migration was applied left out). */
  async function snapshot(path: string) {
    const db = await open(`file:${path}`);
    try {
      const integrity = await db.query('PRAGMA integrity_check');
      return {
        integrity,
        schema: await db.query('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name'),
        stamp: await db.query('SELECT key, value FROM flue_meta ORDER BY key'),
        migrations: await db.query('SELECT set_name, version, name, checksum FROM _flue_libsql_migrations ORDER BY set_name, version'),
      };
    } finally {
      await db.close();
    }
  }

  beforeAll(async () => {
    dir = await makeTempDir();
    const adapter = libsql({ url: `file:${dir.file('reference.db')}` });
    await adapter.migrate();
    await adapter.close();
    const ref = await snapshot(dir.file('reference.db'));
    reference = { schema: ref.schema, stamp: ref.stamp, migrations: ref.migrations };
    expect(ref.stamp).toEqual([{ key: 'format_version', value: '1' }]);
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it(
    `the next start migrates cleanly after ${MIGRATE_KILLS} kills at random points of a first migrate()`,
    async () => {
      const random = seededRandom(SEED ^ 0x5bd1e995);
      // How long an uninterrupted migrate of a fresh file takes in a child, to aim the kills.
      const calibration = runNodeChild(WORKER, [dir.file('calibrate.db'), '0', 'full', 'migrate']);
      const calibrated = await calibration.done;
      const migratedLine = calibrated.stdout.split('\n').find((l) => l.includes('"migrated"'));
      expect(migratedLine, calibrated.stderr).toBeDefined();
      const migrateMs = (JSON.parse(migratedLine!) as { ms: number }).ms;

      const outcomes: Record<string, number> = {};
      for (let run = 0; run < MIGRATE_KILLS; run++) {
        const path = dir.file(`fresh-${run}.db`);
        const durability = run % 2 === 0 ? 'full' : 'normal';
        // Aim anywhere from "just opening" to a little past the end of the migration.
        const delayMs = random() * migrateMs * 1.3;
        let migrated = false;
        const { done } = runNodeChild(WORKER, [path, String(run), durability, 'migrate'], {
          onStdoutLine: (text, proc) => {
            if (text.includes('"migrated"')) migrated = true;
            if (text.includes('"opening"')) {
              spin(delayMs);
              proc.kill('SIGKILL');
            }
          },
        });
        const result = await done;
        expect(result.stderr).toBe('');
        const where = !existsSync(path)
          ? 'before the file existed'
          : migrated
            ? 'after migrate() resolved'
            : existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0
              ? 'mid-migrate, around the commit (WAL written, not acknowledged)'
              : 'mid-open/migrate, nothing committed';
        outcomes[where] = (outcomes[where] ?? 0) + 1;

        // The next start: the adapter migrates as at boot, then the result is exactly a clean migration.
        const adapter = libsql({ url: `file:${path}` });
        await adapter.migrate();
        const stores = await adapter.connect();
        await stores.conversationStreamStore.createStream('agents/after/1', { agentName: 'after', instanceId: '1' });
        await adapter.close();
        const got = await snapshot(path);
        expect(got.integrity, `run ${run} (${where})`).toEqual([{ integrity_check: 'ok' }]);
        expect(got.schema, `run ${run} (${where})`).toEqual(reference.schema);
        expect(got.stamp).toEqual(reference.stamp);
        expect(got.migrations).toEqual(reference.migrations);
      }
      console.log(`[reliability-crash] migrate kills (calibrated migrate ${migrateMs.toFixed(1)} ms): ${JSON.stringify(outcomes)}`);
      // The kills must have interrupted migrations, not only landed before or after them.
      const interrupted = Object.entries(outcomes).filter(([where]) => where.startsWith('mid')).reduce((n, [, count]) => n + count, 0);
      expect(interrupted).toBeGreaterThan(0);
    },
    60_000 + MIGRATE_KILLS * 2_000,
  );
});

describe('what the power-loss promise rests on (a power loss itself cannot be simulated here)', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it.each([
    [undefined, 2, "the default 'full': FULL (SQLite at NORMAL, the WAL synced by flue-libsql before results are given back)"],
    ['full', 2, 'the same'],
    ['normal', 1, 'NORMAL: fsynced at checkpoints only'],
  ] as const)('durability %s → WAL and PRAGMA synchronous = %i (%s)', async (durability, level, _meaning) => {
    const db = await open({ url: `file:${dir.file(`sync-${durability ?? 'default'}.db`)}`, ...(durability ? { durability } : {}) });
    try {
      expect(await db.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
      expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: level }]);
    } finally {
      await db.close();
    }
  });
});
