/**
 * Flue's `AgentSubmissionStore` over `flue_agent_submissions` and `flue_submission_chunks`.
 *
 * Every atomic transition is either one conditional `UPDATE … RETURNING` (the database decides
 * the race: whoever's WHERE still matches wins) or a `runner.transaction` whose statements all
 * go through its `tx`. Nothing here holds state between calls, so several stores over one
 * database agree with each other.
 */
import { type AgentSubmissionStore } from '@flue/runtime/adapter';
import type { Runner } from '../runner.js';
export declare function createSubmissionStore(runner: Runner): AgentSubmissionStore;
