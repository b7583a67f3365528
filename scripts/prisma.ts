// `npm run prisma -- <command>`: the Prisma CLI against the bot's database. With DATABASE_URL it
// talks to that server; without, it takes the embedded data directory's lock and serves it on
// loopback for the CLI, so the CLI never opens PGlite's files itself (see src/database/adapters.ts).
import { loadDatabaseConfig } from "../src/config.ts";
import { openPGlite } from "../src/database/adapters.ts";
import { acquireDataDirLock, pgliteDir } from "../src/database/data-dir-lock.ts";
import { MigrationError, runPrismaCli } from "../src/database/migrate.ts";
import { servePGlite } from "../src/database/pglite-server.ts";

const args = process.argv.slice(2);
const config = loadDatabaseConfig();
try {
  if (config.url) {
    await runPrismaCli(config.url, args, { echo: true });
  } else {
    const release = acquireDataDirLock(config.dataDir);
    const pglite = await openPGlite(pgliteDir(config.dataDir));
    const served = await servePGlite(pglite);
    try {
      await runPrismaCli(served.url, args, { echo: true });
    } finally {
      await served.stop();
      await pglite.close();
      release();
    }
  }
} catch (e) {
  if (e instanceof MigrationError) process.exitCode = 1;
  else throw e;
}
