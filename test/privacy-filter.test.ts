import { describe, expect, it } from "vitest";
import { createPrivacyFilter, type FindingKind } from "../src/core/privacy-filter.ts";

// All data is synthetic: example.com addresses, 555 / documentation phone numbers, public test card
// numbers, the textbook IBAN, documentation IP ranges. Secrets are assembled at runtime so that no
// token-shaped literal sits in the repository for secret scanners to trip over.
const alnum = (n: number, seed = "a1B2c3D4e5F6g7H8i9J0"): string =>
  seed.repeat(Math.ceil(n / seed.length)).slice(0, n);
const b64url = (s: string): string => Buffer.from(s, "latin1").toString("base64url");

const discordToken = `${b64url("123456789012345678")}.Gh7Kp2.${alnum(38)}`;
const secrets: Record<string, string> = {
  openai: `sk-${alnum(48)}`,
  openaiProject: `sk-proj-${alnum(40)}_${alnum(20)}-${alnum(12)}`,
  google: `AIza${alnum(35)}`,
  slackBot: `xoxb-${"1234567890"}-${"0987654321"}-${alnum(24)}`,
  slackUser: `xoxp-${"1234567890"}-${alnum(30)}`,
  slackApp: `xapp-1-A0123ABCD-${"1234567890"}-${alnum(40)}`,
  slackXoxa: `xoxa-2-${alnum(30)}`,
  slackXoxs: `xoxs-${alnum(30)}`,
  discord: discordToken,
  aws: `AKIA${"IOSFODNN7EXAMPL1".toUpperCase()}`,
  githubClassic: `ghp_${alnum(36)}`,
  githubOauth: `gho_${alnum(36)}`,
  githubFineGrained: `github_pat_${alnum(22)}_${alnum(59)}`,
  jwt: `eyJ${alnum(20)}.eyJ${alnum(30)}.${alnum(43)}`,
};
const pem = [
  `-----BEGIN ${"RSA PRIVATE"} KEY-----`,
  alnum(64),
  alnum(64),
  `-----END ${"RSA PRIVATE"} KEY-----`,
].join("\n");

const filter = createPrivacyFilter();

/** Each value is embedded in a sentence; it must be found exactly once, at its own offsets. */
const positives: Array<[FindingKind, string]> = [
  ["email", "jane.doe@example.com"],
  ["email", "jane.doe+newsletter@example.com"],
  ["email", "ops-team@mail.eu.example.com"],
  ["email", "first_last99@example.co.uk"],
  ["phone", "+44 20 7946 0958"],
  ["phone", "+81 3-1234-5678"],
  ["phone", "+1 (415) 555-2671"],
  ["phone", "+14155552671"],
  ["phone", "+1-415-555-2671"],
  ["phone", "(415) 555-2671"],
  ["phone", "415-555-2671"],
  ["phone", "415.555.2671"],
  ["phone", "415 555 2671"],
  ["phone", "1-800-555-0199"],
  ["phone", "03-1234-5678"],
  ["phone", "090-1234-5678"],
  ["phone", "0120-123-456"],
  ["card", "4242 4242 4242 4242"],
  ["card", "4242424242424242"],
  ["card", "4242-4242-4242-4242"],
  ["card", "5555 5555 5555 4444"],
  ["card", "378282246310005"],
  ["card", "3782 822463 10005"],
  ["card", "6011 1111 1111 1117"],
  ["card", "4222222222222"],
  ["card", "2223 0031 2200 3222"],
  ["ssn", "123-45-6789"],
  ["ssn", "078-05-1120"],
  ["iban", "GB82 WEST 1234 5698 7654 32"],
  ["iban", "GB82WEST12345698765432"],
  ["iban", "DE89 3704 0044 0532 0130 00"],
  ["iban", "FR1420041010050500013M02606"],
  ["ip", "192.0.2.146"],
  ["ip", "10.0.0.1"],
  ["ip", "255.255.255.255"],
  ["ip", "4.19.2.1"], // bare dotted quad with valid octets: treated as an IP (see module comment)
  ["ip", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"],
  ["ip", "2001:db8::ff00:42:8329"],
  ["ip", "fe80::1"],
  ["ip", "::1"],
  ["ip", "::ffff:192.0.2.1"],
  ...Object.values(secrets).map((s): [FindingKind, string] => ["secret", s]),
  ["secret", pem],
];

/** Things that look like personal data but are not; they must come through byte-for-byte. */
const negatives: string[] = [
  "Meeting on 2024-03-15 at noon",
  "Due 15/03/2024",
  "Due 03-15-2024",
  "Dated 01.02.2024",
  "Starts 12:30",
  "Finished at 12:30:45 sharp",
  "Total $1,234.56",
  "Total ¥12,000",
  "Total 1 234,56 €",
  "Order ORD-2024-000123 shipped",
  "Ticket #123456789",
  "Invoice 4242424242424241 is overdue", // fails Luhn
  "Tracking 1234 5678 9012 3456",
  "Tracking 4242 4242 4242 4241", // fails Luhn
  "Assets icon@2x.png and logo@3x.webp",
  "Tracking 9400 1000 0000 0000 0000 00",
  "Upgrade to 1.2.3",
  "Node v10.4.12",
  "Release 2.0.0-rc.1",
  "Running v4.19.2.1 now",
  "running version 4.19.2.1",
  "installed express@4.19.2.1",
  "Pi is 3.14159",
  "Up 12.5% this week, 99.9 % uptime",
  "ISBN 978-0-306-40615-7",
  "ISBN 0-306-40615-2",
  "ISBN 9780306406157",
  "id 123e4567-e89b-12d3-a456-426614174000",
  "id 12345678-1234-1234-1234-123456789012",
  "commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
  "commit 9fceb02",
  "hey @channel and @here",
  "ping <@123456789012345678> and <@!123456789012345678>",
  "see <#123456789012345678>, role <@&123456789012345678>, <:blob:123456789012345678>",
  "user id 123456789012345678",
  "user id 1234567890123456789",
  "https://discord.com/channels/123456789012345678/876543210987654321/111122223333444455",
  "Slack user U0123ABCD in C0123ABCD, <@U0123ABCD>",
  "std::vector and Foo::Bar, Add::Bad",
  "MAC 00:1A:2B:3C:4D:5E",
  "sk-learn is a library",
  "use a Bearer token in the header",
  "area 000-12-3456, 666-12-3456, 900-12-3456, 123-00-4567, 123-45-0000",
  "numbers 1 2 3 4 5 6 7 8 9 1 2 3 4 5",
  "icon size 1x, phone field empty, call me maybe",
  "the word GB82 alone, and DE89 3704 0044 0532 0130 01 (bad checksum)",
  `not a discord token ${b64url("1a2b3c4d5e6f7g8h9i")}.Gh7Kp2.${alnum(38)}`,
];

describe("privacy filter: positives", () => {
  it.each(positives)("detects %s: %s", (kind, value) => {
    const text = `before ${value} after.`;
    const result = filter.redact(text);
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]).toMatchObject({ kind, start: 7, end: 7 + value.length });
    expect(result.text).not.toContain(value);
    expect(result.text.startsWith("before [")).toBe(true);
    expect(result.text.endsWith("] after.")).toBe(true);
    expect(filter.containsPersonalData(text)).toBe(true);
  });

  it("detects emails inside angle brackets", () => {
    const text = 'From: "Jane" <jane.doe+test@mail.example.com>';
    expect(filter.redact(text).text).toBe('From: "Jane" <[EMAIL]>');
  });

  it("redacts only the token after Bearer", () => {
    const token = alnum(40);
    const result = filter.redact(`Authorization: Bearer ${token}`);
    expect(result.text).toBe("Authorization: Bearer [SECRET]");
    expect(result.findings[0]).toMatchObject({ kind: "secret", label: "bearer" });
  });

  it("redacts an unterminated private key block to the end", () => {
    const text = `key:\n-----BEGIN ${"PRIVATE"} KEY-----\n${alnum(64)}\n(truncated)`;
    expect(filter.redact(text).text).toBe("key:\n[SECRET]");
  });

  it("separates a card from a trailing expiry and finds a card after an unrelated number", () => {
    expect(filter.redact("card 4242 4242 4242 4242 12/34").text).toBe("card [CARD] 12/34");
    expect(filter.redact("ref 9999 4242 4242 4242 4242").text).toBe("ref 9999 [CARD]");
  });

  it("trims an IBAN that ran into an uppercase word", () => {
    expect(filter.redact("GB82WEST12345698765432 IS MINE").text).toBe("[IBAN] IS MINE");
  });
});

describe("privacy filter: look-alikes survive", () => {
  it.each(negatives)("keeps %s", (text) => {
    const result = filter.redact(text);
    expect(result.findings).toEqual([]);
    expect(result.text).toBe(text);
    expect(filter.containsPersonalData(text)).toBe(false);
  });
});

describe("privacy filter: training mode (every training export)", () => {
  // Shapes of a known kind that fail its checksum or validity rule: kept in normal mode (they are in
  // `negatives` above, or are fragments), redacted in training files.
  const fragments: Array<[string, string, string]> = [
    ["a cut-off IBAN", "Send it to DE89 3704 0044 0532 013 please", "Send it to [IBAN] please"],
    ["an IBAN failing mod-97", "and DE89 3704 0044 0532 0130 01 (bad checksum)", "and [IBAN] (bad checksum)"],
    ["a cut-off IBAN before an uppercase word", "DE89370400440532013 IS MINE", "[IBAN] IS MINE"],
    ["a Luhn-failing card", "Invoice 4242424242424241 is overdue", "Invoice [CARD] is overdue"],
    ["a Luhn-failing grouped card", "Tracking 4242 4242 4242 4241", "Tracking [CARD]"],
    ["a card copied short", "card 4242 4242 4242 42 expired", "card [CARD] expired"],
    ["a 13-digit run outside card networks", "number 9780306406157 here", "number [CARD] here"],
    ["a bare 18-digit run", "user id 123456789012345678", "user id [CARD]"],
    ["SSNs in ranges never issued", "area 000-12-3456, 666-12-3456, 900-12-3456", "area [SSN], [SSN], [SSN]"],
    [
      "a Discord-token shape whose id part is not an id",
      `not a discord token ${b64url("1a2b3c4d5e6f7g8h9i")}.Gh7Kp2.${alnum(38)}`,
      "not a discord token [SECRET]",
    ],
  ];

  it.each(fragments)("redacts %s, which normal mode keeps", (_what, text, redacted) => {
    expect(filter.redact(text).text).toBe(text);
    const result = filter.redact(text, "training");
    expect(result.text).toBe(redacted);
    expect(result.findings.length).toBeGreaterThan(0);
    expect(filter.containsPersonalData(text, "training")).toBe(true);
  });

  it("redacts all of a span that overlapping detectors flag, not only the longest match", () => {
    // Card-shaped from the first digit, a valid card from the fifth: nothing of it is left.
    expect(filter.redact("ref 9999 4242 4242 4242 4242", "training").text).toBe("ref [CARD]");
    expect(filter.redact("ref 9999 4242 4242 4242 4242").text).toBe("ref 9999 [CARD]");
  });

  it.each(positives)("still detects %s: %s", (_kind, value) => {
    const result = filter.redact(`before ${value} after.`, "training");
    expect(result.text).not.toContain(value);
    expect(result.findings.length).toBeGreaterThan(0);
  });

  it.each([
    "Meeting on 2024-03-15 at noon",
    "Due 03-15-2024",
    "Total $1,234.56",
    "Order ORD-2024-000123 shipped",
    "Ticket #123456789",
    "ISBN 978-0-306-40615-7",
    "id 123e4567-e89b-12d3-a456-426614174000",
    "commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
    "ping <@123456789012345678> and <@!123456789012345678>",
    "https://discord.com/channels/123456789012345678/876543210987654321/111122223333444455",
    "Running v4.19.2.1 now",
    "numbers 1 2 3 4 5 6 7 8 9 1 2 3 4 5",
    "the word GB82 alone",
    "models RTX4090 and GTX1080",
  ])("keeps %s, which has no personal-data shape", (text) => {
    expect(filter.redact(text, "training")).toEqual({ text, findings: [] });
  });
});

describe("privacy filter: mixed text and offsets", () => {
  it("redacts several kinds in one message with offsets into the original", () => {
    const text =
      "Hi, I'm at jane@example.com or +1 (415) 555-2671; card 4242 4242 4242 4242, " +
      "server 192.0.2.10, IBAN GB82 WEST 1234 5698 7654 32, on 2024-03-15 at 12:30, v1.2.3.";
    const result = filter.redact(text);
    expect(result.text).toBe(
      "Hi, I'm at [EMAIL] or [PHONE]; card [CARD], server [IP], IBAN [IBAN], on 2024-03-15 at 12:30, v1.2.3.",
    );
    expect(result.findings.map((f) => f.kind)).toEqual(["email", "phone", "card", "ip", "iban"]);
    const originals = result.findings.map((f) => text.slice(f.start, f.end));
    expect(originals).toEqual([
      "jane@example.com",
      "+1 (415) 555-2671",
      "4242 4242 4242 4242",
      "192.0.2.10",
      "GB82 WEST 1234 5698 7654 32",
    ]);
    // Offsets are sorted and disjoint.
    for (let i = 1; i < result.findings.length; i++) {
      expect(result.findings[i]!.start).toBeGreaterThanOrEqual(result.findings[i - 1]!.end);
    }
  });

  it("keeps the longest overlapping match and never double-replaces", () => {
    // A JWT after "Bearer" matches two secret detectors on the same span: replaced once.
    const result = filter.redact(`Bearer ${secrets.jwt}`);
    expect(result.text).toBe("Bearer [SECRET]");
    expect(result.findings).toHaveLength(1);

    const email = "4242424242424242@example.com";
    expect(filter.redact(`mail ${email}`)).toEqual({
      text: "mail [EMAIL]",
      findings: [{ kind: "email", start: 5, end: 5 + email.length }],
    });
  });

  it("handles empty and placeholder-only text", () => {
    expect(filter.redact("")).toEqual({ text: "", findings: [] });
    const once = filter.redact("mail jane@example.com now").text;
    expect(filter.redact(once)).toEqual({ text: once, findings: [] });
  });

  it("gives the same answer on repeated calls (regex state does not leak)", () => {
    const text = "a 10.0.0.1 b 10.0.0.2";
    expect(filter.redact(text)).toEqual(filter.redact(text));
    expect(filter.redact(text).findings).toHaveLength(2);
  });
});

describe("privacy filter: findings never carry the secret", () => {
  it.each(Object.entries(secrets))("%s", (_name, value) => {
    const result = filter.redact(`token=${value}\n`);
    expect(result.text).toBe("token=[SECRET]\n");
    const serialized = JSON.stringify(result.findings);
    expect(serialized).not.toContain(value);
    expect(serialized).not.toContain(value.slice(4, 20));
    expect(Object.keys(result.findings[0]!).sort()).toEqual(["end", "kind", "label", "start"]);
  });
});

describe("privacy filter: extra patterns", () => {
  const custom = createPrivacyFilter({
    extraPatterns: [
      { name: "employee-id", pattern: "\\bEMP-\\d{6}\\b" },
      { name: "codename", pattern: "project\\s+falcon", flags: "i" },
      { name: "sticky", pattern: "zz\\d", flags: "gy" },
      { name: "empty", pattern: "x*" },
    ],
  });

  it("redacts custom matches with their name", () => {
    const text = "EMP-123456 works on Project Falcon with jane@example.com; zz1 zz2";
    const result = custom.redact(text);
    expect(result.text).toBe(
      "[REDACTED:employee-id] works on [REDACTED:codename] with [EMAIL]; [REDACTED:sticky] [REDACTED:sticky]",
    );
    expect(result.findings[0]).toEqual({ kind: "custom", label: "employee-id", start: 0, end: 10 });
    expect(custom.containsPersonalData("emp-123456")).toBe(false);
  });

  it("ignores zero-length matches", () => {
    expect(custom.redact("nothing here")).toEqual({ text: "nothing here", findings: [] });
  });

  it("lets a longer built-in match win over a shorter custom one", () => {
    const f = createPrivacyFilter({ extraPatterns: [{ name: "dom", pattern: "example\\.com" }] });
    expect(f.redact("jane@example.com and example.com").text).toBe("[EMAIL] and [REDACTED:dom]");
  });

  it("rejects an invalid pattern at construction", () => {
    expect(() => createPrivacyFilter({ extraPatterns: [{ name: "broken", pattern: "(" }] })).toThrow(
      /extra pattern "broken"/,
    );
  });

  it("does not share state with other filters", () => {
    expect(filter.containsPersonalData("EMP-123456")).toBe(false);
  });
});
