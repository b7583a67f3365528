// The Slack adapter's pure parts: Markdown -> mrkdwn (and the escaping that keeps model output
// from pinging anyone), incoming text cleanup, and `/assistant` parsing. Reply splitting is in
// split-message.test.ts, with Discord's.
import { describe, expect, it } from "vitest";
import { parseCommandText } from "../src/bots/shared/commands.ts";
import { parseSlackExternalId, slackExternalId } from "../src/bots/slack/identity.ts";
import { fromSlackText, toSlackMrkdwn } from "../src/bots/slack/mrkdwn.ts";

describe("toSlackMrkdwn", () => {
  it("escapes Slack's control characters so nothing can ping, mention or disguise a link", () => {
    expect(toSlackMrkdwn("hey <!channel> <!here|here> <@U123> <#C1> <https://x.io|safe>")).toBe(
      "hey &lt;!channel&gt; &lt;!here|here&gt; &lt;@U123&gt; &lt;#C1&gt; &lt;https://x.io|safe&gt;",
    );
    expect(toSlackMrkdwn("R&D: a < b && b > c")).toBe("R&amp;D: a &lt; b &amp;&amp; b &gt; c");
    expect(toSlackMrkdwn("```\nif (a < b) x = <!everyone>;\n```")).toBe(
      "```\nif (a &lt; b) x = &lt;!everyone&gt;;\n```",
    );
    expect(toSlackMrkdwn("`<!here>`")).toBe("`&lt;!here&gt;`");
  });

  it("keeps block quotes", () => {
    expect(toSlackMrkdwn("> quoted <b>\n>> not a quote start?")).toBe(
      "> quoted &lt;b&gt;\n>&gt; not a quote start?",
    );
  });

  it("rewrites Markdown emphasis, headings, bullets and links", () => {
    expect(toSlackMrkdwn("**bold** and *italic* and ~~gone~~ and __strong__")).toBe(
      "*bold* and _italic_ and ~gone~ and *strong*",
    );
    expect(toSlackMrkdwn("## A **heading**")).toBe("*A heading*");
    expect(toSlackMrkdwn("- one\n* two\n  + nested")).toBe("• one\n• two\n  • nested");
    expect(toSlackMrkdwn("see [the docs](https://example.com/a?b=1&c=2)")).toBe(
      "see <https://example.com/a?b=1&amp;c=2|the docs>",
    );
    expect(toSlackMrkdwn("2 * 3 * 4 = 24, a*b*c")).toBe("2 * 3 * 4 = 24, a*b*c");
  });

  it("leaves code alone (but drops the language tag Slack would print)", () => {
    expect(toSlackMrkdwn("```python\n**not bold** # not a heading\n- not a bullet\n```")).toBe(
      "```\n**not bold** # not a heading\n- not a bullet\n```",
    );
    expect(toSlackMrkdwn("use `**x**` here - ok")).toBe("use `**x**` here - ok");
  });
});

describe("fromSlackText", () => {
  it("drops the bot's mention and undoes Slack's escapes, keeping other mentions", () => {
    expect(fromSlackText("<@UBOT> is 1 &lt; 2 &amp;&amp; 3 &gt; 2? ask <@UBOB>", "UBOT")).toBe(
      "is 1 < 2 && 3 > 2? ask <@UBOB>",
    );
    expect(fromSlackText("hi <@UBOT|assistant>, hello", "UBOT")).toBe("hi , hello");
  });
});

describe("/assistant parsing", () => {
  it("maps subcommands, with arguments", () => {
    expect(parseCommandText("status")).toEqual({ name: "status", args: "" });
    expect(parseCommandText("  TRAIN ")).toEqual({ name: "train", args: "" });
    expect(parseCommandText("models")).toEqual({ name: "models", args: "" });
    expect(parseCommandText("rollback")).toEqual({ name: "rollback", args: "" });
    expect(parseCommandText("rollback base")).toEqual({ name: "rollback", args: "base" });
    expect(parseCommandText("limits")).toEqual({ name: "limits show", args: "" });
    expect(parseCommandText("limits show")).toEqual({ name: "limits show", args: "" });
    expect(parseCommandText("limits set monthly_usd 25")).toEqual({
      name: "limits set",
      args: "monthly_usd 25",
    });
  });

  it("gives nothing typed as help, and anything else unknown to the core as typed", () => {
    expect(parseCommandText("")).toEqual({ name: "help", args: "" });
    expect(parseCommandText("help")).toEqual({ name: "help", args: "" });
    expect(parseCommandText("limits frob")).toEqual({ name: "limits frob", args: "" });
    expect(parseCommandText("what")).toEqual({ name: "what", args: "" });
  });
});

describe("Slack identities", () => {
  it("round-trip, and nothing else parses as one", () => {
    expect(slackExternalId("T1", "U2")).toBe("slack:T1:U2");
    expect(parseSlackExternalId("slack:T1:U2")).toEqual({ teamId: "T1", userId: "U2" });
    expect(parseSlackExternalId("discord:123")).toBeUndefined();
    expect(parseSlackExternalId("slack:U2")).toBeUndefined();
  });
});
