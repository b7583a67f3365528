// Which reactions are ratings. Discord sends the emoji itself ("👍"); Slack sends its short name
// ("+1", "thumbsup", "one"). Both are looked up in one map; anything else is not a rating.

export const DEFAULT_RATING_EMOJI: Readonly<Record<string, number>> = {
  "👍": 5,
  "👎": 1,
  "1️⃣": 1,
  "2️⃣": 2,
  "3️⃣": 3,
  "4️⃣": 4,
  "5️⃣": 5,
  // Slack short names
  "+1": 5,
  thumbsup: 5,
  "-1": 1,
  thumbsdown: 1,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
};

export type RatingMap = Readonly<Record<string, number>>;

/** The rating an emoji stands for, or undefined. Skin tones do not change a thumbs up. */
export function ratingFor(map: RatingMap, emoji: string): number | undefined {
  const bare = emoji
    .replace(/::skin-tone-\d$/, "") // Slack: "+1::skin-tone-3"
    .replace(/[\u{1F3FB}-\u{1F3FF}]/gu, ""); // Unicode skin tone modifiers
  const r = map[bare] ?? map[bare.replace(/\uFE0F/g, "")] ?? map[emoji];
  return r !== undefined && Number.isInteger(r) && r >= 1 && r <= 5 ? r : undefined;
}
