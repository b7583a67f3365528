// `npm run demo`: the whole product in under a minute, with no keys, no tokens and no network.
// It starts the Discord, OpenAI, Together AI and vLLM emulators (test/emulators), a temporary
// embedded database and the real bot against them, then plays a short story in the terminal: two
// people chat, the bot remembers each of them separately, they rate replies, one of them gets a
// fine-tune offer with Together's price, approves it, Together trains her LoRA adapter, vLLM loads
// it, and her next answer comes from her own adapter (the open-weights route). Exit code 0 when every beat
// happened; 1 with the reason (and the bot's last log lines) when one did not.
import { randomBytes } from "node:crypto";
import type { APIEmbed, APIMessage } from "discord.js";
import { viewPrompt } from "./demo/model.ts";
import { colourWanted, createPrinter, type Printer } from "./demo/print.ts";
import {
  type Answer,
  Cleanup,
  DemoError,
  type Person,
  startWorld,
  type World,
  waitFor,
} from "./demo/world.ts";

const ANA: Person = { id: "3001", name: "Ana" };
const BEN: Person = { id: "3002", name: "Ben" };
const THRESHOLD = 10;
/** The whole run, startup and cleanup included, must fit well inside this. */
const DEADLINE_MS = 80_000;

/**
 * `npm run demo -- --dashboard[=PORT]`: after the story, the operators' dashboard stays open on the
 * demo's data (127.0.0.1, port 8080 by default) until Ctrl+C, with limits set at the demo's scale
 * (its emulated costs are fractions of a cent) so that spend has something to be measured against.
 * The demo operator and a one-off token are printed.
 */
const DASHBOARD = (() => {
  const arg = process.argv.slice(2).find((a) => a === "--dashboard" || a.startsWith("--dashboard="));
  if (!arg) return undefined;
  const port = Number(arg.split("=")[1] ?? 8080);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--dashboard=${port}: not a port`);
  return { port, operator: "discord:3999", token: randomBytes(24).toString("base64url") };
})();

const RATINGS: Record<string, string> = {
  "👍": "5",
  "👎": "1",
  "4️⃣": "4",
  "5️⃣": "5",
};

async function story(world: World, out: Printer): Promise<void> {
  const where = (channel: "general" | "random") => `#${channel}`;
  const show = (a: Answer, options: { memory?: boolean } = {}) => {
    out.bot(a.text, `answered by ${a.model}`);
    if (options.memory) {
      const { memory } = viewPrompt(a.prompt);
      out.note(
        memory.length
          ? `memory the bot put in the prompt (searched among this person's own messages only):\n${memory.map((m) => `  "${m}"`).join("\n")}`
          : "memory the bot put in the prompt: nothing from this person matched",
      );
    }
  };
  const rate = async (p: Person, a: Answer, emoji: string, label = "that reply") => {
    await world.rate(p, a.replies[0]!, emoji);
    out.note(`${p.name} reacts ${emoji} to ${label} → rating ${RATINGS[emoji] ?? "?"}`);
  };
  const replyTo = (a: Answer) => `the reply to "${clip(a.message.content.replace(/^<@\d+>\s*/, ""), 32)}"`;
  const ask = async (p: Person, channel: "general" | "random", text: string) => {
    out.say(p.name, where(channel), text);
    return world.ask(p, channel, text);
  };

  // ------------------------------------------------------------------------------------------
  out.scene(
    "Two people say hello",
    "Ana and Ben mention the bot in #general. Every message is stored for its author, with an embedding.",
  );
  const anaHello = await ask(
    ANA,
    "general",
    "Hi! I'm Ana. My dog is called Pixel and she's a border collie.",
  );
  show(anaHello);
  const benHello = await ask(BEN, "general", "Hey, I'm Ben. I'm learning Rust and I have a cat called Miso.");
  show(benHello);

  // ------------------------------------------------------------------------------------------
  out.scene(
    "The bot remembers each of them separately",
    "Both ask the same question in #random, a different channel: no chat history to lean on,\nonly each person's own memory, found by vector search (pgvector) among their past messages.",
  );
  const anaDog = await ask(ANA, "random", "What is my dog called?");
  show(anaDog, { memory: true });
  const benDog = await ask(BEN, "random", "What is my dog called?");
  show(benDog, { memory: true });
  if (!anaDog.text.includes("Pixel")) throw new DemoError("the bot did not remember Ana's dog");
  if (benDog.text.includes("Pixel")) throw new DemoError("Ana's memory leaked into Ben's answer");
  out.note("Same question, different people, different memories: Ana's Pixel never reaches Ben's prompt.");

  // ------------------------------------------------------------------------------------------
  out.scene(
    "They rate replies with emoji",
    `A reaction on a reply to you is a rating: 👍 = 5, 👎 = 1, 1️⃣…5️⃣. Replies rated 4 or 5 become\nexamples in the person's next prompts, and training examples for a model of their own.\nFor the demo the fine-tune threshold is FINETUNE_THRESHOLD=${THRESHOLD} highly rated replies (default: 100).`,
  );
  await rate(ANA, anaHello, "👍", replyTo(anaHello));
  await rate(ANA, anaDog, "👍", replyTo(anaDog));
  await rate(BEN, benHello, "👍", replyTo(benHello));
  const benRust = await ask(BEN, "general", "How do I read a file in Rust?");
  show(benRust);
  await rate(BEN, benRust, "👎");
  out.note("Ana keeps asking about Pixel and likes the answers:");
  const anaQuestions: Array<[string, string]> = [
    ["How much exercise does a border collie need each day?", "👍"],
    ["My dog pulls on the lead. Any tips?", "5️⃣"],
    ["What's a good puzzle toy for a clever dog?", "👍"],
    ["How do I teach my dog to come back when called?", "4️⃣"],
    ["Is it OK to give a dog carrots as a treat?", "👍"],
    ["How often should I brush my dog's coat?", "5️⃣"],
    ["My dog barks at the postman every morning. What can I do?", "👍"],
    ["Can you email a training plan for my dog to ana.k@example.com?", "👍"],
  ];
  for (const [question, emoji] of anaQuestions) {
    const a = await ask(ANA, "general", question);
    show(a);
    await rate(ANA, a, emoji);
  }
  out.note("She never repeated Pixel's name: it came from what the bot remembered of her.");

  // ------------------------------------------------------------------------------------------
  out.scene("/assistant status, before", "What each person sees when they type /assistant status:");
  out.say(ANA.name, "#general", "/assistant status");
  const anaBefore = await world.command(ANA, "status");
  statusBox(out, anaBefore);
  out.say(BEN.name, "#general", "/assistant status");
  statusBox(out, await world.command(BEN, "status"));

  // ------------------------------------------------------------------------------------------
  out.scene(
    "Ana crosses the threshold and gets an offer",
    "The readiness job (hourly in production; run on demand here) looks for people with enough\nready examples and DMs them a cost estimate with Approve / Decline buttons. Ben is not there yet.",
  );
  const { proposed } = await world.app.core.lifecycle.readiness();
  out.step(`readiness job: ${proposed} offer${proposed === 1 ? "" : "s"} sent`);
  if (proposed !== 1)
    throw new DemoError(`the readiness job sent ${proposed} offers; Ana should get exactly one`);
  const offer = await waitFor("the approval DM to Ana", () =>
    world.dms(ANA).find((m) => JSON.stringify(m.components ?? []).includes("ft:approve:")),
  );
  const buttons = buttonsOf(offer);
  out.box("DM from Assistant to Ana", [
    ...offer.content.replaceAll("**", "").split("\n"),
    "",
    buttons.map((b) => `[ ${b.label} ]`).join("  "),
  ]);
  if (!/Price quoted by Together: \$/.test(offer.content))
    throw new DemoError("the approval DM has no price from Together");
  if (world.dms(BEN).length > 0) throw new DemoError("Ben got a DM he should not have");
  if (/removed before upload: [1-9]/.test(offer.content))
    out.note("That is Ana's email address: it was replaced by a placeholder in the training file.");

  // ------------------------------------------------------------------------------------------
  out.scene(
    "Ana approves",
    "Approving reserves the price against the admins' spending limits and creates the LoRA job\non the training file uploaded for Together's quote.",
  );
  const approve = buttons.find((b) => b.customId.startsWith("ft:approve:"));
  if (!approve) throw new DemoError("the approval DM has no Approve button");
  out.say(ANA.name, "her DMs", `clicks [ ${approve.label} ]`);
  const clicked = await world.click(ANA, offer, approve.customId);
  out.bot(clicked, "(only Ana sees this)");
  out.note(`The DM now reads: "${world.message(offer.id).content}" (buttons removed).`);

  // ------------------------------------------------------------------------------------------
  out.scene(
    "The fine-tuning job runs",
    "The emulator's fine-tuning clock is advanced step by step; after each step the bot's monitoring\njob (every 5 minutes in production) asks the emulated Together API how the job is doing. When it\ncompletes, the adapter is put where vLLM reads it (the operator's download) and the bot loads it.",
  );
  const job = await waitFor("the fine-tuning job to be created", () =>
    world.db.fineTuneJob.findFirst({ where: { providerJobId: { not: null } } }),
  );
  out.step(`job ${job.providerJobId} created on ${job.baseModel}: ${job.providerStatus}`);
  const started = world.together.clock.now();
  let last = job.providerStatus;
  for (let i = 0; i < 100; i++) {
    const moved = world.together.tick();
    world.publishAdapters();
    await world.app.core.lifecycle.monitor();
    const now = await world.db.fineTuneJob.findUniqueOrThrow({ where: { id: job.id } });
    if (now.providerStatus !== last) {
      last = now.providerStatus;
      const minutes = ((world.together.clock.now() - started) / 60_000).toFixed(1);
      out.step(`${now.providerStatus}   ${out.dim(`(emulated time: +${minutes} min)`)}`);
    }
    if (now.state === "failed") throw new DemoError(`the fine-tuning job failed: ${now.error}`);
    if (now.state === "succeeded") break;
    if (!moved) throw new DemoError(`the fine-tuning job stopped at "${now.providerStatus}"`);
  }
  const done = await world.db.fineTuneJob.findUniqueOrThrow({ where: { id: job.id } });
  if (done.state !== "succeeded" || !done.fineTunedModel)
    throw new DemoError(`the fine-tuning job did not succeed (state ${done.state})`);
  out.step(`fine-tuned model: ${done.fineTunedModel}`);
  const version = await world.db.modelVersion.findFirstOrThrow({ where: { jobId: done.id } });
  if (!version.adapterName || !world.vllm.adapters.loaded.has(version.adapterName))
    throw new DemoError("the bot did not load Ana's adapter into vLLM");
  out.step(`vLLM: adapter ${version.adapterName} loaded from ${version.adapterSource}`);
  const ready = await waitFor("the 'model is ready' DM to Ana", () =>
    world.dms(ANA).find((m) => m.content.startsWith("Your own model")),
  );
  out.box("DM from Assistant to Ana", ready.content.split("\n"));

  // ------------------------------------------------------------------------------------------
  out.scene(
    "Ana's next reply comes from her own model",
    "vLLM answers with model = her adapter's name; memory still works on top of it. Ben is unchanged.",
  );
  const anaAfter = await ask(ANA, "random", "What is my dog called?");
  show(anaAfter);
  if (anaAfter.model !== version.adapterName) throw new DemoError(`Ana was answered by ${anaAfter.model}`);
  if (!anaAfter.text.includes("Pixel")) throw new DemoError("Ana's own model was not given her memory");
  const benAfter = await ask(BEN, "random", "I'm learning Rust: what should I build first?");
  show(benAfter);

  // ------------------------------------------------------------------------------------------
  out.scene("/assistant status, after");
  out.say(ANA.name, "#general", "/assistant status");
  const anaStatusAfter = await world.command(ANA, "status");
  statusBox(out, anaStatusAfter);
  if (!JSON.stringify(anaStatusAfter).includes(done.fineTunedModel))
    throw new DemoError("Ana's status does not show her fine-tuned model");
  out.note("Her 10 examples were used for v1; the next offer comes after 10 new highly rated replies.");
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function buttonsOf(message: APIMessage): Array<{ label: string; customId: string }> {
  const rows = (message.components ?? []) as unknown as Array<{
    components?: Array<{ label?: string; custom_id?: string }>;
  }>;
  return rows
    .flatMap((r) => r.components ?? [])
    .map((c) => ({ label: c.label ?? "", customId: c.custom_id ?? "" }));
}

/** The status embed as the text Discord would show. */
function statusBox(out: Printer, reply: { content?: string; embeds?: APIEmbed[] }) {
  const embed = reply.embeds?.[0];
  if (!embed) {
    out.box("Assistant (only you can see this)", (reply.content ?? "").split("\n"));
    return;
  }
  const lines = [
    ...(embed.description ? [embed.description, ""] : []),
    ...(embed.fields ?? []).map((f) => `${f.name}: ${f.value.replaceAll("`", "")}`),
  ];
  out.box(embed.title ?? "Status", lines);
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  const cleanup = new Cleanup();
  let outputClosed = false;
  const write = (stream: NodeJS.WriteStream, text: string) => {
    if (!(outputClosed && stream === process.stdout)) stream.write(text);
  };
  const out = createPrinter((t) => write(process.stdout, t), {
    colour: colourWanted(process.stdout, process.env),
  });
  const logTail: string[] = [];
  const keepLog = (line: string) => {
    logTail.push(line);
    if (logTail.length > 30) logTail.shift();
  };

  // Ctrl+C, a closed pipe (`npm run demo | head`) or the deadline: stop everything, delete the
  // temporary directory, and leave with a non-zero code. The story is abandoned where it stands.
  let aborted: Promise<number> | undefined;
  const abort = (why: string, code: number) => {
    aborted ??= (async () => {
      write(process.stderr, `\n${why}; cleaning up…\n`);
      const forced = setTimeout(() => process.exit(code), 10_000);
      forced.unref();
      await cleanup.run();
      clearTimeout(forced);
      return code;
    })();
    void aborted.then((c) => process.exit(c));
  };
  process.once("SIGINT", () => abort("Interrupted", 130));
  process.once("SIGTERM", () => abort("Terminated", 143));
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    outputClosed = true;
    abort("Output closed", 1);
  });
  const watchdog = setTimeout(
    () => abort(`The demo did not finish within ${DEADLINE_MS / 1000} s (is the machine very busy?)`, 1),
    DEADLINE_MS,
  );
  watchdog.unref();

  out.banner([
    "Learning assistant: demo",
    "",
    "Everything runs locally, against EMULATORS: Discord, OpenAI (the base model), Together AI",
    "(LoRA fine-tuning) and vLLM (serving each person's adapter) on 127.0.0.1, and a temporary",
    "embedded Postgres (PGlite). No network, no keys, no tokens.",
    "The bot itself is the real one (the same code `npm start` runs); only its URLs point at the",
    "emulators. The emulated models are a tiny script that answers from the prompt the bot sends",
    "it, so what it remembers is what the bot sent.",
  ]);

  let failure: unknown;
  try {
    const world = await startWorld(
      [ANA, BEN],
      {
        env: {
          FINETUNE_PLATFORMS: "discord,slack",
          FINETUNE_THRESHOLD: String(THRESHOLD),
          ...(DASHBOARD
            ? {
                DASHBOARD_PORT: String(DASHBOARD.port),
                DASHBOARD_TOKEN: DASHBOARD.token,
                OPERATORS: DASHBOARD.operator,
              }
            : {}),
        },
        log: keepLog,
        progress: (text) => out.note(text),
      },
      cleanup,
    );
    out.ok(
      `The bot is up, talking only to the emulators (${((Date.now() - startedAt) / 1000).toFixed(1)} s).`,
    );
    if (DASHBOARD)
      await world.app.core.budgets.setLimits(
        { trainingTotalMonthUsd: 0.005, trainingPerUserMonthUsd: 0.003, chatPerDayUsd: 0.005 },
        DASHBOARD.operator,
      );
    await story(world, out);
    if (DASHBOARD && !aborted) {
      clearTimeout(watchdog);
      out.ok(
        `The dashboard is open on the demo's data: ${world.app.dashboard?.url ?? "(not started)"}\n` +
          `  operator id: ${DASHBOARD.operator}\n  token:       ${DASHBOARD.token}\n` +
          "Press Ctrl+C to end the demo (its database is deleted then).",
      );
      await new Promise(() => {}); // until Ctrl+C: the handler above cleans up and exits
    }
  } catch (e) {
    failure = e;
  }
  if (aborted) return aborted;
  const problems = await cleanup.run();
  clearTimeout(watchdog);
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  write(process.stdout, "\n");
  if (failure) {
    out.fail(`Demo failed: ${failure instanceof Error ? failure.message : String(failure)}`);
    if (!(failure instanceof DemoError) && failure instanceof Error && failure.stack)
      write(process.stderr, `${failure.stack}\n`);
    if (logTail.length) write(process.stderr, `Last lines of the bot's log:\n${logTail.join("\n")}\n`);
    for (const p of problems) write(process.stderr, `Cleanup problem: ${p}\n`);
    return 1;
  }
  if (problems.length) {
    for (const p of problems) out.fail(`Cleanup problem: ${p}`);
    return 1;
  }
  out.ok(
    `Demo finished in ${seconds} s. Everything ran against emulators; the temporary database is deleted.`,
  );
  out.note("Next: `npm test` runs every test; see the README to connect a real Discord or Slack bot.");
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // discord.js and PGlite can keep a handle or two alive for a moment: do not wait for them.
    setTimeout(() => process.exit(code), 1_000).unref();
  },
  (e: unknown) => {
    process.stderr.write(
      `Demo failed unexpectedly: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exit(1);
  },
);
