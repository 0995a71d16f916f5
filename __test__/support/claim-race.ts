/**
 * `claimSubmission` raced by two processes, A and B (support/children/reliability-contention-worker.mjs
 * in its `claim` mode), one round per queued submission `race-<i>`: the seeding, the barrier that
 * starts both racers of a round at one instant, and what the results must show. Shared by
 * reliability/contention.test.ts (a file) and reliability/remote.test.ts (a libSQL server).
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { runNodeChild } from './runner-helpers.js';

/** The worker: `claim <url> <who> <rounds> [<token>]`. */
export const CLAIM_WORKER = fileURLToPath(new URL('./children/reliability-contention-worker.mjs', import.meta.url));

export interface ClaimResult { i: number; won: boolean; attemptId?: string | null; error?: unknown; start: number; end: number }

type Racer = ReturnType<typeof runNodeChild>;
type Who = 'A' | 'B';

interface SubmissionSeeding {
  admitDirect(input: {
    kind: 'direct'; submissionId: string; agent: string; id: string;
    message: { kind: 'user'; body: string }; acceptedAt: string;
  }): Promise<unknown>;
  markSubmissionCanonicalReady(submissionId: string): Promise<unknown>;
}

/** Admits submissions `race-0` … `race-<rounds - 1>` and makes each ready to be claimed. */
export async function queueRaceSubmissions(submissionStore: SubmissionSeeding, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await submissionStore.admitDirect({
      kind: 'direct', submissionId: `race-${i}`, agent: 'contention', id: `race-instance-${i}`,
      message: { kind: 'user', body: `body of race-${i}` }, acceptedAt: new Date().toISOString(),
    });
    expect(await submissionStore.markSubmissionCanonicalReady(`race-${i}`)).not.toBeNull();
  }
}

/**
 * Starts racers A and B with `spawn` and releases them round by round: when both are ready
 * for round i, both get one start instant. Each racer's results collect in `results` as
 * they arrive.
 */
export function raceClaims(spawn: (who: Who, onStdoutLine: (line: string) => void) => Racer): { racers: Racer[]; results: Record<Who, ClaimResult[]> } {
  const results: Record<Who, ClaimResult[]> = { A: [], B: [] };
  const readyFor: Record<Who, number> = { A: -1, B: -1 };
  const racers = (['A', 'B'] as const).map((who) =>
    spawn(who, (line) => {
      if (line.startsWith('ready ')) {
        readyFor[who] = Number(line.slice(6));
        // The barrier: when both racers are ready for round i, both get one start instant.
        if (readyFor.A === readyFor.B) {
          const at = performance.timeOrigin + performance.now() + 3;
          for (const racer of racers) racer.child.stdin!.write(`go ${readyFor.A} ${at}\n`);
        }
      } else if (line.startsWith('{') && !line.includes('"done"')) {
        results[who].push(JSON.parse(line) as ClaimResult);
      }
    }));
  return { racers, results };
}

/**
 * Both racers reported every round, without an error, and exactly one won each; `report`
 * sees how many rounds overlapped in time and A's wins, then the two calls must really have
 * raced (overlapped in more than a tenth of the rounds).
 */
export function expectOneWinnerPerRound(results: Record<Who, ClaimResult[]>, rounds: number, report: (overlapping: number, winsA: number) => void): void {
  expect(results.A.map((r) => r.i)).toEqual(Array.from({ length: rounds }, (_, i) => i));
  expect(results.B.map((r) => r.i)).toEqual(Array.from({ length: rounds }, (_, i) => i));
  expect([...results.A, ...results.B].filter((r) => r.error !== undefined)).toEqual([]);
  const winnersPerRound = results.A.map((a, i) => Number(a.won) + Number(results.B[i].won));
  expect(winnersPerRound.filter((n) => n !== 1)).toEqual([]);
  const overlapping = results.A.filter((a, i) => a.start < results.B[i].end && results.B[i].start < a.end).length;
  report(overlapping, results.A.filter((r) => r.won).length);
  expect(overlapping).toBeGreaterThan(rounds / 10);
}

/** The submission rows the database must hold after the race: one attempt, the winner's, per submission. */
export function claimedRows(results: Record<Who, ClaimResult[]>, rounds: number) {
  return Array.from({ length: rounds }, (_, i) => ({
    submission_id: `race-${i}`,
    status: 'running',
    attempt_id: results.A[i].won ? `A-attempt-${i}` : `B-attempt-${i}`,
    attempt_count: 1,
  }));
}

/** The query that reads those rows. */
export const CLAIMED_ROWS_SQL = 'SELECT submission_id, status, attempt_id, attempt_count FROM flue_agent_submissions ORDER BY sequence';
