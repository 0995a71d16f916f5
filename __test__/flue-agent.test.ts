/**
 * A real Flue agent on `libsql({ url })`, offline: Flue's own runtime (`start()` from
 * `@flue/runtime/node`) with pi-ai's faux provider as the model. A conversation is prompted,
 * the runtime stopped, a new runtime started on the same file with a new adapter (so a new
 * connection), and the conversation must continue from what the file holds: the old reply
 * re-reads, the history view lists it, and the model's next call receives it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssistantMessage, Context } from '@earendil-works/pi-ai';
import { fauxAssistantMessage, fauxProvider } from '@earendil-works/pi-ai/providers/faux';
import { init, useModel, type DispatchReceipt } from '@flue/runtime';
import { PersistedFormatVersionError } from '@flue/runtime/adapter';
import { start, type Flue } from '@flue/runtime/node';
import { createAgentRouter } from '@flue/runtime/routing';
import { libsql, open } from '../dist/index.js';
import { createStores } from '../lib/stores/index.js';
import { writeStamp } from './support/flue-stamp.js';
import { emptyTempDatabase, type TempDatabase } from './support/temp-database.js';

const faux = fauxProvider({ provider: 'faux-e2e', models: [{ id: 'echo-model' }] });

/** The messages the model saw on each call, in order, as role and text. */
const contexts: { role: string; text: string }[][] = [];

function textOf(message: Context['messages'][number]): string {
  const content = message.content;
  if (typeof content === 'string') return content;
  return content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');
}

/**
 * The model: "echo #<user messages it received>: <last user text> | heard: <every user text> |
 * replies seen: <assistant messages it received>". Every part is computed from the context, so
 * a reply after a restart proves what history reached the model.
 */
function reply(context: Context): AssistantMessage {
  contexts.push(context.messages.map((message) => ({ role: message.role, text: textOf(message) })));
  const users = context.messages.filter((message) => message.role === 'user').map(textOf);
  const assistants = context.messages.filter((message) => message.role === 'assistant');
  return fauxAssistantMessage(`echo #${users.length}: ${users.at(-1)} | heard: ${users.join(' / ')} | replies seen: ${assistants.length}`);
}

function Echo() {
  useModel('faux-e2e/echo-model');
  return 'You repeat what you hear.';
}
Echo.agentName = 'e2e-echo';

const runtime = (url: string) => start({ agents: [Echo], db: libsql({ url }), providers: [faux.provider] });

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

describe('a Flue agent on libsql({ url }) across a restart', () => {
  let database: TempDatabase;
  let flue: Flue | undefined;
  let first: DispatchReceipt;
  let firstReplyText: string;
  const firstPrompt = 'the code word is tangerine';
  const secondPrompt = 'what was the code word?';

  beforeAll(async () => {
    database = await emptyTempDatabase();
  });
  afterAll(async () => {
    await flue?.stop();
    await database?.remove();
  });

  it('answers a prompt in the first runtime', async () => {
    flue = await runtime(database.url);
    try {
      faux.setResponses([reply]);
      const agent = init(Echo, { id: 'conversation-1' });
      first = await agent.dispatch(firstPrompt);
      const answer = await agent.read(first);
      firstReplyText = answer.text;
      expect(answer.text).toBe(`echo #1: ${firstPrompt} | heard: ${firstPrompt} | replies seen: 0`);
      expect(answer.submissionId).toBe(first.submissionId);
      expect(faux.state.callCount).toBe(1);
    } finally {
      await flue.stop();
      flue = undefined;
    }
  });

  it('leaves the settled submission and the conversation in the file', async () => {
    const db = await open(database.url);
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

  it('a new runtime on the same file re-reads the old reply without calling the model', async () => {
    flue = await runtime(database.url);
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

describe('start() on a store of another format', () => {
  let database: TempDatabase;
  beforeAll(async () => {
    database = await emptyTempDatabase();
  });
  afterAll(async () => {
    await database?.remove();
  });

  it("fails at boot with Flue's PersistedFormatVersionError, and the file is left as it was", async () => {
    const db = await open(database.url);
    await writeStamp(db, 'format_version', '2');
    const error = await runtime(database.url).then(
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
    await db.close();

    // The failed boot left no runtime configured: a good store starts normally afterwards.
    const fresh = await emptyTempDatabase();
    try {
      const flue = await runtime(fresh.url);
      await flue.stop();
    } finally {
      await fresh.remove();
    }
  });
});
