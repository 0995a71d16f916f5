/**
 * A soak under faults (issue #20, item 5): Flue's own runtime (`start()` from
 * `@flue/runtime/node`) on `libsql({ url })`, with 24 conversations taking turns at once,
 * over a sqld reached through a fault proxy (scripts/fault-proxy.mjs: TCP resets before and
 * after a request reaches the server, stalls) while the sqld itself is SIGKILLed and restarted
 * every few seconds.
 *
 * The workload is a careful client: each conversation sends its turns one after another, each
 * with an `idempotencyKey`, redelivering a turn whose dispatch failed until it is acknowledged
 * (a receipt), then reads the turn's reply (again until it can). When the time is up the faults
 * and restarts stop and every conversation finishes the turn it is in. Then, read back through a
 * new runtime straight from the server (no proxy): every acknowledged turn is in the database
 * exactly once, in order, with the reply the workload read; no submission is queued, running,
 * terminalizing or joining; no promise rejection went unhandled; the process's RSS after the
 * warm-up did not grow.
 *
 * 30 s here (the test command); `npm run soak` runs this file for longer
 * (FLUE_LIBSQL_SOAK_SECONDS, default 600 there). FLUE_LIBSQL_SOAK_SEED draws a run's
 * faults again in the same sequence (which request meets each depends on the run's timing).
 */
import type { AssistantMessage, Context } from '@earendil-works/pi-ai';
import { fauxAssistantMessage, fauxProvider } from '@earendil-works/pi-ai/providers/faux';
import { AgentRunError, init, useModel } from '@flue/runtime';
import { start } from '@flue/runtime/node';
import { createAgentRouter } from '@flue/runtime/routing';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../../scripts/fault-proxy.mjs';
import { seededRandom } from '../../scripts/seeded-random.mjs';
import { libsql, open } from '../../dist/index.js';
import { textOf } from '../support/faux-model.js';
import { OWN_SERVER_SKIP_REASON, skipSuffix } from '../support/remote-target.js';
import { startSqld, stopAllSqld } from '../support/sqld-server.js';

const SOAK_SECONDS = Number(process.env.FLUE_LIBSQL_SOAK_SECONDS || 30);
const SEED = Number(process.env.FLUE_LIBSQL_SOAK_SEED || Date.now() % 2 ** 31);
const CONVERSATIONS = 24;
/** A server restart every 3 to 6 s. */
const RESTART_EVERY_MS: [number, number] = [3000, 6000];
/** A client's pause before redelivering after a failure (what a real client's backoff would be). */
const RETRY_BACKOFF_MS = 100;
/** RSS samples before this share of the run are the warm-up. */
const WARM_UP_SHARE = 1 / 3;
/**
 * How much the RSS may rise from the first to the last tenth of the run after the warm-up
 * (each tenth's median, so one sample's spike does not count): allocator noise, not a leak.
 */
const RSS_GROWTH_LIMIT_MB = 48;
const LIVE_STATUSES = ['queued', 'running', 'terminalizing', 'joining'];
/** How long the conversations may take to finish their last turns once the faults stop (a lease, 30 s, may have to expire). */
const DRAIN_LIMIT_MS = 120_000;

const random = seededRandom(SEED);
const faux = fauxProvider({ provider: 'faux-soak', models: [{ id: 'echo-model' }] });

/** The model takes 10–100 ms (turns overlap the faults) and names the prompt it answers and how many it has heard. */
async function reply(context: Context): Promise<AssistantMessage> {
  await sleep(10 + random() * 90);
  const users = context.messages.filter((message) => message.role === 'user').map(textOf);
  return fauxAssistantMessage(`answer to ${users.at(-1)} (prompt #${users.length})`);
}

function SoakEcho() {
  useModel('faux-soak/echo-model');
  return 'You answer every prompt.';
}
SoakEcho.agentName = 'soak-echo';

interface AcknowledgedTurn {
  submissionId: string;
  prompt: string;
  /** The reply the workload read, or the outcome when the turn settled without one. */
  reply?: string;
  failedOutcome?: string;
}

const errorName = (error: unknown) => (error as { code?: string }).code ?? (error as Error).name ?? String(error);

/** One conversation's turns until `stopAt`, each redelivered and re-read until acknowledged. */
async function converse(id: string, stopAt: () => boolean, errors: Map<string, number>): Promise<AcknowledgedTurn[]> {
  const agent = init(SoakEcho, { id });
  const turns: AcknowledgedTurn[] = [];
  const failed = (stage: string, error: unknown) => {
    const key = `${stage}: ${errorName(error)}`;
    errors.set(key, (errors.get(key) ?? 0) + 1);
  };
  for (let index = 0; !stopAt(); index++) {
    const prompt = `${id} turn ${index}`;
    let submissionId: string | undefined;
    while (submissionId === undefined) {
      try {
        submissionId = (await agent.dispatch({ message: prompt, idempotencyKey: `${id}/${index}` })).submissionId;
      } catch (error) {
        failed('dispatch', error);
        await sleep(RETRY_BACKOFF_MS);
      }
    }
    const turn: AcknowledgedTurn = { submissionId, prompt };
    turns.push(turn);
    while (turn.reply === undefined && turn.failedOutcome === undefined) {
      try {
        turn.reply = (await agent.read(submissionId)).text;
      } catch (error) {
        // A settled turn that did not complete is an answer too; anything else: read again.
        if (error instanceof AgentRunError) turn.failedOutcome = error.outcome;
        else {
          failed('read', error);
          await sleep(RETRY_BACKOFF_MS);
        }
      }
    }
  }
  return turns;
}

async function historyOf(id: string) {
  const response = await createAgentRouter(SoakEcho).request(`/${id}?view=history`);
  expect(response.status).toBe(200);
  const history = (await response.json()) as { messages: { role: string; submissionId?: string; parts: { type: string; text?: string }[] }[] };
  return history.messages.map((message) => ({
    role: message.role,
    submissionId: message.submissionId,
    // Joined as Flue's reply text joins them: a turn recovered from a partial answer has two parts.
    text: message.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n\n'),
  }));
}

/** `promise`, or a rejection naming `what` once `ms` have passed. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** V8's full garbage collection, as `--expose-gc` would give it (vitest starts this process without the flag). */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const megabytes = (bytes: number) => Math.round(bytes / 2 ** 20);

/** The median (MB) of each of ten equal stretches of `samples` (bytes), in order. */
function tenthMedians(samples: number[]): number[] {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const size = samples.length / 10;
  return Array.from({ length: 10 }, (_, tenth) => samples.slice(Math.floor(tenth * size), Math.max(Math.floor((tenth + 1) * size), Math.floor(tenth * size) + 1)))
    .map((stretch) => megabytes(median(stretch)));
}

describe.skipIf(OWN_SERVER_SKIP_REASON)(`soak: ${CONVERSATIONS} Flue conversations for ${SOAK_SECONDS} s over a fault proxy and a sqld restarted every few seconds${skipSuffix(OWN_SERVER_SKIP_REASON)}`, () => {
  afterAll(async () => {
    await stopAllSqld();
  });

  it('loses no acknowledged turn, leaves no submission stuck, no unhandled rejection, RSS flat', async () => {
    console.log(`soak: ${SOAK_SECONDS} s, seed ${SEED} (FLUE_LIBSQL_SOAK_SEED=${SEED} draws the same faults)`);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    faux.setResponses(Array.from({ length: 200_000 }, () => reply));

    const sqld = await startSqld();
    const proxy = await startFaultProxy(sqld.httpUrl, { seed: SEED });
    const flue = await start({ agents: [SoakEcho], db: libsql({ url: proxy.url }), providers: [faux.provider] });
    const errors = new Map<string, number>();
    const memory: { at: number; rss: number; heapUsed: number; external: number }[] = [];
    let restarts = 0;
    let conversations: AcknowledgedTurn[][];
    const startedAt = Date.now();
    const endAt = startedAt + SOAK_SECONDS * 1000;
    let sampler: NodeJS.Timeout | undefined;
    try {
      proxy.setFaults(true);
      sampler = setInterval(() => {
        collectGarbage(); // so a sample measures what is still referenced, not when V8 last collected
        const { rss, heapUsed, external } = process.memoryUsage();
        memory.push({ at: Date.now() - startedAt, rss, heapUsed, external });
      }, 1000);
      const restarter = (async () => {
        for (;;) {
          const wait = RESTART_EVERY_MS[0] + random() * (RESTART_EVERY_MS[1] - RESTART_EVERY_MS[0]);
          if (Date.now() + wait >= endAt) return;
          await sleep(wait);
          await sqld.restart();
          restarts++;
        }
      })();
      const ids = Array.from({ length: CONVERSATIONS }, (_, index) => `soak-${index}`);
      const workload = Promise.all(ids.map((id) => converse(id, () => Date.now() >= endAt, errors)));
      await restarter;
      await sleep(Math.max(0, endAt - Date.now()));
      proxy.setFaults(false);
      conversations = await within(workload, DRAIN_LIMIT_MS, 'the conversations finishing their last turns once the faults stopped');
    } finally {
      clearInterval(sampler);
      proxy.setFaults(false);
      await flue.stop();
      await proxy.close();
    }
    const drainedMs = Date.now() - endAt;

    // Read back straight from the server, through a new runtime.
    const verifier = await start({ agents: [SoakEcho], db: libsql({ url: sqld.url }), providers: [faux.provider] });
    try {
      for (const [index, turns] of conversations.entries()) {
        const history = await historyOf(`soak-${index}`);
        expect(history.filter((message) => message.role === 'user'), `soak-${index}`).toEqual(
          turns.map((turn) => ({ role: 'user', submissionId: turn.submissionId, text: turn.prompt })),
        );
        for (const turn of turns.filter((entry) => entry.reply !== undefined)) {
          expect(history.filter((message) => message.role === 'assistant' && message.submissionId === turn.submissionId)).toEqual([
            { role: 'assistant', submissionId: turn.submissionId, text: turn.reply },
          ]);
        }
      }
    } finally {
      await verifier.stop();
    }
    const db = await open({ url: sqld.url });
    const statuses = await db.query<{ status: string; count: number }>('SELECT status, count(*) AS count FROM flue_agent_submissions GROUP BY status');
    const live = await db.query('SELECT submission_id, status FROM flue_agent_submissions WHERE status IN (?, ?, ?, ?)', LIVE_STATUSES);
    await db.close();
    process.off('unhandledRejection', onUnhandled);

    const acknowledged = conversations.flat();
    const answered = acknowledged.filter((turn) => turn.reply !== undefined).length;
    const underLoad = memory.filter((sample) => sample.at >= SOAK_SECONDS * 1000 * WARM_UP_SHARE && sample.at <= SOAK_SECONDS * 1000);
    const tenths = tenthMedians(underLoad.map((sample) => sample.rss));
    const rssGrowth = tenths.at(-1)! - tenths[0]!;
    const report = {
      seconds: SOAK_SECONDS,
      seed: SEED,
      conversations: CONVERSATIONS,
      faults: { sqldRestarts: restarts, ...proxy.stats() },
      clientErrorsRetried: Object.fromEntries(errors),
      turnsAcknowledged: acknowledged.length,
      turnsAnswered: answered,
      turnsSettledOtherwise: acknowledged.reduce<Record<string, number>>((counts, turn) => {
        if (turn.failedOutcome !== undefined) counts[turn.failedOutcome] = (counts[turn.failedOutcome] ?? 0) + 1;
        return counts;
      }, {}),
      lost: 0, // reached only when every acknowledged turn was found above
      submissionsByStatus: Object.fromEntries(statuses.map((row) => [row.status, Number(row.count)])),
      drainAfterDeadlineMs: drainedMs,
      rssMbAfterWarmUpByTenth: tenths,
      // Where a growth would be: V8's heap after a full collection (JavaScript objects still referenced), or outside it.
      heapUsedMbByTenth: tenthMedians(underLoad.map((sample) => sample.heapUsed)),
      externalMbByTenth: tenthMedians(underLoad.map((sample) => sample.external)),
    };
    console.log(`soak report: ${JSON.stringify(report)}`);

    expect(live).toEqual([]);
    expect(unhandled).toEqual([]);
    // Faults were injected: restarts (each may take seconds on a busy machine) and resets.
    expect(restarts).toBeGreaterThanOrEqual(Math.floor((SOAK_SECONDS * 1000) / (2 * RESTART_EVERY_MS[1])));
    expect(proxy.stats().resetsBeforeForward + proxy.stats().resetsAfterForward).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThan(CONVERSATIONS);
    expect(rssGrowth).toBeLessThanOrEqual(RSS_GROWTH_LIMIT_MB);
  }, (SOAK_SECONDS + 300) * 1000);
});
