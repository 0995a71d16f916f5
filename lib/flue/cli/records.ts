/**
 * The conversation stream records the commands read directly, where Flue exports no reader
 * for them (its history view carries no times, token usage or models). The shapes, as Flue
 * 2.0.x and 2.1.x write them (every record has `type`, `conversationId`, ISO `timestamp`):
 * - `conversation_created`: `kind` (`root` for the instance's own conversation);
 * - `user_message`: `messageId`, `content`;
 * - `assistant_message_started`: `messageId`, `turnId`, `modelInfo: { provider, model }`;
 * - `assistant_message_completed`: `messageId`, `usage: { input, output, cacheRead,
 *   cacheWrite, cost: { total } }`;
 * - `tool_outcome`: `toolName`, `isError`, `durationMs`.
 * docs/cli.md lists the same shapes.
 */
import type { QueryRunner } from '../../types.js';

export interface StreamRecord {
  type: string;
  conversationId?: string;
  timestamp?: string;
  messageId?: string;
  modelInfo?: { provider?: string; model?: string };
  usage?: Usage;
}

export interface Usage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  cost: { total: number };
}

export interface ModelUsage extends Omit<Usage, 'cost'> {
  /** `provider/model` */
  model: string;
  calls: number;
  cost: number;
}

function emptyModelUsage(model: string): ModelUsage {
  return { model, calls: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: 0 };
}

function addUsage(total: ModelUsage, usage: Usage | undefined): void {
  total.calls += 1;
  total.input += usage?.input ?? 0;
  total.output += usage?.output ?? 0;
  total.cacheRead += usage?.cacheRead ?? 0;
  total.cacheWrite += usage?.cacheWrite ?? 0;
  total.cost += usage?.cost?.total ?? 0;
}

const modelName = (info: StreamRecord['modelInfo']): string =>
  info?.model ? `${info.provider ? `${info.provider}/` : ''}${info.model}` : 'unknown';

/** What one instance's stream says, folded in one pass over its batches. */
export interface StreamActivity {
  /** The instance's own conversation (the root one; others are tasks and subagents). */
  rootConversation: string | undefined;
  firstActivity: string | undefined;
  lastActivity: string | undefined;
  /** Messages of the instance's own conversation by the user. */
  userMessages: number;
  /** When each message started (user message or model response), by message id. */
  messageTimes: Map<string, string>;
  /** Token usage per model, in order of first use. */
  models: ModelUsage[];
}

export async function readStreamActivity(db: QueryRunner, path: string): Promise<StreamActivity> {
  const batches = await db.query<{ data: string }>(
    'SELECT data FROM flue_conversation_stream_batches WHERE path = ? ORDER BY seq',
    [path],
  );
  const activity: StreamActivity = { rootConversation: undefined, firstActivity: undefined, lastActivity: undefined, userMessages: 0, messageTimes: new Map(), models: [] };
  const modelOfMessage = new Map<string, string>();
  const usageByModel = new Map<string, ModelUsage>();
  for (const { data } of batches) {
    for (const record of JSON.parse(data) as (StreamRecord & { kind?: string })[]) {
      if (record.timestamp) {
        activity.firstActivity ??= record.timestamp;
        activity.lastActivity = record.timestamp;
      }
      if (record.type === 'conversation_created' && record.kind === 'root') activity.rootConversation ??= record.conversationId;
      if (record.type === 'user_message' && record.conversationId === activity.rootConversation) activity.userMessages += 1;
      if (record.messageId && record.timestamp && (record.type === 'user_message' || record.type === 'assistant_message_started')) {
        activity.messageTimes.set(record.messageId, record.timestamp);
      }
      if (record.type === 'assistant_message_started' && record.messageId) modelOfMessage.set(record.messageId, modelName(record.modelInfo));
      if (record.type === 'assistant_message_completed') {
        const model = modelOfMessage.get(record.messageId ?? '') ?? 'unknown';
        let total = usageByModel.get(model);
        if (!total) usageByModel.set(model, (total = emptyModelUsage(model)));
        addUsage(total, record.usage);
      }
    }
  }
  activity.models = [...usageByModel.values()];
  return activity;
}
