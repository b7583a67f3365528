// Users are found by the opaque identity the adapters build (`discord:<id>`, `slack:<team>:<id>`)
// and created on first contact.
import type { Database } from "../database/open-database.ts";

export interface UserRef {
  /** Opaque identity from the adapter. */
  externalId: string;
  platform: "discord" | "slack";
}

export async function ensureUser(db: Database, ref: UserRef) {
  return db.user.upsert({
    where: { externalId: ref.externalId },
    create: { externalId: ref.externalId, platform: ref.platform },
    update: {},
  });
}
