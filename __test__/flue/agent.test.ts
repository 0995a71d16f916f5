/**
 * A real Flue agent on `libsql({ url })`, offline: Flue's own runtime (`start()` from
 * `@flue/runtime/node`) with pi-ai's faux provider as the model. A conversation is prompted,
 * the runtime stopped, a new runtime started on the same database with a new adapter (so a
 * new connection), and the conversation must continue from what the database holds: the old
 * reply re-reads, the history view lists it, and the model's next call receives it.
 *
 * The database is a local file, a libSQL server reached by its url (`freshRemote()`), a sqld
 * with JWT auth that is itself restarted between the two runtimes (so what survives is what
 * the server made durable, reached through a url and a token only), and an embedded replica
 * of a sqld whose second runtime starts on a new replica file (so what it finds came from the
 * server).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssistantMessage, Context } from '@earendil-works/pi-ai';
import { fauxAssistantMessage, fauxProvider } from '@earendil-works/pi-ai/providers/faux';
import { init, useModel, type DispatchReceipt } from '@flue/runtime';
import { PersistedFormatVersionError } from '@flue/runtime/adapter';
import { start, type Flue } from '@flue/runtime/node';
import { createAgentRouter } from '@flue/runtime/routing';
import { libsql, open, type Database, type LibsqlAdapterOptions } from '../../dist/index.js';
import { createStores } from '../../lib/flue/stores/index.js';
import { echoReply, transcriptOf } from '../support/faux-model.js';
import { writeStamp } from '../support/flue-stamp.js';
import {
  freshRemote,
  OWN_SERVER_SKIP_REASON,
  REMOTE_SKIP_REASON,
  skipSuffix,
} from '../support/remote-target.js';
import { startSqld, stopAllSqld } from '../support/sqld-server.js';
import { emptyTempDatabase, type TempDatabase } from '../support/temp-database.js';

const faux = fauxProvider({ provider: 'faux-e2e', models: [{ id: 'echo-model' }] });

/** The messages the model saw on each call, in order, as role and text. */
const contexts: { role: string; text: string }[][] = [];

/** The echo model (support/faux-model.ts), recording what it saw. */
function reply(context: Context): AssistantMessage {
  contexts.push(transcriptOf(context));
  return fauxAssistantMessage(echoReply(context));
}

function Echo() {
  useModel('faux-e2e/echo-model');
  return 'You repeat what you hear.';
}
Echo.agentName = 'e2e-echo';

const runtime = (options: LibsqlAdapterOptions) => start({ agents: [Echo], db: libsql(options), providers: [faux.provider] });

async function historyOf(id: string) {
  const response = await createAgentRouter(Echo).request(`/${id}?view=history`);
  expect(response.status).toBe(200);
  const history = (await response.json()) as { messages: { role: string; submissionId?: string; parts: { type: string; text?: string }[] }[] };
  return history.messages.map((message) => ({
    role: message.role,
    submissionId: message.submissionId,
    text: message.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join(''),
  }));
}

/** Where a test's store lives: the adapter options a db.ts would pass, and how to get rid of it. */
interface StoreTarget {
  /** The adapter options for the next runtime (a target may move them between runtimes). */
  options: LibsqlAdapterOptions;
  /** Where the test reads the store behind the runtime's back: the file, or the server. */
  inspect: { url: string; authToken?: string };
  /** What happens to the database between the two runtimes (a server restart), if anything. */
  betweenRuntimes?(): Promise<void>;
  dispose(): Promise<void>;
}

interface TargetKind {
  name: string;
  skipReason: string | undefined;
  create(): Promise<StoreTarget>;
}

const targetKinds: TargetKind[] = [
  {
    name: 'a local file',
    skipReason: undefined,
    async create() {
      const database = await emptyTempDatabase();
      return { options: { url: database.url }, inspect: { url: database.url }, dispose: () => database.remove() };
    },
  },
  {
    name: 'a libSQL server',
    skipReason: REMOTE_SKIP_REASON,
    async create() {
      const remote = await freshRemote();
      const connection = { url: remote.url, authToken: remote.authToken };
      return { options: connection, inspect: connection, dispose: () => remote.dispose() };
    },
  },
  {
    name: 'a sqld with auth that restarts between the runtimes',
    skipReason: OWN_SERVER_SKIP_REASON,
    async create() {
      const server = await startSqld({ auth: true });
      const connection = { url: server.url, authToken: server.tokens!.readWrite };
      return {
        options: connection,
        inspect: connection,
        betweenRuntimes: async () => {
          const pid = server.pid;
          await server.restart();
          expect(server.pid).not.toBe(pid);
        },
        dispose: () => server.dispose(),
      };
    },
  },
  {
    // The second runtime runs on a new replica file (a new machine, or a wiped disk): what it
    // finds can only have come from the server.
    name: 'an embedded replica of sqld, the second runtime on a new replica file',
    skipReason: OWN_SERVER_SKIP_REASON,
    async create() {
      const server = await startSqld();
      let folder: TempDatabase;
      try {
        folder = await emptyTempDatabase('replica-1.db');
      } catch (error) {
        await server.dispose();
        throw error;
      }
      const target: StoreTarget = {
        options: { url: folder.url, syncUrl: server.url },
        inspect: { url: server.url },
        betweenRuntimes: async () => {
          target.options = { url: folder.url.replace(/replica-1\.db$/, 'replica-2.db'), syncUrl: server.url };
          expect(target.options.url).not.toBe(folder.url);
        },
        async dispose() {
          try {
            await server.dispose();
          } finally {
            await folder.remove();
          }
        },
      };
      return target;
    },
  },
];

afterAll(() => stopAllSqld());

for (const kind of targetKinds) {
  describe.skipIf(kind.skipReason !== undefined)(`a Flue agent on libsql() over ${kind.name} across a restart${skipSuffix(kind.skipReason)}`, () => {
    let target: StoreTarget;
    let flue: Flue | undefined;
    let first: DispatchReceipt;
    let firstReplyText: string;
    const firstPrompt = 'the code word is tangerine';
    const secondPrompt = 'what was the code word?';

    beforeAll(async () => {
      target = await kind.create();
    });
    afterAll(async () => {
      try {
        await flue?.stop();
      } finally {
        await target?.dispose();
      }
    });

    it('answers a prompt in the first runtime', async () => {
      flue = await runtime(target.options);
      try {
        faux.setResponses([reply]);
        const callsBefore = faux.state.callCount;
        const agent = init(Echo, { id: 'conversation-1' });
        first = await agent.dispatch(firstPrompt);
        const answer = await agent.read(first);
        firstReplyText = answer.text;
        expect(answer.text).toBe(`echo #1: ${firstPrompt} | heard: ${firstPrompt} | replies seen: 0`);
        expect(answer.submissionId).toBe(first.submissionId);
        expect(faux.state.callCount).toBe(callsBefore + 1);
      } finally {
        await flue.stop();
        flue = undefined;
      }
    });

    it('leaves the settled submission and the conversation in the database', async () => {
      await target.betweenRuntimes?.();
      const db = await open(target.inspect);
      try {
        const stores = createStores(db);
        const submission = await stores.submissionStore.getSubmission(first.submissionId);
        expect(submission).toMatchObject({ submissionId: first.submissionId, status: 'settled' });
        expect(submission?.error).toBeUndefined();
        expect(await stores.submissionStore.hasUnsettledSubmissions()).toBe(false);
        // The conversation, read back through the stream store: the prompt, the reply text (as
        // the deltas the runtime streamed) and the settlement, all under the first submission.
        const streams = await db.query<{ path: string }>('SELECT path FROM flue_conversation_streams');
        expect(streams).toHaveLength(1);
        const page = await stores.conversationStreamStore.read(streams[0]!.path, { limit: 1000 });
        expect(page.upToDate).toBe(true);
        const records = page.batches.flatMap((batch) => batch.records)
          .filter((record) => record.submissionId === first.submissionId) as unknown as Record<string, unknown>[];
        const userMessage = records.find((record) => record.type === 'user_message');
        expect(userMessage?.content).toEqual([{ type: 'text', text: firstPrompt }]);
        const deltas = records.filter((record) => record.type === 'assistant_text_delta').map((record) => record.delta);
        expect(deltas.join('')).toBe(firstReplyText);
        expect(records.filter((record) => record.type === 'submission_settled'))
          .toEqual([expect.objectContaining({ outcome: 'completed' })]);
      } finally {
        await db.close();
      }
    });

    it('a new runtime on the same database re-reads the old reply without calling the model', async () => {
      flue = await runtime(target.options);
      const callsBefore = faux.state.callCount;
      const agent = init(Echo, { id: 'conversation-1' });
      expect((await agent.read(first)).text).toBe(firstReplyText);
      expect(await historyOf('conversation-1')).toEqual([
        { role: 'user', submissionId: first.submissionId, text: firstPrompt },
        { role: 'assistant', submissionId: first.submissionId, text: firstReplyText },
      ]);
      expect(faux.state.callCount).toBe(callsBefore);
    });

    it("the next prompt's model call receives the history from before the restart", async () => {
      faux.setResponses([reply]);
      const agent = init(Echo, { id: 'conversation-1' });
      const second = await agent.dispatch(secondPrompt);
      const answer = await agent.read(second);

      expect(answer.text).toBe(`echo #2: ${secondPrompt} | heard: ${firstPrompt} / ${secondPrompt} | replies seen: 1`);
      expect(contexts.at(-1)).toEqual([
        { role: 'user', text: firstPrompt },
        { role: 'assistant', text: firstReplyText },
        { role: 'user', text: secondPrompt },
      ]);
      expect(await historyOf('conversation-1')).toEqual([
        { role: 'user', submissionId: first.submissionId, text: firstPrompt },
        { role: 'assistant', submissionId: first.submissionId, text: firstReplyText },
        { role: 'user', submissionId: second.submissionId, text: secondPrompt },
        { role: 'assistant', submissionId: second.submissionId, text: answer.text },
      ]);
    });

    it('keeps conversations apart: another id starts from nothing', async () => {
      faux.setResponses([reply]);
      const other = init(Echo, { id: 'conversation-2' });
      const answer = await other.read(await other.dispatch('hello'));
      expect(answer.text).toBe('echo #1: hello | heard: hello | replies seen: 0');
    });
  });
}

for (const kind of targetKinds) {
  describe.skipIf(kind.skipReason !== undefined)(`start() on a store of another format, on ${kind.name}${skipSuffix(kind.skipReason)}`, () => {
    let target: StoreTarget;
    beforeAll(async () => {
      target = await kind.create();
    });
    afterAll(async () => {
      await target?.dispose();
    });

    it("fails at boot with Flue's PersistedFormatVersionError, and the store is left as it was", async () => {
      const db: Database = await open(target.inspect);
      try {
        await writeStamp(db, 'format_version', '2');
        const error = await runtime(target.options).then(
          async (flue) => {
            await flue.stop();
            throw new Error('start() succeeded on a format-2 store');
          },
          (rejection: unknown) => rejection,
        );
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).cause).toBeInstanceOf(PersistedFormatVersionError);
        expect(await db.query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)).toEqual([{ name: 'flue_meta' }]);
        expect(await db.query('SELECT key, value FROM flue_meta')).toEqual([{ key: 'format_version', value: '2' }]);
      } finally {
        await db.close();
      }

      // The failed boot left no runtime configured: a good store starts normally afterwards.
      const fresh = await kind.create();
      try {
        const flue = await runtime(fresh.options);
        await flue.stop();
      } finally {
        await fresh.dispose();
      }
    });
  });
}
