// Starts the bot as a real process (`npm start` runs the same entry point), in a directory of its
// own so no developer's .env leaks in, and collects what it prints.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { settings } from "../../src/config.ts";

const main = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");

export interface BotProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export function startBot(env: Record<string, string>, cwd: string): BotProcess {
  const child = spawn(process.execPath, ["--import", tsx, main], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return watch(child);
}

function watch(child: ChildProcess): BotProcess {
  let out = "";
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}`));
        }, timeoutMs);
        listeners.add(check);
        exited.then(() => {
          if (!pattern.test(out)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`process exited before ${pattern}; output:\n${out}`));
          }
        });
        check();
      });
    },
  };
}

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/**
 * `npm start` in the checkout, as an operator runs it. Every setting the bot reads is passed (blank
 * unless given), so a developer's .env cannot change what the test sees: real variables win over
 * .env, and blank means unset.
 */
export function runNpmStart(env: Record<string, string>): BotProcess {
  const blank = Object.fromEntries(Object.keys(settings).map((k) => [k, ""]));
  const child = spawn("npm", ["start"], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...blank, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return watch(child);
}

/** Every process below `pid` (Linux /proc), parents before children, with its command line. */
export function descendants(pid: number): Array<{ pid: number; args: string }> {
  const out: Array<{ pid: number; args: string }> = [];
  const visit = (p: number) => {
    let children: number[] = [];
    try {
      children = readdirSync(`/proc/${p}/task`).flatMap((task) =>
        readFileSync(`/proc/${p}/task/${task}/children`, "utf8")
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map(Number),
      );
    } catch {
      return;
    }
    for (const c of children) {
      let args = "";
      try {
        args = readFileSync(`/proc/${c}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
      } catch {}
      out.push({ pid: c, args });
      visit(c);
    }
  };
  visit(pid);
  return out;
}

/** True while a process with this pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
