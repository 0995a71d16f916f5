/**
 * The order of one connection's calls. While a transaction (or `close()`, or a call waiting
 * for another connection's lock) holds the gate, top-level calls queue behind it and run in
 * the order they were made, first come, first served.
 */
export class Gate {
  #held = false;
  readonly #waiters: (() => void)[] = [];

  get held(): boolean {
    return this.#held;
  }

  /** Takes the gate: at once (returns nothing) when free, else a promise of the turn. */
  acquire(): Promise<void> | void {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Hands the gate to the next waiter, or frees it. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#held = false;
  }
}
