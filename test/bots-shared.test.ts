// The pieces every platform adapter shares (src/bots/shared): the in-flight tracker a shutdown
// drains, and the bounded memory of event ids that skips replayed deliveries.
import { describe, expect, it } from "vitest";
import { InFlight } from "../src/bots/shared/in-flight.ts";
import { RecentIds } from "../src/bots/shared/recent-ids.ts";

const later = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("InFlight", () => {
  it("drains work under way, including work started while draining", async () => {
    const inFlight = new InFlight();
    const done: string[] = [];
    void inFlight.run(
      async () => {
        await later(30);
        done.push("first");
        void inFlight.run(
          async () => {
            await later(30);
            done.push("second");
          },
          () => {},
        );
      },
      () => {},
    );
    expect(inFlight.size).toBe(1);
    expect(await inFlight.drain(2_000)).toBe(true);
    expect(done).toEqual(["first", "second"]);
    expect(inFlight.size).toBe(0);
  });

  it("says when the bound ran out first", async () => {
    const inFlight = new InFlight();
    void inFlight.run(
      () => later(300),
      () => {},
    );
    expect(await inFlight.drain(20)).toBe(false);
    expect(inFlight.size).toBe(1);
  });

  it("hands a failure to its handler and never rejects, even when the handler fails", async () => {
    const inFlight = new InFlight();
    const seen: unknown[] = [];
    await expect(
      inFlight.run(
        async () => {
          throw new Error("boom");
        },
        (error) => {
          seen.push(error);
          throw new Error("the handler failed too");
        },
      ),
    ).resolves.toBeUndefined();
    expect(seen).toEqual([new Error("boom")]);
  });

  it("takes no new work once it stopped accepting", async () => {
    const inFlight = new InFlight();
    inFlight.stopAccepting();
    let ran = false;
    await inFlight.run(
      async () => {
        ran = true;
      },
      () => {},
    );
    expect(ran).toBe(false);
    expect(inFlight.isAccepting).toBe(false);
  });
});

describe("RecentIds", () => {
  it("recognises a repeat, and forgets the oldest beyond its capacity", () => {
    const recent = new RecentIds(3);
    expect(recent.firstTime("a")).toBe(true);
    expect(recent.firstTime("a")).toBe(false);
    for (const id of ["b", "c", "d"]) expect(recent.firstTime(id)).toBe(true);
    // "a" was the oldest of four: forgotten, so it counts as new again; "d" is still remembered.
    expect(recent.firstTime("a")).toBe(true);
    expect(recent.firstTime("d")).toBe(false);
  });
});
