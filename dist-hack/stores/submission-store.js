/**
 * Flue's `AgentSubmissionStore` over `flue_agent_submissions` and `flue_submission_chunks`.
 *
 * Every atomic transition is either one conditional `UPDATE … RETURNING` (the database decides
 * the race: whoever's WHERE still matches wins) or a `runner.transaction` whose statements all
 * go through its `tx`. Nothing here holds state between calls, so several stores over one
 * database agree with each other.
 */
import { admitSubmissionWithBackend, createDispatchAgentSubmissionInput, DURABILITY_DEFAULT_MAX_ATTEMPTS, DURABILITY_DEFAULT_TIMEOUT_MS, LEASE_DURATION_MS, } from '@flue/runtime/adapter';
import { readChunksOf, submissionChunkStore } from './submission-chunks.js';
import { OBLIGATION_COLUMNS, parseSettlementObligation, parseSubmissionRow, SUBMISSION_COLUMNS, UNSETTLED_STATUSES, } from './submission-rows.js';
export function createSubmissionStore(runner) {
    return new RunnerSubmissionStore(runner);
}
/**
 * "No earlier unsettled submission in this session": the runnable-head rule shared by
 * listing and claiming, so the two can never disagree about which row is the head.
 */
const IS_SESSION_HEAD = `NOT EXISTS (
  SELECT 1 FROM flue_agent_submissions AS earlier
  WHERE earlier.session_key = current.session_key
    AND earlier.status IN (${UNSETTLED_STATUSES})
    AND earlier.sequence < current.sequence)`;
/** The host of a join still runs under the given attempt (parameters: host id, attempt id). */
const HOST_STILL_RUNS = `EXISTS (
  SELECT 1 FROM flue_agent_submissions AS host
  WHERE host.submission_id = ? AND host.status = 'running' AND host.attempt_id = ?)`;
function messageOf(error) {
    return error instanceof Error ? error.message : String(error);
}
/** The `error.message` a settlement record carries, when it carries one. */
function recordErrorMessage(record) {
    const { error } = record;
    if (error && typeof error === 'object' && 'message' in error && typeof error.message === 'string') {
        return error.message;
    }
    return undefined;
}
class RunnerSubmissionStore {
    runner;
    constructor(runner) {
        this.runner = runner;
    }
    // ─── Query ────────────────────────────────────────────────────────────────
    async getSubmission(submissionId) {
        const [row] = await this.runner.query(`SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions WHERE submission_id = ?`, [submissionId]);
        return row ? this.hydrate(this.runner, row) : null;
    }
    async hasUnsettledSubmissions() {
        const rows = await this.runner.query(`SELECT 1 FROM flue_agent_submissions WHERE status IN (${UNSETTLED_STATUSES}) LIMIT 1`);
        return rows.length > 0;
    }
    async listRunnableSubmissions() {
        return this.listOperational(`SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions AS current
       WHERE current.status = 'queued' AND current.canonical_ready_at IS NOT NULL
         AND ${IS_SESSION_HEAD}
       ORDER BY current.sequence ASC`);
    }
    async listUnreadySubmissions() {
        return this.listOperational(`SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions
       WHERE status = 'queued' AND canonical_ready_at IS NULL ORDER BY sequence ASC`);
    }
    async listRunningSubmissions() {
        return this.listOperational(`SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions
       WHERE status = 'running' ORDER BY sequence ASC`);
    }
    async listPendingSubmissionSettlements() {
        const rows = await this.runner.query(`SELECT ${OBLIGATION_COLUMNS} FROM flue_agent_submissions
       WHERE status = 'terminalizing' ORDER BY sequence ASC`);
        return rows.map(parseSettlementObligation);
    }
    async replaceSubmissionAttempt(attempt, nextAttemptId, lease) {
        // abort_requested_at is deliberately untouched: a pending abort must survive the handoff.
        const [row] = await this.runner.query(`UPDATE flue_agent_submissions
       SET attempt_id = ?, started_at = ?, attempt_count = attempt_count + 1,
           owner_id = COALESCE(?, owner_id), lease_expires_at = COALESCE(?, lease_expires_at)
       WHERE submission_id = ? AND status = 'running' AND attempt_id = ?
       RETURNING ${SUBMISSION_COLUMNS}`, [nextAttemptId, Date.now(), lease?.ownerId ?? null, lease?.leaseExpiresAt ?? null,
            attempt.submissionId, attempt.attemptId]);
        return row ? this.hydrate(this.runner, row) : null;
    }
    // ─── Admission ────────────────────────────────────────────────────────────
    async admitDispatch(input) {
        return this.admit(createDispatchAgentSubmissionInput(input));
    }
    async admitDirect(input) {
        const admission = await this.admit(input);
        if (admission.kind !== 'submission') {
            throw new Error(`[flue] Direct admission of "${input.submissionId}" returned an unexpected result: ` +
                'that submission id is already admitted with a different payload.');
        }
        return admission.submission;
    }
    async markSubmissionCanonicalReady(submissionId) {
        const [row] = await this.runner.query(`UPDATE flue_agent_submissions SET canonical_ready_at = COALESCE(canonical_ready_at, ?)
       WHERE submission_id = ? AND status = 'queued'
       RETURNING ${SUBMISSION_COLUMNS}`, [Date.now(), submissionId]);
        return row ? this.hydrate(this.runner, row) : null;
    }
    // ─── Lifecycle ────────────────────────────────────────────────────────────
    async claimSubmission(claim) {
        const now = Date.now();
        // One statement: the head check and the queued -> running write cannot be split by a
        // competing claim, so two claimers never both get a row back.
        const [row] = await this.runner.query(`UPDATE flue_agent_submissions AS current
       SET status = 'running', attempt_id = ?, started_at = ?, attempt_count = attempt_count + 1,
           max_attempts = ?, timeout_at = CASE WHEN timeout_at = 0 THEN ? ELSE timeout_at END,
           owner_id = ?, lease_expires_at = ?
       WHERE current.submission_id = ? AND current.status = 'queued'
         AND current.canonical_ready_at IS NOT NULL AND ${IS_SESSION_HEAD}
       RETURNING ${SUBMISSION_COLUMNS}`, [claim.attemptId, now, DURABILITY_DEFAULT_MAX_ATTEMPTS, now + DURABILITY_DEFAULT_TIMEOUT_MS,
            claim.ownerId, claim.leaseExpiresAt, claim.submissionId]);
        return row ? this.hydrate(this.runner, row) : null;
    }
    async markSubmissionInputApplied(attempt, durability) {
        const now = Date.now();
        // input_applied_at is the once-guard: the budget is installed only by the first call.
        return this.updated(`UPDATE flue_agent_submissions
       SET input_applied_at = COALESCE(input_applied_at, ?),
           max_attempts = CASE WHEN input_applied_at IS NULL THEN ? ELSE max_attempts END,
           timeout_at = CASE WHEN input_applied_at IS NULL THEN ? ELSE timeout_at END
       WHERE submission_id = ? AND status = 'running' AND attempt_id = ?
       RETURNING submission_id`, [now, durability?.maxAttempts ?? DURABILITY_DEFAULT_MAX_ATTEMPTS,
            durability?.timeoutAt ?? now + DURABILITY_DEFAULT_TIMEOUT_MS,
            attempt.submissionId, attempt.attemptId]);
    }
    async requestSessionAbort(sessionKey) {
        // terminalizing and settled rows are left alone: their outcome is already committed.
        const rows = await this.runner.query(`UPDATE flue_agent_submissions SET abort_requested_at = COALESCE(abort_requested_at, ?)
       WHERE session_key = ? AND status IN ('queued', 'running', 'joining', 'joined')
       RETURNING sequence, submission_id`, [Date.now(), sessionKey]);
        // RETURNING order is unspecified; admission order makes the answer deterministic.
        return rows
            .sort((left, right) => Number(left.sequence) - Number(right.sequence))
            .map((row) => String(row.submission_id));
    }
    async requeueSubmission(attempt) {
        // attempt_count and timeout_at stay: the retry budget spans requeues.
        return this.updated(`UPDATE flue_agent_submissions
       SET status = 'queued', attempt_id = NULL, input_applied_at = NULL, started_at = NULL,
           owner_id = NULL, lease_expires_at = 0
       WHERE submission_id = ? AND status = 'running' AND attempt_id = ?
       RETURNING submission_id`, [attempt.submissionId, attempt.attemptId]);
    }
    async reserveSubmissionSettlement(attempt, settlement) {
        if (settlement.record.id !== settlement.recordId)
            return null;
        const recordJson = JSON.stringify(settlement.record);
        // Either the submission runs under this attempt, or it is a delivery joined into a host
        // that does: the host then settles it under its own authority and the row adopts the
        // host's attempt id.
        const [reserved] = await this.runner.query(`UPDATE flue_agent_submissions AS current
       SET status = 'terminalizing', settlement_record_id = ?, settlement_record = ?,
           attempt_id = ?, started_at = COALESCE(started_at, ?)
       WHERE current.submission_id = ? AND current.settlement_record_id IS NULL
         AND ((current.status = 'running' AND current.attempt_id = ? AND current.owner_id IS NOT NULL)
           OR (current.status = 'joined' AND EXISTS (
                 SELECT 1 FROM flue_agent_submissions AS host
                 WHERE host.submission_id = current.joined_into
                   AND host.status = 'running' AND host.attempt_id = ?)))
       RETURNING ${OBLIGATION_COLUMNS}`, [settlement.recordId, recordJson, attempt.attemptId, Date.now(), attempt.submissionId,
            attempt.attemptId, attempt.attemptId]);
        if (reserved)
            return parseSettlementObligation(reserved);
        // Not reservable now. An exact retry of a reservation that already happened still
        // succeeds; anything else (stale attempt, another record) is a refusal. This read needs
        // no transaction: a reserved obligation is only ever finalized, never rewritten.
        const [existing] = await this.runner.query(`SELECT ${OBLIGATION_COLUMNS} FROM flue_agent_submissions
       WHERE submission_id = ? AND status = 'terminalizing' AND attempt_id = ?
         AND settlement_record_id = ? AND settlement_record = ?`, [attempt.submissionId, attempt.attemptId, settlement.recordId, recordJson]);
        return existing ? parseSettlementObligation(existing) : null;
    }
    async finalizeSubmissionSettlement(attempt, recordId, options) {
        return this.runner.transaction(async (tx) => {
            const [pending] = await tx.query(`SELECT settlement_record FROM flue_agent_submissions
         WHERE submission_id = ? AND status = 'terminalizing' AND attempt_id = ?
           AND settlement_record_id = ?`, [attempt.submissionId, attempt.attemptId, recordId]);
            if (!pending)
                return false;
            const record = JSON.parse(String(pending.settlement_record));
            // The error column mirrors the canonical outcome; the caller's raw message beats the
            // record's client-safe one.
            const error = record.outcome === 'completed'
                ? null
                : options?.errorMessage ?? recordErrorMessage(record) ?? 'The submission did not complete.';
            const settled = await tx.query(`UPDATE flue_agent_submissions SET status = 'settled', settled_at = ?, error = ?
         WHERE submission_id = ? AND status = 'terminalizing' AND attempt_id = ?
           AND settlement_record_id = ?
         RETURNING submission_id`, [Date.now(), error, attempt.submissionId, attempt.attemptId, recordId]);
            if (settled.length === 0)
                return false;
            await settleJoinedDeliveries(tx, attempt.submissionId, error);
            return true;
        });
    }
    async completeSubmission(attempt) {
        return this.settleRunning(attempt, null);
    }
    async failSubmission(attempt, error) {
        return this.settleRunning(attempt, messageOf(error));
    }
    async settleQueuedSubmission(submissionId, _outcome, error) {
        // The outcome has no column of its own in format 1: the row records it as its error.
        return this.updated(`UPDATE flue_agent_submissions SET status = 'settled', settled_at = ?, error = ?
       WHERE submission_id = ? AND status = 'queued'
       RETURNING submission_id`, [Date.now(), messageOf(error), submissionId]);
    }
    // ─── Turn-boundary joins ──────────────────────────────────────────────────
    async claimJoinableSubmissions(host, agentName) {
        return this.runner.transaction(async (tx) => {
            const [hostRow] = await tx.query(`SELECT session_key FROM flue_agent_submissions
         WHERE submission_id = ? AND status = 'running' AND attempt_id = ?`, [host.submissionId, host.attemptId]);
            if (!hostRow)
                return [];
            const queued = await tx.query(`SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions
         WHERE session_key = ? AND status = 'queued' ORDER BY sequence ASC`, [hostRow.session_key]);
            // The joinable prefix ends at the first row that cannot join; skipping it instead
            // would deliver later messages before it and break admission order.
            const prefixEnd = queued.findIndex((row) => row.canonical_ready_at === null || row.abort_requested_at !== null);
            const candidates = prefixEnd === -1 ? queued : queued.slice(0, prefixEnd);
            const chunks = await readChunksOf(tx, candidates.map((row) => String(row.submission_id)));
            const claimed = [];
            for (const row of candidates) {
                let submission;
                try {
                    submission = parseSubmissionRow(row, chunks.get(String(row.submission_id)) ?? []);
                }
                catch {
                    break;
                }
                if (submission.input.agent !== agentName)
                    break;
                claimed.push({ ...submission, status: 'joining', joinedInto: host.submissionId });
            }
            if (claimed.length > 0) {
                await tx.query(`UPDATE flue_agent_submissions SET status = 'joining', joined_into = ?
           WHERE status = 'queued' AND submission_id IN (SELECT value FROM json_each(?))`, [host.submissionId, JSON.stringify(claimed.map((submission) => submission.submissionId))]);
            }
            return claimed;
        });
    }
    async finalizeJoinedSubmission(host, submissionId) {
        return this.updated(`UPDATE flue_agent_submissions
       SET status = 'joined', input_applied_at = COALESCE(input_applied_at, ?)
       WHERE submission_id = ? AND status = 'joining' AND joined_into = ? AND ${HOST_STILL_RUNS}
       RETURNING submission_id`, [Date.now(), submissionId, host.submissionId, host.submissionId, host.attemptId]);
    }
    async revertJoiningSubmission(host, submissionId) {
        return this.updated(`UPDATE flue_agent_submissions
       SET status = 'queued', joined_into = NULL, input_applied_at = NULL
       WHERE submission_id = ? AND status = 'joining' AND joined_into = ? AND ${HOST_STILL_RUNS}
       RETURNING submission_id`, [submissionId, host.submissionId, host.submissionId, host.attemptId]);
    }
    async listJoinedSubmissions(hostSubmissionId) {
        return this.listOperational(`SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions
       WHERE joined_into = ? AND status IN ('joining', 'joined') ORDER BY sequence ASC`, [hostSubmissionId]);
    }
    // ─── Leases ───────────────────────────────────────────────────────────────
    async renewLeases(ownerId, submissionIds) {
        if (submissionIds.length === 0)
            return;
        await this.runner.query(`UPDATE flue_agent_submissions SET lease_expires_at = ?
       WHERE owner_id = ? AND status = 'running'
         AND submission_id IN (SELECT value FROM json_each(?))`, [Date.now() + LEASE_DURATION_MS, ownerId, JSON.stringify(submissionIds)]);
    }
    async listExpiredSubmissions() {
        // lease_expires_at = 0 means "no lease recorded", which is not the same as expired.
        return this.listOperational(`SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions
       WHERE status = 'running' AND lease_expires_at > 0 AND lease_expires_at < ?
       ORDER BY sequence ASC`, [Date.now()]);
    }
    // ─── Internals ────────────────────────────────────────────────────────────
    admit(input) {
        return this.runner.transaction(async (tx) => {
            const chunks = submissionChunkStore(tx);
            return admitSubmissionWithBackend(input, {
                async insertIfAbsent(row) {
                    await tx.query(`INSERT INTO flue_agent_submissions
               (submission_id, session_key, kind, payload, status, accepted_at)
             VALUES (?, ?, ?, ?, 'queued', ?)
             ON CONFLICT (submission_id) DO NOTHING`, [row.submissionId, row.sessionKey, row.kind, row.payload, row.acceptedAt]);
                },
                async getExisting(submissionId) {
                    const [row] = await tx.query(`SELECT ${SUBMISSION_COLUMNS} FROM flue_agent_submissions WHERE submission_id = ?`, [submissionId]);
                    return row;
                },
                readChunks: (submissionId) => chunks.read(submissionId),
                replaceChunks: (submissionId, rows) => chunks.replace(submissionId, rows),
                parseSubmission: parseSubmissionRow,
            });
        });
    }
    /** Settle a running submission owned by `attempt`, fanning out to its joined deliveries. */
    settleRunning(attempt, error) {
        return this.runner.transaction(async (tx) => {
            const settled = await tx.query(`UPDATE flue_agent_submissions SET status = 'settled', settled_at = ?, error = ?
         WHERE submission_id = ? AND status = 'running' AND attempt_id = ?
         RETURNING submission_id`, [Date.now(), error, attempt.submissionId, attempt.attemptId]);
            if (settled.length === 0)
                return false;
            await settleJoinedDeliveries(tx, attempt.submissionId, error);
            return true;
        });
    }
    async updated(sql, params) {
        return (await this.runner.query(sql, params)).length > 0;
    }
    async hydrate(db, row) {
        const chunks = await submissionChunkStore(db).read(String(row.submission_id));
        return parseSubmissionRow(row, chunks);
    }
    /**
     * Parse the rows of an operational listing. A malformed row is settled with its parse
     * error instead of failing the whole list: one bad row must not wedge every session, and
     * it can never run anyway.
     */
    async listOperational(sql, params = []) {
        const rows = await this.runner.query(sql, params);
        const chunks = await readChunksOf(this.runner, rows.map((row) => String(row.submission_id)));
        const submissions = [];
        for (const row of rows) {
            try {
                submissions.push(parseSubmissionRow(row, chunks.get(String(row.submission_id)) ?? []));
            }
            catch (error) {
                await this.terminateMalformed(row, error);
            }
        }
        return submissions;
    }
    async terminateMalformed(row, error) {
        // Without a usable sequence and status the row cannot be addressed safely: surface it.
        if (typeof row.sequence !== 'number' || typeof row.status !== 'string')
            throw error;
        console.error('[flue] Terminating malformed submission (sequence %d):', row.sequence, error);
        const message = messageOf(error);
        await this.runner.transaction(async (tx) => {
            // Conditional on the status we read, so a row that moved on meanwhile is left alone.
            const [settled] = await tx.query(`UPDATE flue_agent_submissions SET status = 'settled', settled_at = ?, error = ?
         WHERE sequence = ? AND status = ?
         RETURNING submission_id`, [Date.now(), message, row.sequence, row.status]);
            if (row.status === 'running' && typeof settled?.submission_id === 'string') {
                await settleJoinedDeliveries(tx, settled.submission_id, message);
            }
        });
    }
}
/**
 * The host's settle fan-out, run in the host's settle transaction: confirmed (`joined`)
 * deliveries settle with the host's outcome; unconfirmed (`joining`) ones go back to the
 * queue so they run on their own instead of vanishing with a response that never had them.
 */
async function settleJoinedDeliveries(tx, hostSubmissionId, error) {
    await tx.query(`UPDATE flue_agent_submissions SET status = 'settled', settled_at = ?, error = ?
     WHERE joined_into = ? AND status = 'joined'`, [Date.now(), error, hostSubmissionId]);
    await tx.query(`UPDATE flue_agent_submissions SET status = 'queued', joined_into = NULL, input_applied_at = NULL
     WHERE joined_into = ? AND status = 'joining'`, [hostSubmissionId]);
}
