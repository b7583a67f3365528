// A bounded memory of the event ids an adapter already handled. Platforms deliver an event again
// (Discord: a gateway RESUME replays dispatches and discord.js emits a replayed INTERACTION_CREATE
// again; Slack: HTTP retries with `x-slack-retry-num`, Socket Mode envelopes resent after a
// reconnect). The core de-duplicates durably (an exchange per message id, a rating or a click per
// event id); this catches the cheap, common case before any work is done, or a second
// acknowledgement that would fail.
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity = 5_000) {}

  /** True the first time an id is offered (and remembers it); false while it is still remembered. */
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
