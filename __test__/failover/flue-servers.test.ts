/**
 * Failover between live Flue servers (issue #20, item 4): two servers built with `vite build`
 * (Node target) run `node dist/server.mjs` on one database, and the one running the turns is
 * SIGKILLed mid-turn. Flue's promise for Node (docs/guide/node-target.md in @flue/runtime) is
 * that a shared database supports process replacement: the survivor reclaims the dead server's
 * work once its leases expire (LEASE_DURATION_MS, 30 s, seen by a scan every 15 s — so the
 * takeover takes 30–50 s).
 *
 * One case per database: one sqld (both servers on its url); one file (both servers open it);
 * two embedded replicas of one sqld (each server its own replica file). The three run at once
 * (`describe.concurrent`), so the file's wall time is one build plus one takeover.
 *
 * Each case: conversations answered once on server A; then each gets a second prompt (running
 * when A dies: A is killed once every second turn's model call has started) and a third
 * (queued behind it), both with an `idempotencyKey`. A is SIGKILLed; each second prompt is
 * redelivered to B with its key and must converge on the original submission. Then B must
 * settle every accepted submission exactly once: every submission `completed`, one user message
 * each, every conversation's last prompt answered with all three prompts heard once (a queued
 * prompt may join the running turn, as Flue allows); no submission left queued, running,
 * terminalizing or joining; every conversation's stream batches numbered without a gap.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { open } from '../../dist/index.js';
import {
  admit,
  AGENT_TS,
  APP_TS,
  FAUX_MODEL_TS,
  history,
  settled,
  snapshot,
  startServer,
  stopAllServers,
  stopServer,
  VITE_CONFIG,
  writeLoopbackPreload,
  type Admission,
} from '../support/flue-server.js';
import { cannotPackReason, createProject, packPackages, removeTemp, runOk, userEnv, VERSIONS, type Project } from '../support/packed-project.js';
import { OWN_SERVER_SKIP_REASON, skipSuffix } from '../support/remote-target.js';
import { startSqld, stopAllSqld } from '../support/sqld-server.js';

const skipReason = cannotPackReason() ?? OWN_SERVER_SKIP_REASON;
if (skipReason) console.warn(`failover/flue-servers.test.ts skipped: ${skipReason}`);

/** db.ts of the app: LIBSQL_SYNC_URL, when set, makes the LIBSQL_URL file an embedded replica of that server. */
const DB_TS = `import { libsql } from 'flue-libsql';
export default libsql({ url: process.env.LIBSQL_URL, syncUrl: process.env.LIBSQL_SYNC_URL || undefined });
`;

const CONVERSATIONS = 4;
/** Long enough that every second turn is still in its model call when A is killed. */
const MODEL_REPLY_MS = 1500;
/** Lease expiry (30 s) plus the scan interval (15 s), plus the recovered turns themselves. */
const TAKEOVER_TIMEOUT_MS = 100_000;
const LIVE_STATUSES = ['queued', 'running', 'terminalizing', 'joining'];

/** Where the two servers keep their data: each server's environment, and where the test reads the database. */
interface FailoverTarget {
  serverEnv: [NodeJS.ProcessEnv, NodeJS.ProcessEnv];
  inspectUrl: string;
}

const newFile = async (root: string, name: string) => pathToFileURL(join(await mkdtemp(join(root, `${name}-`)), `${name}.db`)).href;

const targetKinds: { name: string; create(root: string): Promise<FailoverTarget> }[] = [
  {
    name: 'one sqld',
    async create() {
      const { url } = await startSqld();
      return { serverEnv: [{ LIBSQL_URL: url }, { LIBSQL_URL: url }], inspectUrl: url };
    },
  },
  {
    name: 'one file',
    async create(root) {
      const url = await newFile(root, 'shared');
      return { serverEnv: [{ LIBSQL_URL: url }, { LIBSQL_URL: url }], inspectUrl: url };
    },
  },
  {
    name: 'two embedded replicas of one sqld',
    async create(root) {
      const { url } = await startSqld();
      return {
        serverEnv: [
          { LIBSQL_URL: await newFile(root, 'replica-a'), LIBSQL_SYNC_URL: url },
          { LIBSQL_URL: await newFile(root, 'replica-b'), LIBSQL_SYNC_URL: url },
        ],
        inspectUrl: url,
      };
    },
  },
];

/** The database as the test reads it behind the servers' backs (the file, or the sqld). */
async function inspect(url: string) {
  const db = await open({ url });
  try {
    const submissions = await db.query<{ submission_id: string; status: string }>('SELECT submission_id, status FROM flue_agent_submissions ORDER BY sequence');
    const batches = await db.query<{ path: string; seq: number }>('SELECT path, seq FROM flue_conversation_stream_batches ORDER BY path, seq');
    const streams = await db.query<{ path: string; next_offset: number }>('SELECT path, next_offset FROM flue_conversation_streams');
    return { submissions, batches, streams };
  } finally {
    await db.close();
  }
}

async function failover(expect: ExpectStatic, appDir: string, name: string, target: FailoverTarget) {
  const env = (index: 0 | 1) => userEnv({ ...target.serverEnv[index], FAUX_REPLY_MS: String(MODEL_REPLY_MS) });
  const startedAt = Date.now();
  const a = await startServer(appDir, env(0));
  const b = await startServer(appDir, env(1));
  const serversUpMs = Date.now() - startedAt;
  const ids = Array.from({ length: CONVERSATIONS }, (_, index) => `conversation-${index}`);
  const prompts = (id: string) => [`first to ${id}`, `second to ${id}`, `third to ${id}`];

  // Each conversation answered once on A.
  const firsts = await Promise.all(ids.map((id) => admit(a, id, prompts(id)[0]!)));
  for (const [index, id] of ids.entries()) expect(await settled(a, id, firsts[index]!.submissionId)).toBe('completed');
  const firstsAnsweredMs = Date.now() - startedAt - serversUpMs;

  // A second prompt each (it runs on A) and a third (queued behind it), both keyed for redelivery.
  const seconds: Admission[] = [];
  const thirds: Admission[] = [];
  await Promise.all(ids.map(async (id, index) => {
    seconds[index] = await admit(a, id, prompts(id)[1]!, { idempotencyKey: `${id}-second` });
    thirds[index] = await admit(a, id, prompts(id)[2]!, { idempotencyKey: `${id}-third` });
  }));
  await a.printed(new RegExp(`faux model call ${2 * CONVERSATIONS}\\b`));
  expect(await stopServer(a, 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
  const killedAt = Date.now();

  // A client retrying against the survivor converges on the original submission.
  for (const [index, id] of ids.entries()) {
    const redelivered = await admit(b, id, prompts(id)[1]!, { idempotencyKey: `${id}-second` });
    expect(redelivered).toMatchObject({ submissionId: seconds[index]!.submissionId, deduplicated: true });
  }

  const accepted = ids.flatMap((id, index) => [firsts, seconds, thirds].map((wave) => ({ id, submissionId: wave[index]!.submissionId })));
  for (const { id, submissionId } of accepted) {
    expect(await settled(b, id, submissionId, TAKEOVER_TIMEOUT_MS - (Date.now() - killedAt)), submissionId).toBe('completed');
  }
  const takeoverMs = Date.now() - killedAt;

  for (const [index, id] of ids.entries()) {
    const turns = await history(b, id);
    const [first, second, third] = prompts(id);
    // Each submission settled once.
    const settlements = (await snapshot(b, id)).settlements.map((settlement) => settlement.submissionId);
    expect(settlements.sort()).toEqual([firsts, seconds, thirds].map((wave) => wave[index]!.submissionId).sort());
    // One user message per submission, in the order accepted.
    expect(turns.filter((turn) => turn.role === 'user')).toEqual([
      { role: 'user', submissionId: firsts[index]!.submissionId, text: first },
      { role: 'user', submissionId: seconds[index]!.submissionId, text: second },
      { role: 'user', submissionId: thirds[index]!.submissionId, text: third },
    ]);
    // At most one answer per submission, and the last prompt answered by a reply that heard each prompt once.
    const answered = turns.filter((turn) => turn.role === 'assistant').map((turn) => turn.submissionId);
    expect(new Set(answered).size).toBe(answered.length);
    expect(turns.at(-1)!.role).toBe('assistant');
    expect(turns.at(-1)!.text).toMatch(new RegExp(`^echo #3: ${third} \\| heard: ${first} / ${second} / ${third} \\|`));
  }

  const { submissions, batches, streams } = await inspect(target.inspectUrl);
  expect(submissions.map((row) => row.submission_id).sort()).toEqual(accepted.map((entry) => entry.submissionId).sort());
  expect(submissions.filter((row) => LIVE_STATUSES.includes(row.status))).toEqual([]);
  expect(streams).toHaveLength(CONVERSATIONS);
  for (const stream of streams) {
    const seqs = batches.filter((batch) => batch.path === stream.path).map((batch) => Number(batch.seq));
    expect(seqs, stream.path).toEqual(Array.from({ length: Number(stream.next_offset) }, (_, seq) => seq));
  }

  const modelCalls = ((await (await fetch(`http://127.0.0.1:${b.port}/health`)).json()) as { modelCalls: number }).modelCalls;
  const stoppingAt = Date.now();
  expect(await stopServer(b, 'SIGTERM')).toEqual({ code: 143, signal: null });
  console.log(
    `failover (${name}): servers up in ${serversUpMs} ms, first turns answered in ${firstsAnsweredMs} ms; ${accepted.length} submissions accepted, ` +
      `A killed with ${CONVERSATIONS} turns in flight; B settled all in ${takeoverMs} ms with ${modelCalls} model calls, and stopped (SIGTERM) in ${Date.now() - stoppingAt} ms`,
  );
}

describe.skipIf(skipReason)(`failover: SIGKILL one of two live Flue servers (vite build) on one database mid-turn; the other settles everything${skipSuffix(skipReason)}`, () => {
  let root: string;
  let app: Project;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'flue-libsql-failover-'));
    const packed = await packPackages(join(root, 'packs'));
    app = await createProject(join(root, 'app'), {
      name: 'flue-failover-app',
      tarballs: [packed.main, packed.native],
      dependencies: { '@flue/runtime': VERSIONS.flueRuntime, hono: VERSIONS.hono, '@earendil-works/pi-ai': VERSIONS.piAi },
      devDependencies: { '@flue/vite': VERSIONS.flueVite, vite: VERSIONS.vite },
    });
    await app.write('vite.config.ts', VITE_CONFIG);
    await app.write('src/app.ts', APP_TS);
    await app.write('src/faux-model.ts', FAUX_MODEL_TS);
    await app.write('src/agents/echo.ts', AGENT_TS);
    await app.write('src/db.ts', DB_TS);
    await runOk('npx', ['vite', 'build'], { cwd: app.dir, env: app.env, timeoutMs: 180_000 });
    await writeLoopbackPreload(app.dir);
  }, 900_000);

  // Not afterEach: the cases run at once, and one ending must not kill the others' servers.
  afterAll(async () => {
    await stopAllServers();
    await stopAllSqld();
    await removeTemp(root);
  });

  describe.concurrent('one case per database', () => {
    for (const kind of targetKinds) {
      it(`${kind.name}: the survivor settles every accepted submission exactly once`, async ({ expect }) => {
        await failover(expect, app.dir, kind.name, await kind.create(root));
      }, 180_000);
    }
  });
});
