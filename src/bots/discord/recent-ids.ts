// A bounded memory of ids already handled. Discord may deliver an event twice (a gateway RESUME
// replays dispatches, and discord.js emits a replayed INTERACTION_CREATE again), so handlers skip
// an id they have seen. The core de-duplicates durably; this catches the cheap, common case
// before any work (or a second, failing interaction acknowledgement) is done.
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity = 5_000) {}

  /** True the first time an id is offered; false while it is still remembered. */
  firstTime(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      // Sets iterate in insertion order: forget the oldest.
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }
}
