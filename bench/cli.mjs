/**
 * `node bench/cli.mjs [--conversations N] [--turns T]` — the CLI on real volumes (issue #21):
 * a file of N conversations (default 10,000) of T turns each (default 8: a tool call and a
 * reply per turn, about 100 records), then the wall time of `flue-libsql conversations`,
 * `stats` and `show` (each a process, as a user runs it; the best of 3), and of `copy` to a
 * sqld on loopback (with a sqld binary: scripts/sqld-binary.mjs). Prints a markdown table.
 *
 * The file: one conversation written by Flue's own runtime (a faux model calling a tool),
 * cloned in SQL under N instance ids, with its submissions.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import * as v from 'valibot';
import { fauxAssistantMessage, fauxProvider, fauxToolCall } from '@earendil-works/pi-ai/providers/faux';
import { init, useModel, useTool } from '@flue/runtime';
import { start } from '@flue/runtime/node';
import { sqldBinary } from '../scripts/sqld-binary.mjs';
import { ensureFlueLibsql, NODE, ROOT } from './setup.mjs';

const { values: args } = parseArgs({ options: { conversations: { type: 'string', default: '10000' }, turns: { type: 'string', default: '8' } } });
const conversations = Number(args.conversations);
const turns = Number(args.turns);
const log = (message) => process.stderr.write(`bench-cli: ${message}\n`);
const CLI = join(ROOT, 'dist', 'flue', 'cli.js');

ensureFlueLibsql();
const { libsql, open } = await import('../dist/index.js');
const work = mkdtempSync(join(os.tmpdir(), 'flue-libsql-bench-cli-'));
const url = pathToFileURL(join(work, 'flue.db')).href;

try {
  log(`writing one conversation of ${turns} turns through Flue`);
  const faux = fauxProvider({ provider: 'bench', models: [{ id: 'model' }] });
  function Agent() {
    useModel('bench/model');
    useTool({ name: 'lookup', description: 'Looks a key up.', input: v.object({ key: v.string() }), run: async ({ data }) => ({ output: `value of ${data.key}` }) });
    return 'You look things up.';
  }
  Agent.agentName = 'bench';
  const flue = await start({ agents: [Agent], db: libsql({ url }), providers: [faux.provider] });
  try {
    const agent = init(Agent, { id: 'template' });
    for (let turn = 0; turn < turns; turn++) {
      faux.setResponses([fauxAssistantMessage(fauxToolCall('lookup', { key: `k${turn}` }), { stopReason: 'toolUse' }), fauxAssistantMessage(`answer ${turn}`)]);
      await agent.read(await agent.dispatch(`look up k${turn}`));
    }
  } finally {
    await flue.stop();
  }

  log(`cloning it under ${conversations} instance ids`);
  const db = await open(url);
  let volume;
  try {
    await db.exec(`
      CREATE TEMP TABLE ids AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${conversations}) SELECT 'c' || x AS id FROM n;
      INSERT INTO flue_conversation_streams SELECT 'agents/bench/' || id, json_object('agentName', 'bench', 'instanceId', id), next_offset, producer_id, producer_epoch, next_producer_sequence, incarnation
        FROM flue_conversation_streams, ids WHERE path = 'agents/bench/template';
      INSERT INTO flue_conversation_stream_batches SELECT 'agents/bench/' || id, seq, producer_id, producer_epoch, producer_sequence, data, submission_id, attempt_id
        FROM flue_conversation_stream_batches, ids WHERE path = 'agents/bench/template';
      INSERT INTO flue_agent_submissions (submission_id, session_key, kind, payload, status, accepted_at, canonical_ready_at, attempt_id, input_applied_at,
          abort_requested_at, started_at, joined_into, settled_at, error, attempt_count, max_attempts, timeout_at, owner_id, lease_expires_at, settlement_record_id, settlement_record)
        SELECT submission_id || '-' || id, 'agent-session:' || json_array('bench', id, 'default', 'default'), kind, payload, status, accepted_at, canonical_ready_at, attempt_id, input_applied_at,
          abort_requested_at, started_at, joined_into, settled_at, error, attempt_count, max_attempts, timeout_at, owner_id, lease_expires_at, settlement_record_id, settlement_record
        FROM flue_agent_submissions, ids WHERE session_key LIKE '%"template"%';`);
    const [{ records, batches }] = await db.query('SELECT sum(json_array_length(data)) AS records, count(*) AS batches FROM flue_conversation_stream_batches');
    const [{ submissions }] = await db.query('SELECT count(*) AS submissions FROM flue_agent_submissions');
    volume = { records, batches, submissions };
  } finally {
    await db.close();
  }
  log(`${conversations + 1} conversations, ${volume.records} records, ${volume.submissions} submissions`);

  const cli = (cliArgs) => {
    const started = performance.now();
    const result = spawnSync(NODE, [CLI, ...cliArgs], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (result.status !== 0) throw new Error(`flue-libsql ${cliArgs.join(' ')}: ${result.stderr}`);
    return performance.now() - started;
  };
  const best = (cliArgs) => Math.min(...[1, 2, 3].map(() => cli(cliArgs)));
  const middle = `bench/c${Math.ceil(conversations / 2)}`;
  const rows = [
    ['conversations --json', best(['conversations', '--json', '--url', url]), '≤ 2 s'],
    ['stats --json', best(['stats', '--json', '--url', url]), '≤ 2 s'],
    [`show ${middle} --json`, best(['show', middle, '--json', '--url', url]), '≤ 200 ms'],
    [`show ${middle} --messages --tools --json`, best(['show', middle, '--messages', '--tools', '--json', '--url', url]), '≤ 200 ms'],
  ].map(([what, ms, target]) => `| \`${what}\` | ${Math.round(ms)} ms | ${target} |`);

  const sqld = sqldBinary();
  if ('path' in sqld) {
    const port = await new Promise((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = server.address();
        server.close(() => resolve(free));
      });
    });
    const child = spawn(sqld.path, ['--db-path', join(work, 'sqld'), '--http-listen-addr', `127.0.0.1:${port}`], { stdio: 'ignore' });
    try {
      for (let i = 0; ; i++) {
        if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) break;
        if (i > 100) throw new Error('sqld did not start');
        await sleep(100);
      }
      const ms = cli(['copy', '--from', url, '--to', `http://127.0.0.1:${port}`]);
      const copied = volume.batches + volume.submissions + conversations + 1;
      rows.push(`| \`copy\` to sqld on loopback (${copied.toLocaleString('en-US')} rows, ${volume.records.toLocaleString('en-US')} records) | ${Math.round(ms)} ms: ${Math.round(volume.records / (ms / 1000)).toLocaleString('en-US')} records/s | ≥ 10,000 records/s |`);
    } finally {
      child.kill('SIGKILL');
    }
  } else {
    rows.push(`| \`copy\` to sqld | not run: ${sqld.skipReason} | ≥ 10,000 records/s |`);
  }
  console.log(`CLI on ${(conversations + 1).toLocaleString('en-US')} conversations, ${volume.records.toLocaleString('en-US')} records (wall time of the process)\n`);
  console.log(['| command | time | target |', '|---|---|---|', ...rows].join('\n'));
} finally {
  rmSync(work, { recursive: true, force: true });
}
