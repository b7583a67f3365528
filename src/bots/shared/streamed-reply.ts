// Showing an answer while the model writes it, on a platform that can post and edit messages. The
// text so far is split by the same rules as a finished answer (split-message.ts), so what is on
// screen while it streams is always a prefix of the split the finished answer gets: message i
// holds part i, a part that outgrows a message continues in the next one, and a code block is
// never left open in one message. The platform is written at most once per `intervalMs` (edits
// are rate limited on every platform); the last write always carries the final text, with the
// rating buttons under its last part when the answer can be rated.
import type { Logger } from "../../core/ports.ts";
import { type MessageFormat, splitMessage } from "./split-message.ts";

/** The platform's side: post a part, edit one in place, take one away. */
export interface ReplySurface {
  /** Posts part `index` (0: the answer to the asker's message); returns its platform id. */
  post(content: string, index: number, buttons: boolean): Promise<string>;
  /** Replaces what message `id` (part `index`) says; `buttons`: the rating buttons under it, or none. */
  edit(id: string, content: string, index: number, buttons: boolean): Promise<void>;
  /** Deletes a message that is no longer part of the answer. */
  remove(id: string): Promise<void>;
}

/** At most one write per second: what Discord and Slack allow a message without throttling it. */
export const STREAM_INTERVAL_MS = 1_000;

interface Shown {
  id: string;
  content: string;
  buttons: boolean;
}

export interface StreamedReply {
  /** The answer so far (the whole of it); shown at the next free write. Never throws. */
  push(textSoFar: string): void;
  /** Whether anything of the answer was pushed (and so is, or is about to be, on screen). */
  readonly started: boolean;
  /**
   * Makes the platform show `text` (the answer, or an apology replacing a cut-off one) and returns
   * the ids of the messages that hold it, in order. Stops at the first part the platform refuses,
   * like postParts: the ids returned are the parts people can see and rate.
   */
  finish(text: string, rateable: boolean): Promise<string[]>;
}

export interface StreamedReplyOptions {
  format: MessageFormat;
  surface: ReplySurface;
  log: Logger;
  intervalMs?: number;
  /** Called once, when the first text arrives (stop "typing…", drop a still-working note). */
  onFirstText?: () => void;
  /** Messages already showing the answer (a platform stream turned into edits). */
  shown?: Array<{ id: string; content: string }>;
  /** Milliseconds now; injectable for tests of the rate. */
  now?: () => number;
}

/**
 * Writes the latest text at most once per `intervalMs`, one write at a time: texts pushed while a
 * write is under way or too soon after one are coalesced into the next (only the latest counts).
 */
export interface PacedWriter {
  push(text: string): void;
  /** No more writes: waits for the one under way (the caller then writes the final text itself). */
  stop(): Promise<void>;
}

export function createPacedWriter(options: {
  intervalMs?: number;
  now?: () => number;
  /** One write; it never rejects (failures are the writer's business). */
  write: (text: string) => Promise<void>;
}): PacedWriter {
  const interval = options.intervalMs ?? STREAM_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let latest: string | undefined;
  let written: string | undefined;
  let lastWriteAt = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> | undefined;
  let stopped = false;

  const schedule = () => {
    if (stopped || writing || timer || latest === undefined || latest === written) return;
    timer = setTimeout(run, Math.max(0, lastWriteAt + interval - now()));
  };
  const run = () => {
    timer = undefined;
    if (stopped || latest === undefined) return;
    const text = latest;
    lastWriteAt = now();
    writing = options
      .write(text)
      .catch(() => {})
      .finally(() => {
        written = text;
        writing = undefined;
        schedule();
      });
  };
  return {
    push(text) {
      if (stopped) return;
      latest = text;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await writing;
    },
  };
}

export function createStreamedReply(options: StreamedReplyOptions): StreamedReply {
  const { format, surface, log } = options;
  const shown: Shown[] = (options.shown ?? []).map((s) => ({ ...s, buttons: false }));
  let started = false;
  /** A write failed while streaming: the rest waits for `finish`, which tries again. */
  let broken = false;
  const writer = createPacedWriter({
    ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
    ...(options.now ? { now: options.now } : {}),
    async write(text) {
      if (broken) return;
      const result = await show(splitMessage(closeOpenFence(text), format), false, false);
      if (!result.ok) {
        broken = true;
        log.warn("showing the answer so far failed; the finished answer is posted at the end", {
          part: result.failedAt + 1,
          error: result.error,
        });
      }
    },
  });

  /**
   * Makes the messages show `parts` (buttons under the last when `rateable`). `final`: a message
   * the platform will not let us edit is replaced by a new one, so the answer still arrives whole.
   */
  async function show(
    parts: string[],
    rateable: boolean,
    final: boolean,
  ): Promise<{ ok: true } | { ok: false; failedAt: number; error: unknown }> {
    const last = parts.length - 1;
    for (const [index, content] of parts.entries()) {
      const buttons = rateable && index === last;
      const current = shown[index];
      try {
        if (!current) {
          shown.push({ id: await surface.post(content, index, buttons), content, buttons });
        } else if (current.content !== content || current.buttons !== buttons) {
          try {
            await surface.edit(current.id, content, index, buttons);
          } catch (error) {
            if (!final) throw error;
            // Posted again from this part on (so the parts stay in order), the stale ones removed.
            log.warn("could not edit a streamed message; posting the rest of the answer again", {
              part: index + 1,
              error,
            });
            return repost(parts, index, rateable);
          }
          current.content = content;
          current.buttons = buttons;
        }
      } catch (error) {
        return { ok: false, failedAt: index, error };
      }
    }
    // A shorter answer than what is on screen (an apology replacing a long cut-off text).
    for (const extra of shown.splice(parts.length)) {
      await surface
        .remove(extra.id)
        .catch((error: unknown) =>
          log.warn("could not delete a message left over from the answer", { error }),
        );
    }
    return { ok: true };
  }

  /** Posts `parts` from `from` on as new messages and deletes the ones they replace. */
  async function repost(
    parts: string[],
    from: number,
    rateable: boolean,
  ): Promise<{ ok: true } | { ok: false; failedAt: number; error: unknown }> {
    const stale = shown.splice(from);
    let result: { ok: true } | { ok: false; failedAt: number; error: unknown } = { ok: true };
    for (let index = from; index < parts.length; index++) {
      const content = parts[index]!;
      const buttons = rateable && index === parts.length - 1;
      try {
        shown.push({ id: await surface.post(content, index, buttons), content, buttons });
      } catch (error) {
        result = { ok: false, failedAt: index, error };
        break;
      }
    }
    // Nothing is taken away unless the answer stands in full without it.
    if (result.ok)
      for (const old of stale) {
        await surface
          .remove(old.id)
          .catch((error: unknown) => log.warn("could not delete a message the answer replaced", { error }));
      }
    return result;
  }

  return {
    get started() {
      return started || shown.length > 0;
    },
    push(textSoFar) {
      if (!started) {
        started = true;
        try {
          options.onFirstText?.();
        } catch (error) {
          log.warn("the first-text hook failed", { error });
        }
      }
      writer.push(textSoFar);
    },
    async finish(text, rateable) {
      await writer.stop();
      const parts = splitMessage(text, format);
      if (parts.length === 0) log.warn("empty reply; nothing posted");
      const result = await show(parts, rateable, true);
      if (!result.ok)
        log.error("could not show a reply part", {
          part: result.failedAt + 1,
          parts: parts.length,
          error: result.error,
        });
      const upTo = result.ok ? parts.length : result.failedAt;
      return shown.slice(0, upTo).map((s) => s.id);
    },
  };
}

/** Fence lines, as split-message.ts reads them: 3+ backticks, then an info string. */
const FENCE = /^[ \t]*(`{3,})(.*)$/;

/**
 * The text so far with a code block still being written closed at its end, so that the preview
 * renders it as code (the finished answer closes it itself).
 */
export function closeOpenFence(text: string): string {
  let open: string | undefined;
  for (const line of text.split("\n")) {
    const m = FENCE.exec(line);
    if (!m) continue;
    const marker = m[1]!;
    const info = m[2]!.trim();
    if (open === undefined) {
      if (!info.includes("```")) open = marker;
    } else if (marker.length >= open.length && info === "") open = undefined;
  }
  return open === undefined ? text : `${text}\n${open}`;
}
