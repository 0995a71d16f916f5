/**
 * `flue-libsql stats [--agent NAME] [--since DATE] [--json]`: submissions by outcome per agent
 * with failure and retry rates, tool calls by name with their error rate, tokens and cost by
 * agent and model. Everything is counted in SQL (records.ts and submissions.ts describe the
 * shapes read); `--since` keeps submissions accepted and records written from that time on.
 */
import type { QueryRunner } from '../../types.js';
import { parseCommandArgs, parseSince } from './args.js';
import { assertFlueFormat, connect } from './connect.js';
import { count, formatOutcomes, percent, table } from './format.js';
import type { ModelUsage } from './records.js';
import { SUBMISSION_AGENT, SUBMISSION_OUTCOME, type OutcomeCounts } from './submissions.js';

export interface AgentSubmissionStats {
  agent: string;
  total: number;
  byOutcome: OutcomeCounts;
  /** Settled as failed. */
  failed: number;
  /** Needed more than one attempt. */
  retried: number;
  failureRate: number;
  retryRate: number;
}

export interface ToolStats {
  name: string;
  calls: number;
  errors: number;
  errorRate: number;
}

export interface Stats {
  agent: string | null;
  since: string | null;
  submissions: AgentSubmissionStats[];
  tools: ToolStats[];
  usage: (ModelUsage & { agent: string })[];
}

export async function statsCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { agent: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean' } }, 0);
  const since = parseSince(values.since);
  const db = await connect(values);
  let stats: Stats;
  try {
    await assertFlueFormat(db);
    stats = await readStats(db, { agent: values.agent, since });
  } finally {
    await db.close();
  }
  console.log(values.json ? JSON.stringify(stats, null, 2) : formatStats(stats).join('\n'));
  return 0;
}

const rate = (part: number, whole: number) => (whole ? part / whole : 0);

export async function readStats(db: QueryRunner, filter: { agent?: string; since?: number }): Promise<Stats> {
  const agent = filter.agent ?? null;
  const sinceIso = filter.since === undefined ? null : new Date(filter.since).toISOString();
  const submissionRows = await db.query<{ agent: string; outcome: string; n: number; retried: number }>(
    `SELECT ${SUBMISSION_AGENT} AS agent, ${SUBMISSION_OUTCOME} AS outcome, count(*) AS n, sum(attempt_count > 1) AS retried
     FROM flue_agent_submissions
     WHERE (?1 IS NULL OR ${SUBMISSION_AGENT} = ?1) AND (?2 IS NULL OR accepted_at >= ?2)
     GROUP BY 1, 2 ORDER BY 1`,
    [agent, filter.since ?? null],
  );
  const byAgent = new Map<string, AgentSubmissionStats>();
  for (const row of submissionRows) {
    let stats = byAgent.get(row.agent);
    if (!stats) byAgent.set(row.agent, (stats = { agent: row.agent, total: 0, byOutcome: {}, failed: 0, retried: 0, failureRate: 0, retryRate: 0 }));
    stats.total += row.n;
    stats.byOutcome[row.outcome] = row.n;
    stats.retried += row.retried;
    if (row.outcome === 'failed') stats.failed += row.n;
  }
  for (const stats of byAgent.values()) {
    stats.failureRate = rate(stats.failed, stats.total);
    stats.retryRate = rate(stats.retried, stats.total);
  }

  // The records of the selected agents' streams whose batch mentions `marker` (a text search
  // before any JSON is parsed), written since the given time.
  const recordsCte = (marker: string) => `
    streams AS (
      SELECT path, json_extract(identity_json, '$.agentName') AS agent FROM flue_conversation_streams
      WHERE ?1 IS NULL OR json_extract(identity_json, '$.agentName') = ?1
    ),
    records AS (
      SELECT s.path, s.agent, r.value AS record FROM streams s
      JOIN flue_conversation_stream_batches b ON b.path = s.path, json_each(b.data) r
      WHERE instr(b.data, '"${marker}') AND (?2 IS NULL OR json_extract(r.value, '$.timestamp') >= ?2)
    )`;
  const toolRows = await db.query<{ name: string; calls: number; errors: number }>(
    `WITH ${recordsCte('tool_outcome"')}
     SELECT json_extract(record, '$.toolName') AS name, count(*) AS calls, sum(json_extract(record, '$.isError') = 1) AS errors
     FROM records WHERE json_extract(record, '$.type') = 'tool_outcome' GROUP BY 1 ORDER BY calls DESC, name`,
    [agent, sinceIso],
  );
  const usage = await db.query<ModelUsage & { agent: string } & Record<string, unknown>>(
    `WITH ${recordsCte('assistant_message_')},
     started AS (
       SELECT path, json_extract(record, '$.messageId') AS message_id,
         CASE WHEN json_extract(record, '$.modelInfo.model') IS NULL THEN 'unknown'
           ELSE coalesce(json_extract(record, '$.modelInfo.provider') || '/', '') || json_extract(record, '$.modelInfo.model') END AS model
       FROM records WHERE json_extract(record, '$.type') = 'assistant_message_started'
     ),
     completed AS (
       SELECT path, agent, json_extract(record, '$.messageId') AS message_id, json_extract(record, '$.usage') AS usage
       FROM records WHERE json_extract(record, '$.type') = 'assistant_message_completed'
     )
     SELECT c.agent, coalesce(s.model, 'unknown') AS model, count(*) AS calls,
       coalesce(sum(json_extract(c.usage, '$.input')), 0) AS input, coalesce(sum(json_extract(c.usage, '$.output')), 0) AS output,
       coalesce(sum(json_extract(c.usage, '$.cacheRead')), 0) AS cacheRead, coalesce(sum(json_extract(c.usage, '$.cacheWrite')), 0) AS cacheWrite,
       coalesce(sum(json_extract(c.usage, '$.cost.total')), 0) AS cost
     FROM completed c LEFT JOIN started s ON s.path = c.path AND s.message_id = c.message_id
     GROUP BY 1, 2 ORDER BY 1, 2`,
    [agent, sinceIso],
  );
  return {
    agent,
    since: sinceIso,
    submissions: [...byAgent.values()],
    tools: toolRows.map((row) => ({ ...row, errorRate: rate(row.errors, row.calls) })),
    usage,
  };
}

export function formatStats(stats: Stats): string[] {
  const scope = [stats.agent ? `agent ${stats.agent}` : 'all agents', stats.since ? `since ${stats.since}` : 'all time'].join(', ');
  const lines = [`stats: ${scope}`, '', 'submissions by agent:'];
  if (!stats.submissions.length) lines.push('  none');
  else {
    lines.push(...table(
      [
        { header: '  AGENT', max: 22 },
        { header: 'TOTAL', max: 9, align: 'right' },
        { header: 'OUTCOMES', max: 36 },
        { header: 'FAILED', max: 7, align: 'right' },
        { header: 'RETRIED', max: 7, align: 'right' },
      ],
      stats.submissions.map((s) => [`  ${s.agent}`, count(s.total), formatOutcomes(s.byOutcome), percent(s.failed, s.total), percent(s.retried, s.total)]),
    ));
  }
  lines.push('', 'tool calls by name:');
  if (!stats.tools.length) lines.push('  none');
  else {
    lines.push(...table(
      [
        { header: '  TOOL', max: 40 },
        { header: 'CALLS', max: 9, align: 'right' },
        { header: 'ERRORS', max: 9, align: 'right' },
        { header: 'ERROR RATE', max: 10, align: 'right' },
      ],
      stats.tools.map((t) => [`  ${t.name}`, count(t.calls), count(t.errors), percent(t.errors, t.calls)]),
    ));
  }
  lines.push('', 'tokens and cost by agent and model:');
  if (!stats.usage.length) lines.push('  none');
  else {
    lines.push(...table(
      [
        { header: '  AGENT', max: 18 },
        { header: 'MODEL', max: 24 },
        { header: 'CALLS', max: 7, align: 'right' },
        { header: 'TOKENS IN', max: 11, align: 'right' },
        { header: 'TOKENS OUT', max: 11, align: 'right' },
        { header: 'COST', max: 10, align: 'right' },
      ],
      stats.usage.map((u) => [`  ${u.agent}`, u.model, count(u.calls), count(u.input), count(u.output), `$${u.cost.toFixed(4)}`]),
    ));
  }
  return lines;
}
