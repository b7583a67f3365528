// Slack delivers an event again when it thinks the first delivery failed (HTTP retries with
// `x-slack-retry-num`, Socket Mode envelopes resent after a reconnect). The core is idempotent on
// its own (an exchange is unique per message ts, a rating per event id), so this bounded memory
// of recent event ids is only a fast path that skips the work, not what makes replays safe.

export interface RecentEvents {
  /** True the first time an id is seen (and remembers it); false for a repeat. */
  firstTime(eventId: string): boolean;
}

export function createRecentEvents(capacity = 5_000): RecentEvents {
  const seen = new Set<string>();
  return {
    firstTime(eventId) {
      if (seen.has(eventId)) return false;
      seen.add(eventId);
      if (seen.size > capacity) {
        // Sets iterate in insertion order: the first is the oldest.
        const oldest = seen.values().next().value;
        if (oldest !== undefined) seen.delete(oldest);
      }
      return true;
    },
  };
}
