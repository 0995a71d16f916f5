/**
 * What the commands read from Flue's submission ledger (`flue_agent_submissions`), in SQL so
 * that counting needs no row per submission in JavaScript. Flue's shapes this relies on:
 * - `session_key` is `agent-session:` + a JSON array `[agent, instance id, harness, session]`
 *   (Flue's `createSessionStorageKey`);
 * - a settled row's outcome is `settlement_record.outcome` (`completed`, `failed`, `aborted`);
 *   a row that is not settled yet has its `status` (`queued`, `running`, …) as its outcome here;
 * - `attempt_count` counts the claims of the row: more than one means it was retried.
 */
import type { QueryRunner } from '../../types.js';

const SESSION_KEY_PREFIX = 'agent-session:';
const SESSION = `substr(session_key, ${SESSION_KEY_PREFIX.length + 1})`;
export const SUBMISSION_AGENT = `json_extract(${SESSION}, '$[0]')`;
export const SUBMISSION_INSTANCE = `json_extract(${SESSION}, '$[1]')`;
export const SUBMISSION_OUTCOME = `CASE WHEN status = 'settled'
  THEN coalesce(json_extract(settlement_record, '$.outcome'), CASE WHEN error IS NULL THEN 'completed' ELSE 'failed' END)
  ELSE status END`;

/** Counts by outcome, e.g. `{ completed: 3, failed: 1 }`. */
export type OutcomeCounts = Record<string, number>;

/**
 * The key range of one instance's sessions, whatever their harness and session names: the
 * ledger's (session_key, …) index answers it without a scan.
 */
function instanceKeyRange(agent: string, id: string): [string, string] {
  const prefix = `${SESSION_KEY_PREFIX}${JSON.stringify([agent, id]).slice(0, -1)},`;
  return [prefix, `${prefix}\u{10FFFF}`];
}

export interface InstanceSubmission {
  submissionId: string;
  outcome: string;
  attempts: number;
  acceptedAt: number;
  settledAt: number | null;
  error: string | null;
}

export async function instanceSubmissions(db: QueryRunner, agent: string, id: string): Promise<InstanceSubmission[]> {
  return db.query<InstanceSubmission & Record<string, unknown>>(
    `SELECT submission_id AS submissionId, ${SUBMISSION_OUTCOME} AS outcome, attempt_count AS attempts,
       accepted_at AS acceptedAt, settled_at AS settledAt, error
     FROM flue_agent_submissions WHERE session_key >= ? AND session_key < ? ORDER BY sequence`,
    instanceKeyRange(agent, id),
  );
}
