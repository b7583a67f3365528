// Posting a long answer on any platform: its parts in order, stopping at the first the platform
// refuses, so a half-posted answer still returns (and records) the parts people can see and rate.

/**
 * Posts each part with `post` (which returns the platform id of what it posted) and returns the
 * ids in order. At the first part that throws, `failed` is told which part and why, and the rest
 * are not posted (they would read out of order).
 */
export async function postParts(
  parts: readonly string[],
  post: (part: string, index: number) => Promise<string | undefined>,
  failed: (error: unknown, part: { index: number; of: number }) => void,
): Promise<string[]> {
  const ids: string[] = [];
  for (const [index, part] of parts.entries()) {
    try {
      const id = await post(part, index);
      if (id !== undefined) ids.push(id);
    } catch (error) {
      failed(error, { index, of: parts.length });
      break;
    }
  }
  return ids;
}
