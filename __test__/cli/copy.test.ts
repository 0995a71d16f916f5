/**
 * `flue-libsql copy`: Flue's data (conversations Flue's runtime wrote, plus an attachment) from
 * a file to a libSQL server and back to a new file equals the source row for row; a second run
 * copies nothing and says so; a copy killed at any moment, or a target holding only part of the
 * rows, is completed by the next run; a row that differs, or a target of another Flue format,
 * is refused with one line naming it, the target left as it was. The CLI runs as a child
 * process, as a user runs it.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAttachmentRef } from '@flue/runtime/adapter';
import { open } from '../../dist/index.js';
import { createStores } from '../../lib/flue/stores/index.js';
import { writeStamp } from '../support/flue-stamp.js';
import { flueRows } from '../support/flue-rows.js';
import { writeWorkload } from '../support/flue-cli-workload.js';
import { freshRemote, OWN_SERVER_SKIP_REASON, REMOTE_SKIP_REASON, skipSuffix, type RemoteDatabase } from '../support/remote-target.js';
import { runNodeChild, sleep, type ChildResult } from '../support/runner-helpers.js';
import { stopAllSqld } from '../support/sqld-server.js';
import { emptyTempDatabase, type TempDatabase } from '../support/temp-database.js';

const CLI = fileURLToPath(new URL('../../dist/flue/cli.js', import.meta.url));

/** `flue-libsql copy` with the source in LIBSQL_URL/LIBSQL_AUTH_TOKEN, the target's token in LIBSQL_TO_AUTH_TOKEN. */
function copy(from: { url: string; authToken?: string }, to: { url: string; authToken?: string }) {
  return runNodeChild(CLI, ['copy', '--to', to.url], {
    env: { ...process.env, LIBSQL_URL: from.url, LIBSQL_AUTH_TOKEN: from.authToken ?? '', LIBSQL_TO_AUTH_TOKEN: to.authToken ?? '' },
  });
}

async function copyOk(from: { url: string; authToken?: string }, to: { url: string; authToken?: string }): Promise<string> {
  const result = await copy(from, to).done;
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

function expectOneLineError(result: ChildResult, pattern: RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(pattern);
}

const countRows = (rows: Record<string, unknown[]>) =>
  Object.entries(rows).filter(([table]) => table !== 'flue_meta').reduce((n, [, table]) => n + table.length, 0);

afterAll(() => stopAllSqld());

describe('copy between files', () => {
  let source: TempDatabase;
  let sourceRows: Record<string, unknown[]>;
  const targets: TempDatabase[] = [];
  const newTarget = async () => {
    const target = await emptyTempDatabase();
    targets.push(target);
    return target;
  };

  beforeAll(async () => {
    source = await emptyTempDatabase();
    await writeWorkload({ url: source.url });
    const db = await open(source.url);
    try {
      const bytes = new TextEncoder().encode('attachment bytes \u0000\u00ff');
      const attachment = await createAttachmentRef({ id: 'att-1', mimeType: 'application/octet-stream', bytes });
      await createStores(db).attachmentStore.put({ streamPath: 'agents/helper/c1', conversationId: 'conv_x', attachment, bytes });
    } finally {
      await db.close();
    }
    sourceRows = await flueRows(source);
    expect(sourceRows.flue_attachments).toHaveLength(1);
  });
  afterAll(async () => {
    await Promise.all([source, ...targets].map((database) => database?.remove()));
  });

  it('copies every row once; the second run copies nothing and says so', async () => {
    const target = await newTarget();
    const first = await copyOk(source, target);
    expect(first).toMatch(new RegExp(`^copied ${countRows(sourceRows)} row\\(s\\); 0 were already there$`, 'm'));
    expect(await flueRows(target)).toEqual(sourceRows);
    const second = await copyOk(source, target);
    expect(second).toMatch(new RegExp(`^nothing to copy: the target already holds all ${countRows(sourceRows)} row\\(s\\)$`, 'm'));
    expect(await flueRows(target)).toEqual(sourceRows);
  });

  it('a target holding part of the rows (a copy stopped between pages) is completed', async () => {
    const target = await newTarget();
    await copyOk(source, target);
    const db = await open(target.url);
    let removed: number;
    try {
      const deleted = await db.batch([
        'DELETE FROM flue_conversation_stream_batches WHERE seq % 2 = 1',
        'DELETE FROM flue_agent_submissions WHERE sequence > 2',
        'DELETE FROM flue_attachments',
      ]);
      removed = deleted.reduce((n, result) => n + result.rowsAffected, 0);
    } finally {
      await db.close();
    }
    expect(removed).toBeGreaterThan(3);
    const output = await copyOk(source, target);
    expect(output).toMatch(new RegExp(`^copied ${removed} row\\(s\\); ${countRows(sourceRows) - removed} were already there$`, 'm'));
    expect(await flueRows(target)).toEqual(sourceRows);
  });

  it('a copy killed at any moment is finished by the next run, equal to an uninterrupted copy', async () => {
    for (const delayMs of [50, 150, 300]) {
      const target = await newTarget();
      const { child, done } = copy(source, target);
      await sleep(delayMs);
      child.kill('SIGKILL');
      await done;
      await copyOk(source, target);
      expect(await flueRows(target), `killed after ${delayMs} ms`).toEqual(sourceRows);
    }
  });

  it('refuses a row that differs, naming it, and copies nothing', async () => {
    const target = await newTarget();
    await copyOk(source, target);
    const db = await open(target.url);
    try {
      // Rows to copy in a table before the conflict's, and in the one after: none may be copied.
      await db.query(`DELETE FROM flue_conversation_streams WHERE path = 'agents/helper/c2'`);
      await db.query(`UPDATE flue_conversation_stream_batches SET data = '[]' WHERE path = 'agents/helper/c1' AND seq = 1`);
      await db.query(`DELETE FROM flue_agent_submissions`);
      const before = await flueRows(target);
      const result = await copy(source, target).done;
      expectOneLineError(result, /^flue-libsql: conflict: flue_conversation_stream_batches \(path=agents\/helper\/c1, seq=1\) differs between the source and the target; not copying\n$/);
      expect(await flueRows(target)).toEqual(before);
    } finally {
      await db.close();
    }
  });

  it('refuses a target of another Flue format and leaves it as it was', async () => {
    const target = await newTarget();
    const db = await open(target.url);
    try {
      await writeStamp(db, 'format_version', '2');
    } finally {
      await db.close();
    }
    const result = await copy(source, target).done;
    expectOneLineError(result, /^flue-libsql: .*holds Flue format 2, the source format 1: not copying\n$/);
    expect(await flueRows(target)).toEqual({ flue_meta: [{ key: 'format_version', value: '2' }] });
  });

  it('refuses bad arguments with one line and exit 2', async () => {
    for (const args of [['copy'], ['copy', '--to'], ['copy', '--to', source.url, '--from', source.url]]) {
      const result = await runNodeChild(CLI, args, { env: { ...process.env, LIBSQL_URL: source.url } }).done;
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  });
});

describe.skipIf(REMOTE_SKIP_REASON !== undefined)(`copy a file to a libSQL server and back${skipSuffix(REMOTE_SKIP_REASON)}`, () => {
  let source: TempDatabase;
  let server: RemoteDatabase;
  let backup: TempDatabase;
  beforeAll(async () => {
    source = await emptyTempDatabase();
    backup = await emptyTempDatabase();
    await writeWorkload({ url: source.url });
    // With a sqld of our own, one that wants a token: the token must reach it and never print.
    server = await freshRemote({ auth: OWN_SERVER_SKIP_REASON === undefined });
  });
  afterAll(async () => {
    await server?.dispose();
    await Promise.all([source?.remove(), backup?.remove()]);
  });

  it('file -> server -> file equals the source row for row; a second run copies nothing', async () => {
    const sourceRows = await flueRows(source);
    const toServer = await copyOk(source, server);
    expect(toServer).toMatch(new RegExp(`^copied ${countRows(sourceRows)} row\\(s\\)`, 'm'));
    expect(await flueRows(server)).toEqual(sourceRows);
    expect(await copyOk(source, server)).toMatch(/^nothing to copy: /m);

    const toFile = await copyOk(server, backup);
    expect(toFile).toMatch(new RegExp(`^copied ${countRows(sourceRows)} row\\(s\\)`, 'm'));
    expect(await flueRows(backup)).toEqual(sourceRows);
    for (const output of [toServer, toFile]) if (server.authToken) expect(output).not.toContain(server.authToken);
  });
});
