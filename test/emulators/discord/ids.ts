/** Snowflake ids (timestamped, strictly increasing within the process) and Discord's timestamps. */
const DISCORD_EPOCH = 1420070400000n;
let snowflakeIncrement = 0n;
let lastSnowflake = 0n;

/** A fresh snowflake id (timestamped now, strictly increasing within the process). */
export function snowflake(at: number = Date.now()): string {
  snowflakeIncrement = (snowflakeIncrement + 1n) & 0xfffn;
  let id = ((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | (1n << 12n) | snowflakeIncrement;
  if (id <= lastSnowflake) id = lastSnowflake + 1n;
  lastSnowflake = id;
  return id.toString();
}

/** The creation time encoded in a snowflake (ids that are too small give the Discord epoch). */
export function snowflakeTime(id: string): number {
  try {
    return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
  } catch {
    return Number(DISCORD_EPOCH);
  }
}

export function compareSnowflakes(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isoNow(at: number = Date.now()): string {
  return new Date(at).toISOString().replace("Z", "+00:00");
}
