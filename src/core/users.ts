// Users are found by the opaque identity the adapters build (`discord:<id>`, `slack:<team>:<id>`)
// and created on first contact.
import type { Database } from "../database/open-database.ts";
import type { UserRef } from "./ports.ts";

export async function ensureUser(db: Database, ref: UserRef) {
  return db.user.upsert({
    where: { externalId: ref.externalId },
    create: { externalId: ref.externalId, platform: ref.platform },
    update: {},
  });
}
