/**
 * `flue-libsql stats [--agent NAME] [--since DATE] [--json]`: submissions by outcome per agent
 * with failure and retry rates, tool calls by name with their error rate, tokens and cost by
 * agent and model. Everything is counted in SQL (records.ts and submissions.ts describe the
 * shapes read); `--since` keeps submissions accepted and records written from that time on.
 * On a local file the records are counted in ranges of conversations side by side, one
 * connection each, the others in worker threads (./stats-worker.ts): a statement on a file runs
 * on the thread that calls it, and reading every record of a large file is the command's cost.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { OpenOptions, QueryRunner } from '../../types.js';
import { parseCommandArgs, parseSince } from './args.js';
import { assertFlueFormat, connect, connectionOptions } from './connect.js';
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
    const side = db.kind === 'file' ? { options: await connectionOptions(values), ranges: Math.min(availableParallelism(), MAX_RANGES) } : undefined;
    stats = await readStats(db, { agent: values.agent, since }, side);
  } finally {
    await db.close();
  }
  console.log(values.json ? JSON.stringify(stats, null, 2) : formatStats(stats).join('\n'));
  return 0;
}

const rate = (part: number, whole: number) => (whole ? part / whole : 0);

/** A cap, not a tuned figure (measured on 2 cores only): every range scans the whole table. */
const MAX_RANGES = 4;

const RECORD_TYPES = `('assistant_message_started', 'assistant_message_completed', 'tool_outcome')`;

/**
 * The figures of the records of one range of batches: `doc` holds a record at JSON path `at`.
 * The inner query reads each record's type once (a `LIMIT` keeps SQLite from copying the
 * expression into every use of it); the outer reads the fields of the three types counted,
 * scalars only, so that the grouping sorts little: a tool outcome keyed by its tool (no path),
 * a model response by path and message id — its model from its start, its usage from its
 * completion, as JSON arrays of numbers.
 */
function recordsOf(from: string, doc: string, at: string): string {
  return `SELECT agent, CASE WHEN type = 'tool_outcome' THEN NULL ELSE path END AS path,
      CASE WHEN type = 'tool_outcome' THEN doc ->> '${at}.toolName' ELSE doc ->> '${at}.messageId' END AS k,
      CASE WHEN type = 'tool_outcome' THEN (doc ->> '${at}.isError') = 1 END AS is_error,
      CASE WHEN type = 'assistant_message_started'
        THEN coalesce((doc ->> '${at}.modelInfo.provider') || '/', '') || (doc ->> '${at}.modelInfo.model') END AS model,
      CASE WHEN type = 'assistant_message_completed' THEN json_extract(doc, '${at}.usage.input', '${at}.usage.output',
        '${at}.usage.cacheRead', '${at}.usage.cacheWrite', '${at}.usage.cost.total') END AS usage
    FROM (SELECT s.agent, b.path, ${doc} AS doc, ${doc} ->> '${at}.type' AS type FROM ${from} LIMIT -1)
    WHERE type IN ${RECORD_TYPES} AND (?2 IS NULL OR (doc ->> '${at}.timestamp') >= ?2)`;
}

/**
 * Tool calls by name and usage by agent and model, over the batches whose path is in
 * [?3, ?4) (NULL: unbounded) of the streams of agent ?1 (NULL: all), records from time ?2 on.
 * One scan of the batches table in its own order (`NOT INDEXED`: a range of the primary key
 * would fetch every row apart), the type read from each batch's first record (a text search
 * first costs more than the JSON parse); a batch of more than one record is taken apart by
 * `json_each` in a second branch, whose scan stops at each batch's second element.
 */
const BATCHES = `streams s JOIN flue_conversation_stream_batches b NOT INDEXED ON b.path = s.path
  AND (?3 IS NULL OR b.path >= ?3) AND (?4 IS NULL OR b.path < ?4)`;
const RECORD_FIGURES = `WITH streams AS (
    SELECT path, json_extract(identity_json, '$.agentName') AS agent FROM flue_conversation_streams
    WHERE ?1 IS NULL OR json_extract(identity_json, '$.agentName') = ?1
  ),
  records AS (
    ${recordsOf(BATCHES, 'b.data', '$[0]')}
    UNION ALL
    ${recordsOf(`${BATCHES}, json_each(b.data) r WHERE json_type(b.data, '$[1]') IS NOT NULL AND r.key > 0`, 'r.value', '$')}
  ),
  keyed AS (
    SELECT agent, path, k, count(*) AS n, sum(is_error) AS errors, max(model) AS model, count(usage) AS calls,
      sum(usage ->> 0) AS input, sum(usage ->> 1) AS output, sum(usage ->> 2) AS cache_read,
      sum(usage ->> 3) AS cache_write, sum(usage ->> 4) AS cost
    FROM records GROUP BY path, k
  )
  SELECT CASE WHEN path IS NULL THEN 'tool' ELSE 'usage' END AS kind, CASE WHEN path IS NULL THEN NULL ELSE agent END AS agent,
    CASE WHEN path IS NULL THEN k ELSE coalesce(model, 'unknown') END AS name,
    CASE WHEN path IS NULL THEN sum(n) ELSE sum(calls) END AS calls, CASE WHEN path IS NULL THEN sum(errors) END AS errors,
    coalesce(sum(input), 0) AS input, coalesce(sum(output), 0) AS output, coalesce(sum(cache_read), 0) AS cacheRead,
    coalesce(sum(cache_write), 0) AS cacheWrite, coalesce(sum(cost), 0) AS cost
  FROM keyed WHERE path IS NULL OR calls > 0
  GROUP BY path IS NULL, CASE WHEN path IS NULL THEN k ELSE agent END, CASE WHEN path IS NULL THEN NULL ELSE coalesce(model, 'unknown') END`;

type FigureRow = { kind: 'tool' | 'usage'; agent: string | null; name: string; calls: number; errors: number | null } & Omit<ModelUsage, 'model' | 'calls'>;

/** The ranges' rows added up: tools by name, usage by agent and model. */
function mergeFigures(ranges: FigureRow[][]): FigureRow[] {
  const merged = new Map<string, FigureRow>();
  for (const row of ranges.flat()) {
    const key = JSON.stringify([row.kind, row.agent, row.name]);
    const total = merged.get(key);
    if (!total) merged.set(key, { ...row });
    else {
      total.calls += row.calls;
      if (row.errors !== null) total.errors = (total.errors ?? 0) + row.errors;
      total.input += row.input;
      total.output += row.output;
      total.cacheRead += row.cacheRead;
      total.cacheWrite += row.cacheWrite;
      total.cost += row.cost;
    }
  }
  return [...merged.values()];
}

/** The first path of each range of conversations but the first: `ranges` ranges of as many streams each. */
async function rangeBounds(db: QueryRunner, ranges: number): Promise<string[]> {
  const [{ n }] = (await db.query<{ n: number }>('SELECT count(*) AS n FROM flue_conversation_streams')) as [{ n: number }];
  const bounds: string[] = [];
  for (let i = 1; i < ranges; i++) {
    const [row] = await db.query<{ path: string }>('SELECT path FROM flue_conversation_streams ORDER BY path LIMIT 1 OFFSET ?', [Math.floor((i * n) / ranges)]);
    if (row && row.path !== bounds.at(-1)) bounds.push(row.path);
  }
  return bounds;
}

function countInWorker(options: OpenOptions, params: (string | null)[]): Promise<FigureRow[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./stats-worker.js', import.meta.url), { workerData: { options, sql: RECORD_FIGURES, params } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`stats: a worker exited with code ${code} before answering`)));
  });
}

/**
 * `side`: the same database opened again in worker threads, the records counted in `ranges`
 * ranges of conversations at once (this connection takes the first).
 */
export async function readStats(
  db: QueryRunner,
  filter: { agent?: string; since?: number },
  side?: { options: OpenOptions; ranges: number },
): Promise<Stats> {
  const agent = filter.agent ?? null;
  const sinceIso = filter.since === undefined ? null : new Date(filter.since).toISOString();
  const bounds = side && side.ranges > 1 ? await rangeBounds(db, side.ranges) : [];
  // The workers start first: the ledger's query and the first range run here meanwhile.
  const others = bounds.map((lower, i) => countInWorker(side!.options, [agent, sinceIso, lower, bounds[i + 1] ?? null]));
  // Awaited below; should a query here fail first, a worker's failure is not an unhandled one.
  for (const other of others) other.catch(() => {});
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

  const rows = mergeFigures([await db.query<FigureRow>(RECORD_FIGURES, [agent, sinceIso, null, bounds[0] ?? null]), ...(await Promise.all(others))]);
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
