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

  // One pass over the records: the batches that mention a model response or a tool outcome
  // (a text search before any JSON is parsed), each such record read once — one json_extract
  // with every path — into a materialized table that the tool and usage counts both read. A
  // response's model (on its start) meets its usage (on its completion) by grouping on the
  // message id, not by a join.
  const rows = await db.query<{ kind: 'tool' | 'usage'; agent: string | null; name: string; calls: number; errors: number | null } & Omit<ModelUsage, 'model' | 'calls'>>(
    `WITH streams AS (
       SELECT path, json_extract(identity_json, '$.agentName') AS agent FROM flue_conversation_streams
       WHERE ?1 IS NULL OR json_extract(identity_json, '$.agentName') = ?1
     ),
     fields AS MATERIALIZED (
       SELECT s.agent, s.path, json_extract(r.value, '$.type', '$.messageId', '$.modelInfo.provider', '$.modelInfo.model',
         '$.usage.input', '$.usage.output', '$.usage.cacheRead', '$.usage.cacheWrite', '$.usage.cost.total',
         '$.toolName', '$.isError', '$.timestamp') AS f
       FROM streams s JOIN flue_conversation_stream_batches b ON b.path = s.path, json_each(b.data) r
       WHERE instr(b.data, '"assistant_message_') OR instr(b.data, '"tool_outcome"')
     ),
     records AS MATERIALIZED (
       SELECT agent, path, f ->> '$[0]' AS type, f ->> '$[1]' AS message_id,
         CASE WHEN f ->> '$[3]' IS NULL THEN NULL ELSE coalesce((f ->> '$[2]') || '/', '') || (f ->> '$[3]') END AS model,
         f ->> '$[4]' AS input, f ->> '$[5]' AS output, f ->> '$[6]' AS cache_read, f ->> '$[7]' AS cache_write,
         f ->> '$[8]' AS cost, f ->> '$[9]' AS tool, f ->> '$[10]' AS is_error
       FROM fields WHERE (f ->> '$[0]') IN ('assistant_message_started', 'assistant_message_completed', 'tool_outcome')
         AND (?2 IS NULL OR (f ->> '$[11]') >= ?2)
     ),
     responses AS (
       SELECT agent, max(model) AS model, sum(type = 'assistant_message_completed') AS calls,
         sum(input) AS input, sum(output) AS output, sum(cache_read) AS cache_read, sum(cache_write) AS cache_write, sum(cost) AS cost
       FROM records WHERE type <> 'tool_outcome' GROUP BY path, message_id
     )
     SELECT 'tool' AS kind, NULL AS agent, tool AS name, count(*) AS calls, sum(is_error = 1) AS errors,
       0 AS input, 0 AS output, 0 AS cacheRead, 0 AS cacheWrite, 0 AS cost
     FROM records WHERE type = 'tool_outcome' GROUP BY tool
     UNION ALL
     SELECT 'usage', agent, coalesce(model, 'unknown'), sum(calls), NULL, coalesce(sum(input), 0), coalesce(sum(output), 0),
       coalesce(sum(cache_read), 0), coalesce(sum(cache_write), 0), coalesce(sum(cost), 0)
     FROM responses WHERE calls > 0 GROUP BY agent, coalesce(model, 'unknown')`,
    [agent, sinceIso],
  );
  const toolRows = rows.filter((row) => row.kind === 'tool').sort((a, b) => b.calls - a.calls || a.name.localeCompare(b.name));
  const usage = rows
    .filter((row) => row.kind === 'usage')
    .map(({ agent, name, calls, input, output, cacheRead, cacheWrite, cost }) => ({ agent: agent!, model: name, calls, input, output, cacheRead, cacheWrite, cost }))
    .sort((a, b) => a.agent.localeCompare(b.agent) || a.model.localeCompare(b.model));
  return {
    agent,
    since: sinceIso,
    submissions: [...byAgent.values()],
    tools: toolRows.map(({ name, calls, errors }) => ({ name, calls, errors: errors ?? 0, errorRate: rate(errors ?? 0, calls) })),
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
