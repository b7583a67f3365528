// The reply queue: at most `concurrency` replies are written at once, at most `limit` more wait for
// a slot, and a mention beyond that is refused at once (the caller answers it with the busy text)
// instead of piling up until every reply times out. It sits in front of the conversation, so a
// refused mention costs no database work and no model call; both adapters reach it through
// `Assistant.mention` (create-core.ts).
//
// When the bot stops (`stopping` aborted), mentions still waiting are not started: they settle with
// `"stopped"` and the caller tells the person to ask again (nothing of them was stored).

export type Admission<T> =
  | { admitted: true; result: Promise<T | "stopped"> }
  | { admitted: false; running: number; waiting: number };

export interface ReplyQueue {
  /** Runs `work` now or when a slot frees up; refuses when `limit` mentions are already waiting. */
  offer<T>(work: () => Promise<T>): Admission<T>;
  readonly running: number;
  readonly waiting: number;
}

export function createReplyQueue(options: {
  concurrency: number;
  limit: number;
  stopping?: AbortSignal;
}): ReplyQueue {
  const concurrency = Math.max(1, options.concurrency);
  let running = 0;
  const waiting: Array<() => void> = [];

  const release = () => {
    running--;
    const next = waiting.shift();
    if (next) next();
  };
  // A stop empties the queue: what waits settles as "stopped" rather than starting late.
  options.stopping?.addEventListener("abort", () => {
    for (const start of waiting.splice(0)) start();
  });

  return {
    offer<T>(work: () => Promise<T>): Admission<T> {
      if (running >= concurrency && waiting.length >= options.limit)
        return { admitted: false, running, waiting: waiting.length };
      const result = new Promise<T | "stopped">((resolve, reject) => {
        const start = () => {
          if (options.stopping?.aborted) {
            resolve("stopped");
            return;
          }
          running++;
          work().then(resolve, reject).finally(release);
        };
        if (running < concurrency) start();
        else waiting.push(start);
      });
      return { admitted: true, result };
    },
    get running() {
      return running;
    },
    get waiting() {
      return waiting.length;
    },
  };
}
