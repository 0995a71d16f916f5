/**
 * `flue-libsql show AGENT/ID [--messages] [--tools] [--json]`: one conversation (an agent
 * instance). The messages and tool calls are Flue's own history view — the snapshot its HTTP
 * route serves, built by `handleAgentConversationRead` from `@flue/runtime/internal` — over a
 * store that refuses every write; times, tokens and models come from the stream records
 * (records.ts), submissions from the ledger (submissions.ts).
 */
import type { ConversationStreamStore } from '@flue/runtime/adapter';
import type { Runner } from '../../types.js';
import { parseCommandArgs, parseConversationRef } from './args.js';
import { assertFlueFormat, connect } from './connect.js';
import { count, formatOutcomes, formatTime, truncate, wrap, MAX_WIDTH } from './format.js';
import { readStreamActivity, type ModelUsage } from './records.js';
import { instanceSubmissions, type OutcomeCounts } from './submissions.js';

/** One part of a message in Flue's history view (the fields read here). */
interface HistoryPart {
  type: string;
  text?: string;
  toolName?: string;
  toolCallId?: string;
  state?: string;
  input?: unknown;
  output?: unknown;
  errorText?: string;
  durationMs?: number;
}

interface HistorySnapshot {
  messages: { id: string; role: string; submissionId?: string; parts: HistoryPart[] }[];
}

export interface ToolCall {
  submissionId: string | null;
  toolCallId: string;
  name: string;
  input: unknown;
  /** `ok`, `error`, or Flue's part state while the call has no result (e.g. `input-available`). */
  outcome: string;
  output?: unknown;
  error?: string;
  durationMs: number | null;
}

export interface MessageView {
  role: string;
  time: string | null;
  submissionId: string | null;
  text: string;
  toolCalls: ToolCall[];
}

export interface ConversationDetail {
  agent: string;
  id: string;
  conversationId: string | null;
  firstActivity: string | null;
  lastActivity: string | null;
  userMessages: number;
  modelCalls: number;
  submissions: {
    byOutcome: OutcomeCounts;
    retried: { submissionId: string; attempts: number; outcome: string }[];
    failed: { submissionId: string; error: string | null }[];
  };
  tokens: { input: number; output: number; cacheRead: number; cacheWrite: number };
  cost: number;
  models: ModelUsage[];
  messages?: MessageView[];
  tools?: ToolCall[];
}

export async function showCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { messages: { type: 'boolean' }, tools: { type: 'boolean' }, json: { type: 'boolean' } },
    1,
  );
  const { agent, id } = parseConversationRef(positionals[0]!);
  const db = await connect(values);
  let detail: ConversationDetail;
  try {
    await assertFlueFormat(db);
    detail = await readConversation(db, agent, id, { messages: values.messages ?? false, tools: values.tools ?? false });
  } finally {
    await db.close();
  }
  console.log(values.json ? JSON.stringify(detail, null, 2) : formatDetail(detail).join('\n'));
  return 0;
}

export async function readConversation(
  db: Runner,
  agent: string,
  id: string,
  include: { messages: boolean; tools: boolean },
): Promise<ConversationDetail> {
  // The stream by the identity Flue stored with it, rather than by rebuilding Flue's path rule.
  const [stream] = await db.query<{ path: string }>(
    `SELECT path FROM flue_conversation_streams
     WHERE json_extract(identity_json, '$.agentName') = ? AND json_extract(identity_json, '$.instanceId') = ?`,
    [agent, id],
  );
  const submissions = await instanceSubmissions(db, agent, id);
  if (!stream && !submissions.length) throw new Error(`unknown conversation ${agent}/${id}`);
  // Flue's history view only when messages or tool calls are asked for: loading Flue's runtime
  // costs most of a second, the summary needs none of it.
  const [activity, snapshot] = await Promise.all([
    stream ? readStreamActivity(db, stream.path) : undefined,
    stream && (include.messages || include.tools) ? readHistory(db, stream.path) : undefined,
  ]);
  const messages = (snapshot?.messages ?? []).map((message): MessageView => ({
    role: message.role,
    time: activity?.messageTimes.get(message.id) ?? null,
    submissionId: message.submissionId ?? null,
    text: message.parts.flatMap((part) => (part.type === 'text' && part.text ? [part.text] : [])).join(''),
    toolCalls: message.parts.filter((part) => part.type === 'dynamic-tool').map((part) => toolCall(part, message.submissionId)),
  }));
  const byOutcome: OutcomeCounts = {};
  for (const { outcome } of submissions) byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  const models = activity?.models ?? [];
  const sum = (field: 'input' | 'output' | 'cacheRead' | 'cacheWrite' | 'cost' | 'calls') =>
    models.reduce((total, model) => total + model[field], 0);
  return {
    agent,
    id,
    conversationId: activity?.rootConversation ?? null,
    firstActivity: earliest(activity?.firstActivity, submissions[0]?.acceptedAt),
    lastActivity: latest(activity?.lastActivity, ...submissions.map((s) => s.settledAt ?? s.acceptedAt)),
    userMessages: activity?.userMessages ?? 0,
    modelCalls: sum('calls'),
    submissions: {
      byOutcome,
      retried: submissions.filter((s) => s.attempts > 1).map((s) => ({ submissionId: s.submissionId, attempts: s.attempts, outcome: s.outcome })),
      failed: submissions.filter((s) => s.outcome === 'failed').map((s) => ({ submissionId: s.submissionId, error: s.error })),
    },
    tokens: { input: sum('input'), output: sum('output'), cacheRead: sum('cacheRead'), cacheWrite: sum('cacheWrite') },
    cost: sum('cost'),
    models,
    ...(include.messages ? { messages } : {}),
    ...(include.tools ? { tools: messages.flatMap((message) => message.toolCalls) } : {}),
  };
}

/** Flue's history view of the stream. */
async function readHistory(db: Runner, path: string): Promise<HistorySnapshot> {
  const [{ handleAgentConversationRead }, { createConversationStreamStore }] = await Promise.all([
    import('@flue/runtime/internal'),
    import('../stores/conversation-stream-store.js'),
  ]);
  const response = await handleAgentConversationRead({
    store: readOnlyStore(createConversationStreamStore(db)),
    path,
    request: new Request('http://flue-libsql.invalid/?view=history'),
  });
  if (!response.ok) throw new Error(`Flue's history view answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as HistorySnapshot;
}

/**
 * The reads of a stream store, and nothing else: without `putFoldCheckpoint` Flue's fold
 * writes no checkpoint, and every write method throws, so a read command cannot write.
 */
function readOnlyStore(store: ReturnType<typeof import('../stores/conversation-stream-store.js').createConversationStreamStore>): ConversationStreamStore {
  const refuse = (): never => {
    throw new Error('flue-libsql: a read-only command tried to write');
  };
  return {
    read: (path, options) => store.read(path, options),
    getMeta: (path) => store.getMeta(path),
    getFoldCheckpoint: (path) => store.getFoldCheckpoint(path),
    createStream: refuse,
    acquireProducer: refuse,
    append: refuse,
    subscribe: refuse,
  };
}

function toolCall(part: HistoryPart, submissionId: string | undefined): ToolCall {
  const outcome = part.state === 'output-available' ? 'ok' : part.state === 'output-error' ? 'error' : (part.state ?? 'unknown');
  return {
    submissionId: submissionId ?? null,
    toolCallId: part.toolCallId ?? '',
    name: part.toolName ?? 'unknown',
    input: part.input ?? null,
    outcome,
    ...(outcome === 'ok' ? { output: part.output ?? null } : {}),
    ...(outcome === 'error' ? { error: part.errorText ?? '' } : {}),
    durationMs: part.durationMs ?? null,
  };
}

function earliest(iso: string | undefined, epoch: number | undefined): string | null {
  const times = [iso ? Date.parse(iso) : undefined, epoch].filter((t): t is number => t !== undefined);
  return times.length ? new Date(Math.min(...times)).toISOString() : null;
}

function latest(iso: string | undefined, ...epochs: number[]): string | null {
  const times = [iso ? Date.parse(iso) : undefined, ...epochs].filter((t): t is number => t !== undefined);
  return times.length ? new Date(Math.max(...times)).toISOString() : null;
}

const json = (value: unknown): string => JSON.stringify(value) ?? 'undefined';

function formatToolCall(call: ToolCall): string {
  const took = call.durationMs === null ? '' : ` (${call.durationMs} ms)`;
  const result = call.outcome === 'ok' ? `ok${took}: ${json(call.output)}` : call.outcome === 'error' ? `error${took}: ${call.error}` : call.outcome;
  return `${call.name} ${json(call.input)} -> ${result}`;
}

export function formatDetail(detail: ConversationDetail): string[] {
  const field = (name: string, value: string) => truncate(`${name.padEnd(16)}${value}`, MAX_WIDTH);
  const lines = [
    truncate(`${detail.agent}/${detail.id}${detail.conversationId ? `  (conversation ${detail.conversationId})` : ''}`, MAX_WIDTH),
    field('first activity', formatTime(detail.firstActivity)),
    field('last activity', formatTime(detail.lastActivity)),
    field('turns', `${count(detail.userMessages)} user message(s), ${count(detail.modelCalls)} model call(s)`),
    field('submissions', formatOutcomes(detail.submissions.byOutcome)),
    ...detail.submissions.retried.map((s) => field('retried', `${s.submissionId}: ${s.attempts} attempts, ${s.outcome}`)),
    // The error in full, wrapped under its submission: it is what the operator came for.
    ...detail.submissions.failed.flatMap((s) => [field('failed', s.submissionId), ...wrap(s.error ?? 'no error recorded', ' '.repeat(18))]),
    field('tokens', `in ${count(detail.tokens.input)} (cache read ${count(detail.tokens.cacheRead)}, cache write ${count(detail.tokens.cacheWrite)}), out ${count(detail.tokens.output)}`),
    field('cost', `$${detail.cost.toFixed(4)}`),
    field('models', detail.models.map((m) => `${m.model} (${m.calls} call(s))`).join(', ') || 'none'),
  ];
  if (detail.messages) {
    lines.push('', 'messages:');
    for (const message of detail.messages) {
      lines.push(`[${formatTime(message.time)}] ${message.role}${message.submissionId ? `  ${message.submissionId}` : ''}`);
      for (const call of message.toolCalls) lines.push(truncate(`    tool ${formatToolCall(call)}`, MAX_WIDTH));
      if (message.text) lines.push(...wrap(message.text, '    '));
    }
  }
  if (detail.tools) {
    lines.push('', 'tool calls:');
    if (!detail.tools.length) lines.push('    none');
    for (const call of detail.tools) lines.push(truncate(`    ${formatToolCall(call)}`, MAX_WIDTH));
  }
  return lines;
}
