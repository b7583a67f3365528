// Operators' settings for one server (a Discord guild, a Slack team) and its channels: a system
// prompt appended to SYSTEM_PROMPT, a chat model for base-model replies, and where the bot answers
// (allowed channels, allowed Discord roles). A channel's row overrides the server's row, which
// overrides the global configuration. DMs have no server, so no settings: they are always answered.
//
// Replies read the settings on their hot path, so they come from an in-process cache: one indexed
// statement per server every CACHE_MS at most (all its rows at once: a handful), never one per
// reply. A change made in this process is seen at once; one made by another replica within
// CACHE_MS.
import type { Database } from "../database/open-database.ts";
import type { Platform } from "./ports.ts";

/** How long a server's settings are used before they are read again. */
export const CACHE_MS = 5_000;

/** Where a reply or a command happens, as far as server settings care. */
export interface SettingsPlace {
  platform: Platform;
  /** Discord guild id, Slack team id; undefined in DMs. */
  serverId?: string;
  /** The channel (Discord: a thread's parent). */
  channelId?: string;
}

/** One row of ServerSetting, as this module uses it. */
export interface SettingRow {
  channelId: string;
  systemPrompt: string | null;
  chatModel: string | null;
  allowedChannelIds: string[];
  allowedRoleIds: string[];
  updatedBy: string | null;
  updatedAt: Date;
}

/** What applies in one channel of one server. */
export interface EffectiveSettings {
  /** Appended to SYSTEM_PROMPT; undefined: nothing. */
  systemPrompt?: string;
  promptFrom?: "channel" | "server";
  /** Answers base-model replies instead of CHAT_MODEL; undefined: CHAT_MODEL. */
  chatModel?: string;
  modelFrom?: "channel" | "server";
  /** Set but no longer in SERVER_CHAT_MODELS: ignored (CHAT_MODEL answers). */
  disallowedModel?: string;
  /** Empty: every channel. */
  allowedChannelIds: string[];
  /** Empty: everyone. */
  allowedRoleIds: string[];
}

/** Why a mention is not answered where it was written. */
export type Admission = { ok: true } | { ok: false; reason: "channel_not_allowed" | "role_not_allowed" };

/** The fields an operator changes, and the value each gets (null clears it). */
export type SettingChange =
  | { field: "systemPrompt"; value: string | null }
  | { field: "chatModel"; value: string | null }
  | { field: "allowedChannelIds"; value: string[] }
  | { field: "allowedRoleIds"; value: string[] };

const SERVER_WIDE = "";

export function createServerSettings(deps: {
  db: Database;
  /** SERVER_CHAT_MODELS: a stored model outside it is ignored at reply time. */
  allowedModels: readonly string[];
  /** The cache's clock (tests move it); default: the process's monotonic clock. */
  now?: () => number;
  cacheMs?: number;
}) {
  const { db } = deps;
  const now = deps.now ?? (() => performance.now());
  const cacheMs = deps.cacheMs ?? CACHE_MS;
  const cache = new Map<string, { at: number; rows: Promise<SettingRow[]> }>();
  const keyOf = (platform: Platform, serverId: string) => `${platform}\u0000${serverId}`;

  /** A server's rows, from the cache when fresh (concurrent readers share one statement). */
  function rowsOf(platform: Platform, serverId: string): Promise<SettingRow[]> {
    const key = keyOf(platform, serverId);
    const hit = cache.get(key);
    if (hit && now() - hit.at < cacheMs) return hit.rows;
    const rows = db.serverSetting.findMany({
      where: { platform, serverId },
      select: {
        channelId: true,
        systemPrompt: true,
        chatModel: true,
        allowedChannelIds: true,
        allowedRoleIds: true,
        updatedBy: true,
        updatedAt: true,
      },
    });
    const entry = { at: now(), rows };
    cache.set(key, entry);
    // A failed read is not cached: the next reply tries again.
    rows.catch(() => {
      if (cache.get(key) === entry) cache.delete(key);
    });
    return rows;
  }

  function resolve(rows: SettingRow[], channelId: string | undefined): EffectiveSettings {
    const server = rows.find((r) => r.channelId === SERVER_WIDE);
    const channel = channelId ? rows.find((r) => r.channelId === channelId) : undefined;
    const out: EffectiveSettings = {
      allowedChannelIds: server?.allowedChannelIds ?? [],
      allowedRoleIds: server?.allowedRoleIds ?? [],
    };
    const prompt = channel?.systemPrompt ?? server?.systemPrompt ?? undefined;
    if (prompt) {
      out.systemPrompt = prompt;
      out.promptFrom = channel?.systemPrompt ? "channel" : "server";
    }
    const model = channel?.chatModel ?? server?.chatModel ?? undefined;
    if (model) {
      const from = channel?.chatModel ? "channel" : "server";
      if (deps.allowedModels.includes(model)) {
        out.chatModel = model;
        out.modelFrom = from;
      } else out.disallowedModel = model;
    }
    return out;
  }

  /** What applies at `place`; undefined in DMs (no server, no settings). */
  async function effective(place: SettingsPlace): Promise<EffectiveSettings | undefined> {
    if (!place.serverId) return undefined;
    return resolve(await rowsOf(place.platform, place.serverId), place.channelId);
  }

  /**
   * Whether a mention at `place` by a member with `roleIds` is answered. DMs always are. Roles:
   * undefined means the adapter could not tell (or the platform has none), which passes only when no
   * role is required.
   */
  async function admits(place: SettingsPlace, roleIds: readonly string[] | undefined): Promise<Admission> {
    const s = await effective(place);
    if (!s) return { ok: true };
    if (s.allowedChannelIds.length > 0 && !(place.channelId && s.allowedChannelIds.includes(place.channelId)))
      return { ok: false, reason: "channel_not_allowed" };
    if (s.allowedRoleIds.length > 0 && !roleIds?.some((r) => s.allowedRoleIds.includes(r)))
      return { ok: false, reason: "role_not_allowed" };
    return { ok: true };
  }

  /** The row a change applies to, as stored now (read from the database, not the cache). */
  async function current(platform: Platform, serverId: string, channelId: string) {
    return db.serverSetting.findUnique({
      where: { platform_serverId_channelId: { platform, serverId, channelId } },
    });
  }

  /**
   * Applies one change to the server's row (`channelId` undefined) or a channel's row, with its
   * audit row, in one transaction; returns whether anything changed. This process's cache of the
   * server is dropped, so its next reply reads the new value.
   */
  async function change(
    place: { platform: Platform; serverId: string; channelId?: string },
    c: SettingChange,
    by: string,
  ): Promise<{ changed: boolean }> {
    const channelId = place.channelId ?? SERVER_WIDE;
    const key = { platform: place.platform, serverId: place.serverId, channelId };
    const changed = await db.$transaction(async (tx) => {
      const before = await tx.serverSetting.findUnique({ where: { platform_serverId_channelId: key } });
      const old = before ? before[c.field] : c.field.startsWith("allowed") ? [] : null;
      const text = (v: string | string[] | null) => (Array.isArray(v) ? v.join(",") || null : v);
      if (text(old) === text(c.value)) return false;
      await tx.serverSetting.upsert({
        where: { platform_serverId_channelId: key },
        create: { ...key, [c.field]: c.value, updatedBy: by },
        update: { [c.field]: c.value, updatedBy: by, updatedAt: new Date() },
      });
      await tx.serverSettingChange.create({
        data: { ...key, changedBy: by, field: c.field, oldValue: text(old), newValue: text(c.value) },
      });
      return true;
    });
    cache.delete(keyOf(place.platform, place.serverId));
    return { changed };
  }

  /** Every row of a server, read fresh (for `config show`). */
  async function rowsFresh(platform: Platform, serverId: string): Promise<SettingRow[]> {
    cache.delete(keyOf(platform, serverId));
    return rowsOf(platform, serverId);
  }

  return { effective, admits, change, current, rowsFresh, resolve };
}

export type ServerSettings = ReturnType<typeof createServerSettings>;

/**
 * A forgotten person's operator id leaves the settings and their audit (data-rights/forget.ts): the
 * settings stay (they belong to the server), who set them does not.
 */
export async function anonymiseSettingsAuthor(
  tx: Pick<Database, "serverSetting" | "serverSettingChange">,
  externalId: string,
): Promise<void> {
  await tx.serverSetting.updateMany({ where: { updatedBy: externalId }, data: { updatedBy: null } });
  await tx.serverSettingChange.updateMany({ where: { changedBy: externalId }, data: { changedBy: null } });
}
