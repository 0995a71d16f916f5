/**
 * Flue's `AgentSubmissionStore` over `flue_agent_submissions` and `flue_submission_chunks`.
 *
 * Every atomic transition is either one conditional `UPDATE … RETURNING` (the database decides
 * the race: whoever's WHERE still matches wins) or a `runner.transaction` whose statements all
 * go through its `tx`. Nothing here holds state between calls, so several stores over one
 * database agree with each other.
 *
 * This file is the store's public surface; each group of operations lives in its own module
 * (reads, admission, claims and leases, settlement, joins) as functions over the runner.
 */
import type {
  AgentDispatchAdmission,
  AgentSubmission,
  AgentSubmissionInput,
  AgentSubmissionStore,
  DispatchInput,
  SubmissionAttemptRef,
  SubmissionClaimRef,
  SubmissionDurability,
  SubmissionSettledRecord,
  SubmissionSettlementObligation,
} from '@flue/runtime/adapter';
import type { Runner } from '../../types.js';
import * as admission from './submission-admission.js';
import * as claims from './submission-claims.js';
import * as joins from './submission-joins.js';
import * as reads from './submission-reads.js';
import * as settlements from './submission-settlement.js';

export function createSubmissionStore(runner: Runner): AgentSubmissionStore {
  return new RunnerSubmissionStore(runner);
}

class RunnerSubmissionStore implements AgentSubmissionStore {
  constructor(private readonly runner: Runner) {}

  // ─── Query ────────────────────────────────────────────────────────────────

  getSubmission(submissionId: string): Promise<AgentSubmission | null> {
    return reads.getSubmission(this.runner, submissionId);
  }

  hasUnsettledSubmissions(): Promise<boolean> {
    return reads.hasUnsettledSubmissions(this.runner);
  }

  listRunnableSubmissions(): Promise<AgentSubmission[]> {
    return reads.listRunnableSubmissions(this.runner);
  }

  listUnreadySubmissions(): Promise<AgentSubmission[]> {
    return reads.listUnreadySubmissions(this.runner);
  }

  listRunningSubmissions(): Promise<AgentSubmission[]> {
    return reads.listRunningSubmissions(this.runner);
  }

  listPendingSubmissionSettlements(): Promise<SubmissionSettlementObligation[]> {
    return reads.listPendingSubmissionSettlements(this.runner);
  }

  // ─── Admission ────────────────────────────────────────────────────────────

  admitDispatch(input: DispatchInput): Promise<AgentDispatchAdmission> {
    return admission.admitDispatch(this.runner, input);
  }

  admitDirect(input: AgentSubmissionInput): Promise<AgentSubmission> {
    return admission.admitDirect(this.runner, input);
  }

  markSubmissionCanonicalReady(submissionId: string): Promise<AgentSubmission | null> {
    return admission.markSubmissionCanonicalReady(this.runner, submissionId);
  }

  // ─── Claims and leases ────────────────────────────────────────────────────

  claimSubmission(claim: SubmissionClaimRef): Promise<AgentSubmission | null> {
    return claims.claimSubmission(this.runner, claim);
  }

  markSubmissionInputApplied(
    attempt: SubmissionAttemptRef,
    durability?: SubmissionDurability,
  ): Promise<boolean> {
    return claims.markSubmissionInputApplied(this.runner, attempt, durability);
  }

  replaceSubmissionAttempt(
    attempt: SubmissionAttemptRef,
    nextAttemptId: string,
    lease?: { ownerId: string; leaseExpiresAt: number },
  ): Promise<AgentSubmission | null> {
    return claims.replaceSubmissionAttempt(this.runner, attempt, nextAttemptId, lease);
  }

  requeueSubmission(attempt: SubmissionAttemptRef): Promise<boolean> {
    return claims.requeueSubmission(this.runner, attempt);
  }

  requestSessionAbort(sessionKey: string): Promise<string[]> {
    return claims.requestSessionAbort(this.runner, sessionKey);
  }

  renewLeases(ownerId: string, submissionIds: string[]): Promise<void> {
    return claims.renewLeases(this.runner, ownerId, submissionIds);
  }

  listExpiredSubmissions(): Promise<AgentSubmission[]> {
    return claims.listExpiredSubmissions(this.runner);
  }

  // ─── Settlement ───────────────────────────────────────────────────────────

  reserveSubmissionSettlement(
    attempt: SubmissionAttemptRef,
    settlement: { recordId: string; record: SubmissionSettledRecord },
  ): Promise<SubmissionSettlementObligation | null> {
    return settlements.reserveSubmissionSettlement(this.runner, attempt, settlement);
  }

  finalizeSubmissionSettlement(
    attempt: SubmissionAttemptRef,
    recordId: string,
    options?: { errorMessage?: string },
  ): Promise<boolean> {
    return settlements.finalizeSubmissionSettlement(this.runner, attempt, recordId, options);
  }

  completeSubmission(attempt: SubmissionAttemptRef): Promise<boolean> {
    return settlements.completeSubmission(this.runner, attempt);
  }

  failSubmission(attempt: SubmissionAttemptRef, error: unknown): Promise<boolean> {
    return settlements.failSubmission(this.runner, attempt, error);
  }

  settleQueuedSubmission(
    submissionId: string,
    _outcome: 'failed' | 'aborted',
    error: unknown,
  ): Promise<boolean> {
    return settlements.settleQueuedSubmission(this.runner, submissionId, error);
  }

  // ─── Turn-boundary joins ──────────────────────────────────────────────────

  claimJoinableSubmissions(host: SubmissionAttemptRef, agentName: string): Promise<AgentSubmission[]> {
    return joins.claimJoinableSubmissions(this.runner, host, agentName);
  }

  finalizeJoinedSubmission(host: SubmissionAttemptRef, submissionId: string): Promise<boolean> {
    return joins.finalizeJoinedSubmission(this.runner, host, submissionId);
  }

  revertJoiningSubmission(host: SubmissionAttemptRef, submissionId: string): Promise<boolean> {
    return joins.revertJoiningSubmission(this.runner, host, submissionId);
  }

  listJoinedSubmissions(hostSubmissionId: string): Promise<AgentSubmission[]> {
    return joins.listJoinedSubmissions(this.runner, hostSubmissionId);
  }
}
