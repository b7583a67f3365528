// How the demo talks to the terminal: a banner, numbered scenes, who said what, indented bot output.
// Colour only on a terminal and only without NO_COLOR (https://no-color.org); piped or redirected
// output is plain text, so logs and the test read the same words a person sees.

export interface Printer {
  banner(lines: string[]): void;
  scene(title: string, intro?: string): void;
  /** A person's message, e.g. `Ana in #general: ...`. */
  say(who: string, where: string, text: string): void;
  /** What the bot answered (and, dimmed, the model that answered). */
  bot(text: string, note?: string): void;
  /** Narration: what just happened behind the scenes. */
  note(text: string): void;
  /** A block of text shown as-is, framed (embeds, DMs). */
  box(title: string, lines: string[]): void;
  /** A step of a process (job transitions). */
  step(text: string): void;
  ok(text: string): void;
  fail(text: string): void;
  /** Dims text (for inline use). */
  dim(text: string): string;
  bold(text: string): string;
}

export function colourWanted(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

const WIDTH = 78;

export function createPrinter(write: (text: string) => void, options: { colour: boolean }): Printer {
  const sgr = (code: string) => (text: string) => (options.colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  const bold = sgr("1");
  const dim = sgr("2");
  const cyan = sgr("36");
  const green = sgr("32");
  const red = sgr("31");
  const yellow = sgr("33");
  const magenta = sgr("35");
  // One stable colour per person, so the conversation is easy to follow.
  const personColours = [sgr("1;34"), sgr("1;35"), sgr("1;33")];
  const people = new Map<string, (t: string) => string>();
  const personColour = (who: string) => {
    let c = people.get(who);
    if (!c) {
      c = personColours[people.size % personColours.length]!;
      people.set(who, c);
    }
    return c;
  };
  const line = (text = "") => write(`${text}\n`);
  const indent = (text: string, prefix: string) =>
    text
      .split("\n")
      .map((l, i) => (i === 0 ? l : `${prefix}${l}`))
      .join("\n");
  let sceneNumber = 0;

  return {
    banner(lines) {
      const rule = "═".repeat(WIDTH);
      line(cyan(rule));
      for (const l of lines) line(cyan(`  ${l}`));
      line(cyan(rule));
    },
    scene(title, intro) {
      sceneNumber++;
      line();
      line(
        bold(
          yellow(`── Scene ${sceneNumber}. ${title} ${"─".repeat(Math.max(3, WIDTH - title.length - 13))}`),
        ),
      );
      if (intro) line(dim(intro));
      line();
    },
    say(who, where, text) {
      const head = `${personColour(who)(who)} ${dim(`in ${where}`)}: `;
      line(`  ${head}${indent(text, "      ")}`);
    },
    bot(text, note) {
      line(`    ${magenta("🤖 Assistant")}: ${indent(text, "       ")}`);
      if (note) line(`       ${dim(note)}`);
    },
    note(text) {
      line(`  ${dim(`· ${indent(text, "    ")}`)}`);
    },
    box(title, lines) {
      line(`    ┌─ ${bold(title)}`);
      for (const l of lines) line(`    │ ${l}`);
      line("    └─");
    },
    step(text) {
      line(`    ${cyan("→")} ${text}`);
    },
    ok(text) {
      line(green(`✔ ${text}`));
    },
    fail(text) {
      line(red(`✘ ${text}`));
    },
    dim,
    bold,
  };
}
