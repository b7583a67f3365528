// Serves an open PGlite database over the Postgres wire protocol on 127.0.0.1, so that tools which
// speak to a server (Prisma's migrate engine through node-postgres; the `pg` path in tests) use the
// one process that owns the data directory instead of opening it a second time.
import type { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface ServedPGlite {
  url: string;
  stop(): Promise<void>;
}

export async function servePGlite(db: PGlite): Promise<ServedPGlite> {
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
  await server.start();
  const conn = server.getServerConn();
  const port = Number(conn.split(":").pop());
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    stop: () => server.stop(),
  };
}
