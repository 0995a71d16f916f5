/**
 * `flue-libsql conversations`, `show` and `stats` on conversations Flue's own runtime wrote
 * (support/flue-cli-workload.ts: tool calls, a failing tool, a failed submission, two agents),
 * on a local file and on a libSQL server. The CLI runs as a user runs it — the built bin in a
 * child process, the database from LIBSQL_URL / LIBSQL_AUTH_TOKEN — and every answer is
 * compared with what the runtime reported while writing, or with Flue's own history route.
 * Also: human output within 100 columns, one-line errors with exit codes, no token printed,
 * and the database unchanged by the read commands. The test command also runs this file on
 * @flue/runtime 2.0.3 (scripts/vitest.flue-2.0.config.ts): the conversations are then written
 * by 2.0.3 and read by the CLI on the installed runtime.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationSummary } from '../../lib/flue/cli/conversations.js';
import type { ConversationDetail } from '../../lib/flue/cli/show.js';
import type { Stats } from '../../lib/flue/cli/stats.js';
import { flueRows } from '../support/flue-rows.js';
import { freePort } from '../support/packed-project.js';
import { freshRemote, REMOTE_SKIP_REASON, skipSuffix } from '../support/remote-target.js';
import { runNodeChild, type ChildResult } from '../support/runner-helpers.js';
import { stopAllSqld } from '../support/sqld-server.js';
import { emptyTempDatabase } from '../support/temp-database.js';
import { MODEL, writeWorkload, type Workload } from '../support/flue-cli-workload.js';

const CLI = fileURLToPath(new URL('../../dist/flue/cli.js', import.meta.url));

interface Target {
  url: string;
  authToken: string | undefined;
  dispose(): Promise<void>;
}

const targetKinds: { name: string; skipReason: string | undefined; create(): Promise<Target> }[] = [
  {
    name: 'a local file',
    skipReason: undefined,
    async create() {
      const database = await emptyTempDatabase();
      return { url: database.url, authToken: undefined, dispose: () => database.remove() };
    },
  },
  {
    name: 'a libSQL server',
    skipReason: REMOTE_SKIP_REASON,
    async create() {
      const remote = await freshRemote();
      return { url: remote.url, authToken: remote.authToken, dispose: () => remote.dispose() };
    },
  },
];

/** Runs the CLI with the database in the environment, as `npx flue-libsql …` would. */
async function cli(target: Pick<Target, 'url' | 'authToken'>, ...args: string[]): Promise<ChildResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, LIBSQL_URL: target.url, LIBSQL_AUTH_TOKEN: target.authToken ?? '' };
  return runNodeChild(CLI, args, { env }).done;
}

async function cliOk(target: Target, ...args: string[]): Promise<string> {
  const result = await cli(target, ...args);
  expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
  expect(result.stderr).toBe('');
  return result.stdout;
}

async function cliJson<T>(target: Target, ...args: string[]): Promise<T> {
  return JSON.parse(await cliOk(target, ...args, '--json')) as T;
}

function expectNarrow(output: string): void {
  for (const line of output.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
}

afterAll(() => stopAllSqld());

for (const kind of targetKinds) {
  describe.skipIf(kind.skipReason !== undefined)(`the CLI's read commands on ${kind.name}${skipSuffix(kind.skipReason)}`, () => {
    let target: Target;
    let workload: Workload;
    let rowsBefore: unknown;
    const conversation = (id: string) => workload.conversations.find((c) => c.id === id)!;

    beforeAll(async () => {
      target = await kind.create();
      workload = await writeWorkload({ url: target.url, authToken: target.authToken });
      rowsBefore = await flueRows(target);
    });
    afterAll(async () => {
      await target?.dispose();
    });

    it('the workload went as scripted (the premise of every other test)', () => {
      const [c1, c2, o1, r1] = workload.conversations;
      expect(c1!.turns.map((t) => [t.outcome, t.reply])).toEqual([
        ['completed', 'the tool said: {"value":"value-of-k"}'],
        ['completed', 'the tool said: boom: the tool failed'],
      ]);
      expect(c2!.turns.map((t) => t.outcome)).toEqual(['failed']);
      expect(c2!.turns[0]!.reply).toContain('model down');
      expect(o1!.turns.map((t) => t.reply)).toEqual(['hello back']);
      expect(r1!.turns.map((t) => t.outcome)).toEqual(['failed']);
    });

    it('conversations --json: every instance, its user messages and submissions, newest first', async () => {
      const { conversations } = await cliJson<{ conversations: ConversationSummary[] }>(target, 'conversations');
      const written = [...workload.conversations].reverse();
      expect(conversations.map(({ lastActivity: _, ...rest }) => rest)).toEqual(
        written.map((c) => ({
          agent: c.agent,
          id: c.id,
          userMessages: c.turns.length,
          submissions: Object.fromEntries(['completed', 'failed'].flatMap((outcome) => {
            const n = c.turns.filter((t) => t.outcome === outcome).length;
            return n ? [[outcome, n]] : [];
          })),
        })),
      );
      for (const c of conversations) {
        expect(Date.parse(c.lastActivity!)).toBeGreaterThanOrEqual(workload.startedAt);
        expect(Date.parse(c.lastActivity!)).toBeLessThanOrEqual(workload.finishedAt);
      }

      const other = await cliJson<{ conversations: ConversationSummary[] }>(target, 'conversations', '--agent', 'other');
      expect(other.conversations.map((c) => `${c.agent}/${c.id}`)).toEqual(['other/o1']);
      const future = new Date(workload.finishedAt + 60_000).toISOString();
      expect(await cliJson(target, 'conversations', '--since', future)).toEqual({ conversations: [] });
      const fromStart = await cliJson<{ conversations: ConversationSummary[] }>(target, 'conversations', '--since', new Date(workload.startedAt).toISOString());
      expect(fromStart.conversations).toHaveLength(4);
    });

    it('conversations: one aligned line per instance within 100 columns', async () => {
      const output = await cliOk(target, 'conversations');
      expectNarrow(output);
      const lines = output.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^AGENT\s+ID\s+USER MSGS\s+SUBMISSIONS\s+LAST ACTIVITY$/);
      expect(lines.slice(1).map((line) => line.split(/\s{2,}/).slice(0, 4))).toEqual([
        ['helper', 'r1', '1', '1 failed'],
        ['other', 'o1', '1', '1 completed'],
        ['helper', 'c2', '1', '1 failed'],
        ['helper', 'c1', '2', '2 completed'],
      ]);
    });

    it('show --json --messages --tools: the summary, the messages as Flue serves them, every tool call', async () => {
      const c1 = conversation('c1');
      const detail = await cliJson<ConversationDetail>(target, 'show', 'helper/c1', '--messages', '--tools');
      expect(detail).toMatchObject({
        agent: 'helper',
        id: 'c1',
        userMessages: 2,
        modelCalls: c1.modelCalls,
        submissions: { byOutcome: { completed: 2 }, retried: [], failed: [] },
      });
      expect(detail.conversationId).toMatch(/^conv_/);
      expect(Date.parse(detail.firstActivity!)).toBeGreaterThanOrEqual(workload.startedAt);
      expect(Date.parse(detail.lastActivity!)).toBeGreaterThanOrEqual(Date.parse(detail.firstActivity!));
      expect(detail.models.map((m) => [m.model, m.calls])).toEqual([[MODEL, c1.modelCalls]]);
      expect(detail.tokens.input).toBe(detail.models[0]!.input);
      expect(detail.tokens.input).toBeGreaterThan(0);
      expect(detail.tokens.output).toBeGreaterThan(0);

      // The conversation as text: each prompt, then the reply with the tool it called.
      expect(detail.messages!.map((m) => ({ role: m.role, submissionId: m.submissionId, text: m.text, tools: m.toolCalls.map((t) => t.name) }))).toEqual(
        c1.turns.flatMap((turn, i) => [
          { role: 'user', submissionId: turn.submissionId, text: turn.prompt, tools: [] },
          { role: 'assistant', submissionId: turn.submissionId, text: turn.reply, tools: [['lookup', 'explode'][i]] },
        ]),
      );
      for (const message of detail.messages!) {
        expect(Date.parse(message.time!)).toBeGreaterThanOrEqual(Date.parse(detail.firstActivity!));
      }
      expect(detail.tools).toEqual([
        {
          submissionId: c1.turns[0]!.submissionId, toolCallId: expect.any(String), name: 'lookup', input: { key: 'k' },
          outcome: 'ok', output: { value: 'value-of-k' }, durationMs: expect.any(Number),
        },
        {
          submissionId: c1.turns[1]!.submissionId, toolCallId: expect.any(String), name: 'explode', input: {},
          outcome: 'error', error: 'boom: the tool failed', durationMs: expect.any(Number),
        },
      ]);
    });

    it('show: a failed submission is named with its error; an unknown conversation is one line and exit 1', async () => {
      const c2 = conversation('c2');
      const detail = await cliJson<ConversationDetail>(target, 'show', 'helper/c2');
      expect(detail.submissions.byOutcome).toEqual({ failed: 1 });
      expect(detail.submissions.failed).toEqual([{ submissionId: c2.turns[0]!.submissionId, error: expect.stringContaining('model down') }]);
      expect(detail.messages).toBeUndefined();

      const human = await cliOk(target, 'show', 'helper/c2');
      expectNarrow(human);
      expect(human).toMatch(new RegExp(`^failed\\s+${c2.turns[0]!.submissionId}\\n {18}\\S.*model down$`, 'm'));

      const unknown = await cli(target, 'show', 'helper/nobody');
      expect(unknown.code).toBe(1);
      expect(unknown.stdout).toBe('');
      expect(unknown.stderr).toBe('flue-libsql: unknown conversation helper/nobody\n');
    });

    it('show: a submission that needed a second attempt is listed with its attempts', async () => {
      const r1 = conversation('r1');
      const detail = await cliJson<ConversationDetail>(target, 'show', 'helper/r1');
      expect(detail.submissions.retried).toEqual([{ submissionId: r1.turns[0]!.submissionId, attempts: 2, outcome: 'failed' }]);
      expect(detail.modelCalls).toBe(r1.modelCalls);
      const human = await cliOk(target, 'show', 'helper/r1');
      expect(human).toMatch(new RegExp(`^retried\\s+${r1.turns[0]!.submissionId}: 2 attempts, failed$`, 'm'));
    });

    it('show --messages --tools in human form: the transcript with tool calls inline, within 100 columns', async () => {
      const c1 = conversation('c1');
      const output = await cliOk(target, 'show', 'helper/c1', '--messages', '--tools');
      expectNarrow(output);
      expect(output).toMatch(/^helper\/c1 {2}\(conversation conv_\S+\)$/m);
      expect(output).toMatch(/^submissions\s+2 completed$/m);
      expect(output).toMatch(new RegExp(`^models\\s+${MODEL} \\(${c1.modelCalls} call\\(s\\)\\)$`, 'm'));
      const transcript = output.slice(output.indexOf('\nmessages:\n'), output.indexOf('\ntool calls:\n'));
      expect(transcript.split('\n').filter((line) => line.startsWith('[')).map((line) => line.replace(/^\[[^\]]+\] /, ''))).toEqual(
        c1.turns.flatMap((turn) => [`user  ${turn.submissionId}`, `assistant  ${turn.submissionId}`]),
      );
      expect(transcript).toMatch(/^ {4}tool lookup \{"key":"k"\} -> ok \(\d+ ms\): \{"value":"value-of-k"\}$/m);
      expect(transcript).toMatch(/^ {4}tool explode \{\} -> error \(\d+ ms\): boom: the tool failed$/m);
      for (const turn of c1.turns) expect(transcript).toContain(`\n    ${turn.reply}\n`);
      expect(output.slice(output.indexOf('\ntool calls:\n')).trim().split('\n').slice(1).map((line) => line.trim().split(' ')[0])).toEqual(['lookup', 'explode']);
    });

    it('stats --json: outcomes and rates per agent, tool calls by name, usage by agent and model', async () => {
      const stats = await cliJson<Stats>(target, 'stats');
      expect(stats.submissions).toEqual([
        { agent: 'helper', total: 4, byOutcome: { completed: 2, failed: 2 }, failed: 2, retried: 1, failureRate: 0.5, retryRate: 0.25 },
        { agent: 'other', total: 1, byOutcome: { completed: 1 }, failed: 0, retried: 0, failureRate: 0, retryRate: 0 },
      ]);
      expect(stats.tools).toEqual([
        { name: 'explode', calls: 1, errors: 1, errorRate: 1 },
        { name: 'lookup', calls: 1, errors: 0, errorRate: 0 },
      ]);
      const callsOf = (agent: string) => workload.conversations.filter((c) => c.agent === agent).reduce((n, c) => n + c.modelCalls, 0);
      expect(stats.usage.map((u) => [u.agent, u.model, u.calls])).toEqual([
        ['helper', MODEL, callsOf('helper')],
        ['other', MODEL, callsOf('other')],
      ]);
      // The same tokens as `show` finds conversation by conversation.
      const shown = await Promise.all(['helper/c1', 'helper/c2', 'helper/r1'].map((ref) => cliJson<ConversationDetail>(target, 'show', ref)));
      expect(stats.usage[0]!.input).toBe(shown.reduce((n, d) => n + d.tokens.input, 0));
      expect(stats.usage[0]!.output).toBe(shown.reduce((n, d) => n + d.tokens.output, 0));

      const onlyOther = await cliJson<Stats>(target, 'stats', '--agent', 'other');
      expect(onlyOther.submissions.map((s) => s.agent)).toEqual(['other']);
      expect(onlyOther.tools).toEqual([]);
      const future = await cliJson<Stats>(target, 'stats', '--since', new Date(workload.finishedAt + 60_000).toISOString());
      expect([future.submissions, future.tools, future.usage]).toEqual([[], [], []]);
    });

    it('stats in human form: the three tables within 100 columns', async () => {
      const output = await cliOk(target, 'stats');
      expectNarrow(output);
      expect(output).toMatch(/^ {2}helper\s+4\s+2 completed, 2 failed\s+50\.0%\s+25\.0%$/m);
      expect(output).toMatch(/^ {2}explode\s+1\s+1\s+100\.0%$/m);
      expect(output).toMatch(/^ {2}lookup\s+1\s+0\s+0\.0%$/m);
      expect(output).toMatch(new RegExp(`^ {2}other\\s+${MODEL}\\s+1\\s+`, 'm'));
    });

    it('the read commands wrote nothing', async () => {
      await cliOk(target, 'show', 'other/o1', '--messages', '--tools');
      expect(await flueRows(target)).toEqual(rowsBefore);
    });
  });
}

describe('the read commands refuse bad input and unreachable servers with one line', () => {
  const token = 'tok-must-never-print-5521';
  it('bad arguments: exit 2, one line on stderr', async () => {
    const target = { url: 'file:/nonexistent/never-opened.db', authToken: undefined };
    for (const args of [['show'], ['show', 'no-slash'], ['conversations', '--bogus'], ['stats', '--since', 'yesterday-ish'], ['frobnicate']]) {
      const result = await cli(target, ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr).toMatch(/^flue-libsql: /);
    }
  });

  it('an unreachable server: exit 1, one line naming the error, no token', async () => {
    const port = await freePort();
    for (const args of [['conversations'], ['show', 'a/b'], ['stats']]) {
      const result = await cli({ url: `http://127.0.0.1:${port}`, authToken: token }, ...args);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^flue-libsql: SERVER_UNREACHABLE: \S.*\n$/);
      expect(result.stderr).not.toContain(token);
    }
  });

  it('a database without Flue data: exit 1, one line', async () => {
    const database = await emptyTempDatabase();
    try {
      const result = await cli({ url: database.url, authToken: undefined }, 'conversations');
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('flue-libsql: no Flue data here: the database has no format stamp (run `flue-libsql status`)\n');
    } finally {
      await database.remove();
    }
  });
});
