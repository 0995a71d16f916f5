/**
 * `flue-libsql conversations [--agent NAME] [--since DATE] [--json]`: one line per agent
 * instance (its conversation stream), newest activity first.
 */
import type { QueryRunner } from '../../types.js';
import { parseCommandArgs, parseSince } from './args.js';
import { assertFlueFormat, connect } from './connect.js';
import { formatOutcomes, formatTime, table } from './format.js';
import { SUBMISSION_AGENT, SUBMISSION_INSTANCE, SUBMISSION_OUTCOME, type OutcomeCounts } from './submissions.js';

export interface ConversationSummary {
  agent: string;
  id: string;
  userMessages: number;
  submissions: OutcomeCounts;
  /** ISO time of the newest record or submission. */
  lastActivity: string | null;
}

export async function conversationsCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { agent: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean' } }, 0);
  const since = parseSince(values.since);
  const db = await connect(values);
  let conversations: ConversationSummary[];
  try {
    await assertFlueFormat(db);
    conversations = await listConversations(db, { agent: values.agent, since });
  } finally {
    await db.close();
  }
  if (values.json) {
    console.log(JSON.stringify({ conversations }, null, 2));
    return 0;
  }
  if (!conversations.length) {
    console.log('no conversations');
    return 0;
  }
  const lines = table(
    [
      { header: 'AGENT', max: 20 },
      { header: 'ID', max: 28 },
      { header: 'USER MSGS', max: 9, align: 'right' },
      { header: 'SUBMISSIONS', max: 24 },
      { header: 'LAST ACTIVITY', max: 20 },
    ],
    conversations.map((c) => [c.agent, c.id, String(c.userMessages), formatOutcomes(c.submissions), formatTime(c.lastActivity)]),
  );
  console.log(lines.join('\n'));
  return 0;
}

export async function listConversations(db: QueryRunner, filter: { agent?: string; since?: number }): Promise<ConversationSummary[]> {
  // Per stream, the time of its last record: the last batch, found by the primary key.
  const streams = await db.query<{ agent: string; id: string; last_record_at: string | null }>(
    `SELECT json_extract(identity_json, '$.agentName') AS agent, json_extract(identity_json, '$.instanceId') AS id,
       (SELECT json_extract(b.data, '$[#-1].timestamp') FROM flue_conversation_stream_batches b
        WHERE b.path = s.path ORDER BY b.seq DESC LIMIT 1) AS last_record_at
     FROM flue_conversation_streams s WHERE ?1 IS NULL OR json_extract(identity_json, '$.agentName') = ?1`,
    [filter.agent ?? null],
  );
  // User messages from the ledger, not the stream (whose scan would read every record): each
  // submission whose input Flue applied to the conversation wrote one user message.
  const submissions = await db.query<{ agent: string; id: string; outcome: string; n: number; applied: number; last_at: number }>(
    `SELECT ${SUBMISSION_AGENT} AS agent, ${SUBMISSION_INSTANCE} AS id, ${SUBMISSION_OUTCOME} AS outcome,
       count(*) AS n, count(input_applied_at) AS applied, max(max(accepted_at, coalesce(settled_at, 0))) AS last_at
     FROM flue_agent_submissions WHERE ?1 IS NULL OR ${SUBMISSION_AGENT} = ?1 GROUP BY 1, 2, 3`,
    [filter.agent ?? null],
  );
  const key = (agent: string, id: string) => JSON.stringify([agent, id]);
  const byInstance = new Map<string, ConversationSummary>();
  const lastTimes = new Map<string, number>();
  for (const stream of streams) {
    byInstance.set(key(stream.agent, stream.id), {
      agent: stream.agent, id: stream.id, userMessages: 0, submissions: {}, lastActivity: null,
    });
    if (stream.last_record_at) lastTimes.set(key(stream.agent, stream.id), Date.parse(stream.last_record_at));
  }
  for (const row of submissions) {
    const k = key(row.agent, row.id);
    // A submission still queued may not have a stream yet: its instance is listed all the same.
    let summary = byInstance.get(k);
    if (!summary) byInstance.set(k, (summary = { agent: row.agent, id: row.id, userMessages: 0, submissions: {}, lastActivity: null }));
    summary.submissions[row.outcome] = (summary.submissions[row.outcome] ?? 0) + row.n;
    summary.userMessages += row.applied;
    lastTimes.set(k, Math.max(lastTimes.get(k) ?? 0, row.last_at));
  }
  const summaries = [...byInstance.entries()].map(([k, summary]) => {
    const last = lastTimes.get(k);
    return { ...summary, lastActivity: last ? new Date(last).toISOString() : null };
  });
  return summaries
    .filter((s) => filter.since === undefined || (s.lastActivity !== null && Date.parse(s.lastActivity) >= filter.since))
    .sort((a, b) => (b.lastActivity ?? '').localeCompare(a.lastActivity ?? '') || a.agent.localeCompare(b.agent) || a.id.localeCompare(b.id));
}
