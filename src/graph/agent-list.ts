/**
 * A reusable list of agent ids in a growable Int32Array. Emptying a plain array (`length = 0`) drops its
 * backing store, so a list refilled on every STE event reallocated each time; this one keeps it.
 */
export class AgentList {
  items = new Int32Array(16);
  length = 0;

  push(agent: number): void {
    if (this.length === this.items.length) {
      const grown = new Int32Array(this.items.length * 2);
      grown.set(this.items);
      this.items = grown;
    }
    this.items[this.length++] = agent;
  }

  clear(): void {
    this.length = 0;
  }

  *[Symbol.iterator](): IterableIterator<number> {
    for (let i = 0; i < this.length; i++) yield this.items[i]!;
  }
}
