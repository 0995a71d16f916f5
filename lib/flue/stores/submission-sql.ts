/**
 * SQL pieces more than one group of submission operations is built from. They live apart
 * from any one group so that listing, claiming, settling and joining can all share them
 * without importing each other.
 */
import type { QueryRunner } from '../../types.js';
import { UNSETTLED_STATUSES } from './submission-rows.js';

/**
 * "No earlier unsettled submission in this session": the runnable-head rule shared by
 * listing and claiming, so the two can never disagree about which row is the head.
 */
export const IS_SESSION_HEAD = `NOT EXISTS (
  SELECT 1 FROM flue_agent_submissions AS earlier
  WHERE earlier.session_key = current.session_key
    AND earlier.status IN (${UNSETTLED_STATUSES})
    AND earlier.sequence < current.sequence)`;

/**
 * Run a conditional `UPDATE … RETURNING`; true when its WHERE still matched a row, which is
 * how every single-statement transition reports whether it won its race.
 */
export async function updateMatched(
  db: QueryRunner,
  sql: string,
  params: readonly unknown[],
): Promise<boolean> {
  return (await db.query(sql, params)).length > 0;
}
