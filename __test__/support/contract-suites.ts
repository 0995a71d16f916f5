/**
 * Flue's three store contract suites, run against our stores over any runner.
 *
 * The runner is the only thing that varies between drivers, so it comes in as one factory:
 * `openRunner()` must return a runner over a fresh database that already has the format-1
 * schema, plus a `dispose` that closes it and deletes whatever it created.
 *
 * A backend may also pass `formatVersion` (Flue's `FormatVersionTestBackend`): a way to open a
 * fresh, un-migrated database, migrate it the way the adapter does, and read and write its
 * `flue_meta` stamp directly. With it the submission suite adds its format-version group.
 */
import {
  defineAttachmentStoreContractTests,
  defineConversationStreamStoreContractTests,
  defineStoreContractTests,
  type FormatVersionTestBackend,
} from '@flue/runtime/test-utils';
import type { Runner } from '../../lib/types.js';
import {
  createAttachmentStore,
  createConversationStreamStore,
  createSubmissionStore,
} from '../../lib/flue/stores/index.js';

export interface OpenedRunner {
  runner: Runner;
  dispose(): Promise<void>;
}

export type RunnerFactory = () => Promise<OpenedRunner>;

export interface ContractSuiteOptions {
  /** Enables the submission suite's format-version stamping group for this backend. */
  formatVersion?: FormatVersionTestBackend;
}

/**
 * Opens runners on demand and disposes of every one opened since the last cleanup — the
 * suites call `create()` once per test and `cleanup()` after each.
 */
function perTestRunners(openRunner: RunnerFactory) {
  let opened: OpenedRunner[] = [];
  return {
    async open(): Promise<Runner> {
      const next = await openRunner();
      opened.push(next);
      return next.runner;
    },
    async cleanup(): Promise<void> {
      const current = opened;
      opened = [];
      for (const entry of current) await entry.dispose();
    },
  };
}

export function defineAllContractSuites(
  label: string,
  openRunner: RunnerFactory,
  options: ContractSuiteOptions = {},
): void {
  const submissions = perTestRunners(openRunner);
  defineStoreContractTests(`${label}: AgentSubmissionStore`, {
    create: async () => createSubmissionStore(await submissions.open()),
    cleanup: () => submissions.cleanup(),
    ...(options.formatVersion ? { formatVersion: options.formatVersion } : {}),
  });

  // The submission store must share the stream's database: without it the suite skips its
  // fencing tests (submission-owned appends, joins, terminalizing settlements).
  const streams = perTestRunners(openRunner);
  defineConversationStreamStoreContractTests(`${label}: ConversationStreamStore`, {
    create: async () => {
      const runner = await streams.open();
      return {
        stream: createConversationStreamStore(runner),
        submissionStore: createSubmissionStore(runner),
      };
    },
    cleanup: () => streams.cleanup(),
  });

  const attachments = perTestRunners(openRunner);
  defineAttachmentStoreContractTests(`${label}: AttachmentStore`, {
    create: async () => createAttachmentStore(await attachments.open()),
    cleanup: () => attachments.cleanup(),
  });
}
