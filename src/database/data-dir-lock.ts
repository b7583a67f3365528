// One process at a time may open an embedded PGlite directory: two would corrupt it. The lock is a
// file created with O_EXCL holding the owner's pid; a lock whose process is gone is stale and taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `The data directory ${dataDir} is in use by another bot process (pid ${pid}). ` +
        "Stop that process, or give this one its own DATA_DIR (or a DATABASE_URL).",
    );
    this.name = "DataDirLockedError";
  }
}

export function lockPath(dataDir: string): string {
  return join(resolve(dataDir), "bot.lock");
}

/** Where PGlite keeps its files inside DATA_DIR (the lock lives beside it, not in it). */
export function pgliteDir(dataDir: string): string {
  return join(resolve(dataDir), "pglite");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else; it is alive all the same.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function owner(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockPath(dataDir), "utf8"), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock or throws DataDirLockedError; returns the release function. */
export function acquireDataDirLock(dataDir: string): () => void {
  mkdirSync(resolve(dataDir), { recursive: true });
  const path = lockPath(dataDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: "wx" });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (owner(dataDir) === process.pid) rmSync(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = owner(dataDir);
      if (pid !== undefined && pid !== process.pid && alive(pid)) throw new DataDirLockedError(dataDir, pid);
      // Stale (its process died without cleaning up) or unreadable: remove it and try once more.
      rmSync(path, { force: true });
    }
  }
  throw new DataDirLockedError(dataDir, owner(dataDir) ?? -1);
}

/** For child processes (prisma migrate) of the bot: fine when the parent holds the lock or nobody does. */
export function assertLockHeldByParent(dataDir: string): void {
  const pid = owner(dataDir);
  if (pid !== undefined && pid !== process.ppid && pid !== process.pid && alive(pid)) {
    throw new DataDirLockedError(dataDir, pid);
  }
}
