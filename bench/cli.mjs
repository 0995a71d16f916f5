/**
 * `node bench/cli.mjs [--conversations N] [--turns T] [--repeats R]` — the CLI on real volumes
 * (issue #21), the "Operator CLI" section of `npm run bench` (bench/run.mjs runs it as a child
 * process; bench/report-cli.mjs renders it). A file of N conversations (default 10,000) of T
 * turns each (default 8: a tool call and a reply per turn, about 100 records); then the wall
 * time of `flue-libsql conversations`, `stats` and `show` (each a process, as a user runs it,
 * R times, default 3), and of one `copy` to a sqld on loopback (with a sqld binary:
 * scripts/sqld-binary.mjs; without one the copy is skipped, and the result says why). Prints
 * one JSON document on stdout; progress on stderr.
 *
 * The file: one conversation written by Flue's own runtime (a faux model calling a tool),
 * cloned in SQL under N instance ids, with its submissions.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import * as v from 'valibot';
import { fauxAssistantMessage, fauxProvider, fauxToolCall } from '@earendil-works/pi-ai/providers/faux';
import { init, useModel, useTool } from '@flue/runtime';
import { start } from '@flue/runtime/node';
import { sqldBinary, startSqld } from './remote/sqld.mjs';
import { ensureFlueLibsql, NODE, ROOT } from './setup.mjs';

const { values: args } = parseArgs({
  options: { conversations: { type: 'string', default: '10000' }, turns: { type: 'string', default: '8' }, repeats: { type: 'string', default: '3' } },
});
const conversations = Number(args.conversations);
const turns = Number(args.turns);
const repeats = Number(args.repeats);
const log = (message) => process.stderr.write(`bench-cli: ${message}\n`);
const CLI = join(ROOT, 'dist', 'flue', 'cli.js');

ensureFlueLibsql();
const { libsql, open } = await import('../dist/index.js');
const work = mkdtempSync(join(os.tmpdir(), 'flue-libsql-bench-cli-'));
const file = join(work, 'flue.db');
const url = pathToFileURL(file).href;

try {
  const buildStarted = performance.now();
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
    const [{ streams }] = await db.query('SELECT count(*) AS streams FROM flue_conversation_streams');
    // Folded into the file, so that its size is the data's and no command pays for a WAL.
    await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    volume = { streams, records, batches, submissions };
  } finally {
    await db.close();
  }
  const buildMs = performance.now() - buildStarted;
  const fileBytes = statSync(file).size;
  log(`${volume.streams} conversations, ${volume.records} records, ${volume.submissions} submissions, ${Math.round(fileBytes / 1e6)} MB, built in ${Math.round(buildMs)} ms`);

  const cli = (cliArgs) => {
    const started = performance.now();
    const result = spawnSync(NODE, [CLI, ...cliArgs], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (result.status !== 0) throw new Error(`flue-libsql ${cliArgs.join(' ')}: ${result.stderr}`);
    return performance.now() - started;
  };
  const middle = `bench/c${Math.ceil(conversations / 2)}`;
  const commands = Object.entries({
    conversations: ['conversations', '--json'],
    stats: ['stats', '--json'],
    show: ['show', middle, '--json'],
    'show --messages --tools': ['show', middle, '--messages', '--tools', '--json'],
  }).map(([name, cliArgs]) => {
    log(`timing ${cliArgs.join(' ')}, ${repeats} time(s)`);
    return { name, command: cliArgs.join(' '), runsMs: Array.from({ length: repeats }, () => cli([...cliArgs, '--url', url])) };
  });

  let copy;
  const sqld = sqldBinary();
  if ('path' in sqld) {
    const server = await startSqld(sqld.path);
    try {
      log(`copying to ${server.version} on ${server.url}`);
      const ms = cli(['copy', '--from', url, '--to', server.url]);
      // The rate counts the records the server holds afterwards, not those the copy was given.
      const target = await open(server.url);
      try {
        const [{ records }] = await target.query('SELECT sum(json_array_length(data)) AS records FROM flue_conversation_stream_batches');
        copy = { sqld: server.version, ms, rows: volume.batches + volume.submissions + volume.streams, records };
      } finally {
        await target.close();
      }
    } finally {
      await server.stop();
    }
  } else {
    copy = { skipped: sqld.skipReason };
  }
  console.log(JSON.stringify({ ...volume, turns, fileBytes, buildMs, commands, copy }));
} finally {
  rmSync(work, { recursive: true, force: true });
}
