// Redacts personal data and credentials from text before it is logged or leaves the machine as
// training data. The bias is deliberate: a false positive costs a slightly odd training example,
// a false negative leaks someone's data into a model, so ambiguous shapes lean towards redaction,
// except where a look-alike (dates, versions, Discord ids...) is common enough in chat to matter.
//
// Two modes. "normal" (logs, anything shown back) lets look-alikes through when a checksum or a
// validity rule says they are not the real thing: a Luhn-failing card number, an IBAN whose mod-97
// fails, an SSN in a range never issued. "training" (every training export: src/core/fine-tune/
// dataset.ts) is conservative: the shape of a known kind is enough, because a fragment is still
// personal data. A reply that quoted a truncated IBAN ("DE89 3704 0044 0532 013") fails its checksum
// yet names a real bank and most of a real account; in a training file it becomes [IBAN].
import { isIPv6 } from "node:net";

export type FindingKind = "email" | "phone" | "card" | "ssn" | "iban" | "ip" | "secret" | "custom";
/** Offsets are UTF-16 indices into the original text. The matched text is never kept, so findings can be logged. */
export interface Finding {
  kind: FindingKind;
  start: number;
  end: number;
  label?: string;
}
export interface RedactionResult {
  text: string;
  findings: Finding[];
}
/** An operator-supplied regex (from JSON config); matches become `[REDACTED:<name>]`. */
export interface ExtraPattern {
  name: string;
  pattern: string;
  flags?: string;
}
/** "training": the conservative mode of every training export (see the module comment). */
export type RedactionMode = "normal" | "training";
export interface PrivacyFilter {
  redact(text: string, mode?: RedactionMode): RedactionResult;
  containsPersonalData(text: string, mode?: RedactionMode): boolean;
}

interface Detector {
  kind: FindingKind;
  label?: string;
  /** Must carry the `g` flag; scanning drives `lastIndex` by hand. */
  regex: RegExp;
  /**
   * Length of the match to keep (0 rejects). Regexes can only check shape; checksums and context
   * need code, and a greedy regex may swallow a trailing word that a validator has to cut off.
   */
  accept?: (value: string, text: string, start: number) => number;
  /**
   * Training mode, for kinds whose `accept` checks more than the shape (a checksum, a validity
   * rule): the shape alone decides. `regex` may be wider (a truncated value is shorter); without
   * `accept`, the whole match counts.
   */
  shape?: Pick<Detector, "accept"> & { regex?: RegExp };
}

const whole =
  (ok: (value: string, text: string, start: number) => boolean) =>
  (value: string, text: string, start: number): number =>
    ok(value, text, start) ? value.length : 0;

const digitCount = (s: string): number => s.replace(/\D/g, "").length;

/** Longest prefix, cut at a space or dash, that passes `ok`: "4242 4242 4242 4242 12/34" is a card plus an expiry. */
function longestValidPrefix(value: string, ok: (v: string) => boolean): number {
  for (let v = value; v.length > 0; ) {
    if (ok(v)) return v.length;
    const cut = v.search(/[ -][^ -]*$/);
    if (cut <= 0) return 0;
    v = v.slice(0, cut);
  }
  return 0;
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

function isCard(value: string): boolean {
  const digits = value.replace(/\D/g, "");
  const separators = new Set(value.replace(/\d/g, ""));
  if (digits.length < 13 || digits.length > 19 || separators.size > 1) return false;
  // Single-digit groups are lists of numbers, not a card someone typed.
  if (separators.size === 1 && value.split(/[ -]/).some((g) => g.length < 3)) return false;
  // Major networks (Mastercard 2/5, Amex/JCB/Diners 3, Visa 4, Discover/UnionPay/Maestro 6). Discord
  // snowflakes are bare 17-19 digit runs (19-digit ones start with 1), so a bare 17/18-digit run is
  // taken as an id: real 17/18-digit cards are rare and almost always written grouped.
  if (!/^[2-6]/.test(digits)) return false;
  if (separators.size === 0 && (digits.length === 17 || digits.length === 18)) return false;
  return luhn(digits);
}

/**
 * Card-shaped: 13-19 digits, written bare or in groups with one kind of separator. Groups of one or
 * two digits are a list of numbers, except the last one: a card copied short ("4242 4242 4242 42").
 */
function isCardShaped(value: string): boolean {
  const digits = value.replace(/\D/g, "");
  const separators = new Set(value.replace(/\d/g, ""));
  if (digits.length < 13 || digits.length > 19 || separators.size > 1) return false;
  return value
    .split(/[ -]/)
    .slice(0, -1)
    .every((g) => g.length >= 3);
}

function isSsn(value: string): boolean {
  const [area = "", group = "", serial = ""] = value.split("-");
  return area !== "000" && area !== "666" && !area.startsWith("9") && group !== "00" && serial !== "0000";
}

function isIban(value: string): boolean {
  const s = value.replace(/ /g, "");
  if (s.length < 15 || s.length > 34) return false;
  let rem = 0;
  for (const ch of s.slice(4) + s.slice(0, 4)) {
    const n = Number.parseInt(ch, 36);
    rem = (rem * (n < 10 ? 10 : 100) + n) % 97;
  }
  return rem === 1;
}

const OCTET = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
// A dotted quad is an IP whenever every octet is 0-255: "4.19.2.1" alone cannot be told apart from
// an address, and leaking an address is worse than hiding a version. Version context is the escape
// hatch: "v4.19.2.1" (the regex needs a non-word char before it), "version 4.19.2.1", "ver. 4.19.2.1",
// and "pkg@4.19.2.1" (no "@" allowed before it) survive.
const VERSION_BEFORE = /\bver(?:sion)?\.?\s*:?\s*$/i;
function isIPv4(value: string, text: string, start: number): boolean {
  return (
    value.split(".").every((o) => OCTET.test(o)) &&
    !VERSION_BEFORE.test(text.slice(Math.max(0, start - 12), start))
  );
}

// node:net does the real parsing; on top, at least one group must hold a decimal digit so that
// identifiers that happen to be hex ("Add::Bad", "cafe::babe") are not addresses. Times such as
// 12:30:45 never parse (three groups without "::").
const isIp6 = (value: string): boolean => isIPv6(value) && /\d/.test(value);

/** The first part of a Discord bot token is the bot's numeric user id in base64. */
function isDiscordToken(value: string): boolean {
  const id = Buffer.from(value.slice(0, value.indexOf(".")), "base64url").toString("latin1");
  return /^\d{17,20}$/.test(id);
}

// Random keys always mix letters and digits; requiring a digit keeps prose such as
// "sk-this-is-some-long-hyphenated-phrase" or "Bearer authentication-explained-here" intact.
const hasDigit = (value: string): boolean => /\d/.test(value);

const secret = (label: string, regex: RegExp, accept?: Detector["accept"]): Detector => ({
  kind: "secret",
  label,
  regex,
  ...(accept ? { accept } : {}),
});

// Order only breaks ties between candidates of equal length at the same offset.
const BUILT_INS: Detector[] = [
  secret(
    "private-key",
    /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)/g,
  ),
  secret("openai", /(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g, whole(hasDigit)),
  secret("stripe", /(?<![\w-])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}/g),
  secret("google", /(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])/g),
  secret("slack", /(?<![\w-])(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{10,}/g),
  secret("slack-webhook", /https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]{20,}/g),
  secret("discord-webhook", /https:\/\/(?:\w+\.)?discord(?:app)?\.com\/api\/webhooks\/\d+\/[\w-]+/g),
  {
    ...secret(
      "discord",
      /(?<![\w-])[MNO][A-Za-z0-9_-]{21,27}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}(?![\w-])/g,
      whole(isDiscordToken),
    ),
    shape: {},
  },
  secret("aws", /(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])/g),
  secret("github", /(?<![\w])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{30,})/g),
  secret("jwt", /(?<![\w-])eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g),
  // Only the token is replaced, so logs still show that an Authorization header was there.
  secret("bearer", /(?<=\bbearer\s+)[A-Za-z0-9._~+/-]{20,}=*/gi, whole(hasDigit)),
  {
    kind: "email",
    regex:
      /(?<![\w.%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![\w-])/g,
    // Retina asset names ("icon@2x.png") are everywhere in dev chat; image extensions are not TLDs.
    accept: whole((v) => !/\.(?:png|jpe?g|gif|svg|webp)$/i.test(v)),
  },
  {
    kind: "iban",
    // Uppercase only: lowercase "de12..." shapes are too common in identifiers, and mod-97 is the real test.
    regex: /(?<!\w)[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?!\w)/g,
    accept: (value) => longestValidPrefix(value, isIban),
    // Country, check digits and at least 8 more: a cut-off IBAN still names a bank and an account.
    // Trailing all-letter words ("... 013 IS MINE") are not part of it.
    shape: {
      regex: /(?<!\w)[A-Z]{2}\d{2}(?: ?[A-Z0-9]){8,30}(?!\w)/g,
      accept: (value) => value.replace(/(?: [A-Z]+)+$/, "").length,
    },
  },
  {
    kind: "card",
    // Not after "-", "/", "#", "@", ":", "&", "!", "$"...: those digits are parts of ids, URLs,
    // Discord mentions (<@id>, <#id>, <@&id>, <:emoji:id>) or prices.
    regex: /(?<![\w@#&!:./$€£¥+-])\d(?:[ -]?\d){12,18}(?!\w|[.,]\d)/g,
    accept: (value) => longestValidPrefix(value, isCard),
    // No Luhn, no network prefix, no exception for bare 17/18-digit ids.
    shape: { accept: (value) => longestValidPrefix(value, isCardShaped) },
  },
  { kind: "ssn", regex: /(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])/g, accept: whole(isSsn), shape: {} },
  {
    kind: "phone",
    // International numbers need the "+": bare digit runs are order numbers and ids far more often.
    regex: /(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){1,7}(?!\w)/g,
    accept: whole((v) => digitCount(v) >= 8 && digitCount(v) <= 15),
  },
  {
    kind: "phone",
    // North American: separators or parentheses required, and NANP area/exchange codes start with 2-9.
    regex: /(?<![\w+.-])(?:1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}(?!\w|[.-]\d)/g,
  },
  {
    kind: "phone",
    // Japanese domestic: trunk "0" and dashes; 10-11 digits keeps dates like 03-15-2024 (8) out.
    regex: /(?<![\w+.-])0\d{1,4}-\d{1,4}-\d{3,4}(?!\w|[.-]\d)/g,
    accept: whole((v) => digitCount(v) === 10 || digitCount(v) === 11),
  },
  { kind: "ip", regex: /(?<![\w.@])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)/g, accept: whole(isIPv4) },
  {
    kind: "ip",
    regex:
      /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\w:]|\.\d)/g,
    accept: whole(isIp6),
  },
];

const PLACEHOLDER: Record<Exclude<FindingKind, "custom">, string> = {
  email: "[EMAIL]",
  phone: "[PHONE]",
  card: "[CARD]",
  ssn: "[SSN]",
  iban: "[IBAN]",
  ip: "[IP]",
  secret: "[SECRET]",
};

function compileExtra({ name, pattern, flags = "" }: ExtraPattern): Detector {
  // Sticky would pin matches to lastIndex; we always scan the whole text.
  const cleanFlags = `${flags.replace(/[gy]/g, "")}g`;
  try {
    return { kind: "custom", label: name, regex: new RegExp(pattern, cleanFlags) };
  } catch (err) {
    // Fail at startup: a silently skipped pattern would mean data the operator meant to hide leaks.
    throw new Error(
      `privacy filter: extra pattern "${name}" is not a valid regex: ${(err as Error).message}`,
    );
  }
}

interface Candidate extends Finding {
  rank: number;
}

function scan(
  detector: Detector,
  rank: number,
  text: string,
  out: Candidate[],
  { regex, accept }: Pick<Detector, "regex" | "accept"> = detector,
): void {
  regex.lastIndex = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    const len = m[0].length === 0 ? 0 : accept ? accept(m[0], text, m.index) : m[0].length;
    if (len > 0) {
      out.push({
        kind: detector.kind,
        start: m.index,
        end: m.index + len,
        rank,
        ...(detector.label ? { label: detector.label } : {}),
      });
    }
    // After a rejected match, retry one char later rather than after it: "9999 4242 4242 4242 4242"
    // fails as a whole but contains a card.
    regex.lastIndex = m.index + Math.max(len, 1);
  }
}

/** Normal mode: longest wins, then earliest, then detector order; a span is replaced at most once. */
function longestFirst(candidates: Candidate[]): Candidate[] {
  const byLength = [...candidates].sort(
    (a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start || a.rank - b.rank,
  );
  const kept: Candidate[] = [];
  for (const c of byLength) {
    if (kept.every((k) => c.end <= k.start || c.start >= k.end)) kept.push(c);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/**
 * Training mode: every character any detector flagged goes. Overlapping findings become one span,
 * named after the longest of them: "9999 4242 4242 4242 4242" is card-shaped from its first digit
 * and holds a valid card from its fifth, so all of it is [CARD], not "[CARD] 4242".
 */
function union(candidates: Candidate[]): Candidate[] {
  const merged: Array<Candidate & { named: number }> = [];
  const byStart = [...candidates].sort((a, b) => a.start - b.start || b.end - a.end || a.rank - b.rank);
  for (const c of byStart) {
    const last = merged.at(-1);
    if (!last || c.start >= last.end) {
      merged.push({ ...c, named: c.end - c.start });
      continue;
    }
    if (c.end - c.start > last.named) {
      last.kind = c.kind;
      last.rank = c.rank;
      if (c.label) last.label = c.label;
      else delete last.label;
      last.named = c.end - c.start;
    }
    last.end = Math.max(last.end, c.end);
  }
  return merged.map(({ named: _named, ...c }) => c);
}

export function createPrivacyFilter(options: { extraPatterns?: ExtraPattern[] } = {}): PrivacyFilter {
  const detectors = [...BUILT_INS, ...(options.extraPatterns ?? []).map(compileExtra)];

  function redact(text: string, mode: RedactionMode = "normal"): RedactionResult {
    const candidates: Candidate[] = [];
    for (const [rank, d] of detectors.entries()) {
      scan(d, rank, text, candidates);
      if (mode === "training" && d.shape)
        scan(d, rank, text, candidates, { regex: d.shape.regex ?? d.regex, accept: d.shape.accept });
    }
    const kept = mode === "training" ? union(candidates) : longestFirst(candidates);

    let out = "";
    let cursor = 0;
    const findings: Finding[] = [];
    for (const { rank: _rank, ...finding } of kept) {
      const placeholder =
        finding.kind === "custom" ? `[REDACTED:${finding.label}]` : PLACEHOLDER[finding.kind];
      out += text.slice(cursor, finding.start) + placeholder;
      cursor = finding.end;
      findings.push(finding);
    }
    return { text: out + text.slice(cursor), findings };
  }

  return {
    redact,
    containsPersonalData: (text, mode) => redact(text, mode).findings.length > 0,
  };
}
