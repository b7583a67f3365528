// The one place that reads the environment. Every setting is declared once in `settings` below:
// its zod schema, a description and what to set. The README's configuration table is generated
// from the same list (npm run config:docs), and a test fails when the two drift apart.

import { existsSync, readFileSync } from "node:fs";
import { parse as parseDotenv } from "dotenv";
import { z } from "zod";
import type { Platform } from "./core/ports.ts";

type Env = Record<string, string | undefined>;

/** How a setting is documented; `hint` is what the error line tells a person to set. */
interface SettingDoc {
  group: string;
  description: string;
  hint: string;
  secret?: boolean;
}

const text = z.string().trim().min(1);
const optionalText = text.optional();
const url = z.url({ protocol: /^(https?|wss?)$/ });
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const money = z.coerce.number().min(0);
const seconds = (max: number) => z.coerce.number().positive().max(max);
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");
// A cron expression of 5 or 6 fields; node-cron validates the fields themselves at start.
const cron = z
  .string()
  .trim()
  .regex(/^(\S+\s+){4,5}\S+$/, "expected a cron expression such as '0 * * * *'");
const list = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z
        .string()
        .regex(
          /^(discord:\d+|slack:[A-Z0-9]+:[A-Z0-9]+)$/,
          "expected discord:<userId> or slack:<teamId>:<userId>",
        ),
    ),
  );
const jsonRecord = z.string().transform((v, ctx) => {
  try {
    return JSON.parse(v) as unknown;
  } catch {
    ctx.addIssue({ code: "custom", message: "expected JSON" });
    return z.NEVER;
  }
});

function setting<T extends z.ZodType>(schema: T, doc: SettingDoc) {
  return { schema, doc };
}

/** Every environment variable the bot reads, in the order the README lists them. */
export const settings = {
  // Discord
  DISCORD_TOKEN: setting(optionalText, {
    group: "Discord",
    description: "Bot token. Setting it enables the Discord adapter.",
    hint: "the bot token from the Discord developer portal (Bot > Reset Token)",
    secret: true,
  }),
  DISCORD_APPLICATION_ID: setting(z.string().regex(/^\d+$/, "expected a numeric id").optional(), {
    group: "Discord",
    description: "Application id (used to register the /assistant command).",
    hint: "the Application ID from the Discord developer portal (General Information)",
  }),
  DISCORD_DEV_GUILD_ID: setting(z.string().regex(/^\d+$/, "expected a numeric id").optional(), {
    group: "Discord",
    description: "Register commands in this guild only (instant, for development) instead of globally.",
    hint: "a server id (Developer Mode > right-click the server > Copy Server ID)",
  }),
  DISCORD_API_URL: setting(url.default("https://discord.com/api"), {
    group: "Discord",
    description: "Discord REST base URL (for proxies and tests).",
    hint: "a URL such as https://discord.com/api",
  }),
  // Slack
  SLACK_BOT_TOKEN: setting(
    z.string().startsWith("xoxb-", "expected a bot token starting with xoxb-").optional(),
    {
      group: "Slack",
      description: "Bot token. Setting it enables the Slack adapter.",
      hint: "the Bot User OAuth Token (xoxb-...) from your Slack app's OAuth & Permissions page",
      secret: true,
    },
  ),
  SLACK_SIGNING_SECRET: setting(optionalText, {
    group: "Slack",
    description: "Signing secret, to verify requests over HTTP.",
    hint: "the Signing Secret from your Slack app's Basic Information page",
    secret: true,
  }),
  SLACK_APP_TOKEN: setting(
    z.string().startsWith("xapp-", "expected an app-level token starting with xapp-").optional(),
    {
      group: "Slack",
      description: "App-level token; when set the bot uses Socket Mode instead of HTTP.",
      hint: "an App-Level Token with connections:write (xapp-...) from Basic Information",
      secret: true,
    },
  ),
  SLACK_PORT: setting(int(0, 65535).default(3000), {
    group: "Slack",
    description: "Port of the HTTP receiver (POST /slack/events) when not in Socket Mode.",
    hint: "a port number such as 3000",
  }),
  SLACK_API_URL: setting(url.default("https://slack.com/api/"), {
    group: "Slack",
    description: "Slack Web API base URL (for proxies and tests).",
    hint: "a URL such as https://slack.com/api/",
  }),
  // Language model
  LLM_PROVIDER: setting(z.enum(["openai", "gemini"]).default("openai"), {
    group: "Language model",
    description: "Who answers: `openai` (or any OpenAI-compatible server) or `gemini`.",
    hint: "openai or gemini",
  }),
  OPENAI_API_KEY: setting(optionalText, {
    group: "Language model",
    description: "OpenAI key (any non-empty value for local OpenAI-compatible servers).",
    hint: "an API key from platform.openai.com (or any value for a local server)",
    secret: true,
  }),
  OPENAI_BASE_URL: setting(url.default("https://api.openai.com/v1"), {
    group: "Language model",
    description: "OpenAI API base URL; point it at Ollama, vLLM or llama.cpp to use them.",
    hint: "a URL such as http://localhost:11434/v1",
  }),
  GEMINI_API_KEY: setting(optionalText, {
    group: "Language model",
    description: "Gemini Developer API key (not needed with Vertex AI).",
    hint: "an API key from Google AI Studio",
    secret: true,
  }),
  GEMINI_BASE_URL: setting(url.optional(), {
    group: "Language model",
    description: "Gemini / Vertex AI API base URL (for proxies and tests); the SDK's default when unset.",
    hint: "a URL such as https://generativelanguage.googleapis.com",
  }),
  GEMINI_USE_VERTEX: setting(bool.default(false), {
    group: "Language model",
    description: "Use Gemini through Vertex AI (needed for Gemini tuning).",
    hint: "true or false",
  }),
  GOOGLE_CLOUD_PROJECT: setting(optionalText, {
    group: "Language model",
    description: "Google Cloud project for Vertex AI.",
    hint: "your Google Cloud project id",
  }),
  GOOGLE_CLOUD_LOCATION: setting(text.default("us-central1"), {
    group: "Language model",
    description: "Vertex AI region.",
    hint: "a region such as us-central1",
  }),
  CHAT_MODEL: setting(optionalText, {
    group: "Language model",
    description: "Base chat model. Default: gpt-4.1-mini (openai) or gemini-2.5-flash (gemini).",
    hint: "a model name such as gpt-4.1-mini",
  }),
  EMBEDDING_MODEL: setting(optionalText, {
    group: "Language model",
    description:
      "Embedding model. Default: text-embedding-3-small (openai) or gemini-embedding-001 (gemini).",
    hint: "a model name such as text-embedding-3-small",
  }),
  EMBEDDING_DIMENSIONS: setting(int(16, 2000).default(1536), {
    group: "Language model",
    description: "Embedding width requested from the provider (pgvector indexes stop at 2000).",
    hint: "a whole number from 16 to 2000",
  }),
  CHAT_PRICE_INPUT_PER_1M: setting(money.default(0.4), {
    group: "Language model",
    description: "Chat price in USD per 1M input tokens (for spend tracking).",
    hint: "a number such as 0.4",
  }),
  CHAT_PRICE_OUTPUT_PER_1M: setting(money.default(1.6), {
    group: "Language model",
    description: "Chat price in USD per 1M output tokens.",
    hint: "a number such as 1.6",
  }),
  SYSTEM_PROMPT: setting(
    text.default(
      "You are a helpful assistant in a team chat. Answer concisely and adapt to the person you are talking to.",
    ),
    {
      group: "Language model",
      description: "System prompt for every reply (and every training example).",
      hint: "a sentence describing the assistant",
    },
  ),
  REPLY_ATTEMPT_TIMEOUT_SECONDS: setting(seconds(600).default(30), {
    group: "Language model",
    description:
      "Longest wait for one request to the model; a request still unanswered then is abandoned and retried.",
    hint: "a number of seconds such as 30",
  }),
  REPLY_TIMEOUT_SECONDS: setting(seconds(900).default(60), {
    group: "Language model",
    description:
      "Longest a person waits for a reply, retries included; then the bot says the model timed out.",
    hint: "a number of seconds such as 60",
  }),
  REPLY_STILL_WORKING_SECONDS: setting(seconds(900).default(15), {
    group: "Language model",
    description: 'A reply taking longer than this gets a short "Still working on it…" note on the platform.',
    hint: "a number of seconds such as 15",
  }),
  STREAM_REPLIES: setting(bool.default(true), {
    group: "Language model",
    description:
      "Show answers while the model writes them: Discord edits the reply about once a second, Slack streams it (chat.startStream) in threads and edits the reply elsewhere. `false`: the finished answer is posted at once.",
    hint: "true or false",
  }),
  REPLY_CONCURRENCY: setting(int(1, 1_000).default(16), {
    group: "Language model",
    description:
      "How many replies are written at the same time; more mentions wait in the reply queue. Each waits on the model most of its time, so this can be well above the CPU count.",
    hint: "a whole number such as 16",
  }),
  REPLY_QUEUE_LIMIT: setting(int(0, 100_000).default(200), {
    group: "Language model",
    description:
      'How many mentions may wait for a free reply slot. A mention arriving when the queue is full is answered at once with "I\'m busy right now, try again in a minute" and not stored.',
    hint: "a whole number such as 200 (0: no waiting)",
  }),
  THREAD_CONTEXT_TOKENS: setting(int(0, 100_000).default(2000), {
    group: "Language model",
    description:
      "In a thread (Slack; Discord threads and reply chains), the latest visible messages of it, up to this many tokens, are fetched from the platform and shown to the model for that reply (never stored). 0 turns it off.",
    hint: "a whole number of tokens such as 2000 (0: off)",
  }),
  MEMORY_INDEX_MB: setting(int(0, 65536).default(512), {
    group: "Language model",
    description:
      "Memory for the in-process search index of active users' embeddings (least recently used users leave first; 0 switches it off and every search runs in the database).",
    hint: "a whole number of megabytes such as 512",
  }),
  MEMORY_SCOPE: setting(z.enum(["user", "user-server"]).default("user"), {
    group: "Language model",
    description:
      "Whose past exchanges a reply may use: `user` (a person's memory follows them across servers and DMs) or `user-server` (only exchanges from the same server; DMs form their own scope). Fine-tuning stays per person either way.",
    hint: "user or user-server",
  }),
  SERVER_CHAT_MODELS: setting(
    z
      .string()
      .transform((v) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[\w.:/@-]{1,200}$/, "expected model names such as gpt-4.1-mini")))
      .optional(),
    {
      group: "Language model",
      description:
        "Comma-separated chat models operators may pick per server or channel with `/assistant config model`. Default: CHAT_MODEL plus the provider's current models (openai: gpt-4.1, gpt-4.1-mini, gpt-4.1-nano, gpt-4o, gpt-4o-mini; gemini: gemini-2.5-pro, gemini-2.5-flash, gemini-2.5-flash-lite).",
      hint: "a list such as gpt-4.1-mini,gpt-4.1",
    },
  ),
  RATING_EMOJI: setting(jsonRecord.pipe(z.record(z.string(), z.number().int().min(1).max(5))).optional(), {
    group: "Language model",
    description:
      'Emoji-to-rating map as JSON, replacing the default (👍 5, 👎 1, 1️⃣-5️⃣). E.g. {"👍":5,"+1":5}.',
    hint: 'a JSON object such as {"👍":5,"👎":1}',
  }),
  // Fine-tuning
  ATTACHMENT_MAX_BYTES: setting(int(0, 10_000_000).default(100_000), {
    group: "Attachments",
    description:
      "Largest text file (text/*, .md, .txt, .csv, .json, .log, code…) read into a message; bigger ones are skipped with a note. Read files are stored with the message, as the person's own words.",
    hint: "a number of bytes such as 100000",
  }),
  ATTACHMENT_MAX_TOKENS: setting(int(0, 1_000_000).default(50_000), {
    group: "Attachments",
    description:
      "Tokens the text files of one message may bring together (100 kB of a dense log is about 35,000); a file that would go over is skipped with a note.",
    hint: "a whole number of tokens such as 50000",
  }),
  IMAGE_MAX_BYTES: setting(int(0, 20_000_000).default(5_000_000), {
    group: "Attachments",
    description: "Largest image sent to the model; bigger ones are skipped with a note.",
    hint: "a number of bytes such as 5000000",
  }),
  VISION_MODELS: setting(
    z
      .string()
      .transform((v) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "" && s.toLowerCase() !== "none"),
      )
      .default(["gpt-4o", "gpt-4.1", "gpt-5", "o3", "o4", "gemini-"]),
    {
      group: "Attachments",
      description:
        "Model name prefixes that can see images (a fine-tune counts by its base: `ft:gpt-4.1-mini:…` matches `gpt-4.1`). Images sent with a message for any other model get the answer that it cannot see them. `none`: images are never sent.",
      hint: "comma-separated prefixes such as gpt-4o,gpt-4.1,gemini- (or none)",
    },
  ),
  FINETUNE_PROVIDER: setting(
    z.enum(["together", "self-hosted", "openai", "vertex", "none"]).default("none"),
    {
      group: "Fine-tuning",
      description:
        "Where per-user models are trained: `together` (LoRA on open weights), `self-hosted` (LoRA on your own GPU by the trainer/ worker; needs LORA_SERVER_URL), `openai` (closing: no new jobs for anyone from 2027-01-06), `vertex` (Gemini), or `none` (level 3 off).",
      hint: "together, self-hosted, openai, vertex or none",
    },
  ),
  FINETUNE_BASE_MODEL: setting(optionalText, {
    group: "Fine-tuning",
    description:
      "Model to tune. Default: Qwen/Qwen3-8B (together), Qwen/Qwen2.5-1.5B-Instruct (self-hosted: the name vLLM serves), gpt-4.1-mini-2025-04-14 (openai) or gemini-2.5-flash (vertex).",
    hint: "a tunable model such as Qwen/Qwen3-8B",
  }),
  FINETUNE_PLATFORMS: setting(
    z
      .string()
      .transform((v) =>
        v
          .split(",")
          .map((s) => s.trim().toLowerCase())
          .filter(Boolean),
      )
      .pipe(z.array(z.enum(["discord", "slack"])))
      .default([]),
    {
      group: "Fine-tuning",
      description:
        "Platforms whose messages you have the right to train on (see Platform terms): `slack`, `discord`, or both. People on other platforms keep memory and few-shot but get no training.",
      hint: "a list such as slack,discord (Discord needs its express permission)",
    },
  ),
  TOGETHER_API_KEY: setting(optionalText, {
    group: "Fine-tuning",
    description: "Together AI key (FINETUNE_PROVIDER=together).",
    hint: "an API key from api.together.ai (Settings > API Keys)",
    secret: true,
  }),
  TOGETHER_BASE_URL: setting(url.default("https://api.together.ai/v1"), {
    group: "Fine-tuning",
    description:
      "Together API base URL: fine-tuning and chat; its `/v2` sibling manages dedicated deployments.",
    hint: "a URL such as https://api.together.ai/v1",
  }),
  TOGETHER_ADAPTER_DEPLOYMENT: setting(
    z
      .string()
      .trim()
      .regex(/^[^/\s]+\/[^/\s]+\/[^/\s]+$/, "expected <projectId>/<endpointId>/<deploymentId>")
      .optional(),
    {
      group: "Fine-tuning",
      description:
        "A LoRA-enabled Together dedicated deployment (`<projectId>/<endpointId>/<deploymentId>`) each person's adapter is attached to when activated. Unset: adapters are served by LORA_SERVER_URL, or by Together's model name.",
      hint: "ids such as proj_abc/endpoint-123/dep-456",
    },
  ),
  FINETUNE_LORA_RANK: setting(int(1, 512).default(16), {
    group: "Fine-tuning",
    description: "LoRA rank (`lora_r`); keep it at or below vLLM's --max-lora-rank.",
    hint: "a whole number such as 16",
  }),
  FINETUNE_LORA_ALPHA: setting(int(1, 1024).optional(), {
    group: "Fine-tuning",
    description: "LoRA alpha (`lora_alpha`). Default: twice the rank.",
    hint: "a whole number such as 32",
  }),
  LORA_SERVER_URL: setting(url.optional(), {
    group: "Fine-tuning",
    description:
      "Self-hosted vLLM (`--enable-lora`, VLLM_ALLOW_RUNTIME_LORA_UPDATING=True) that serves the base model and each person's adapter, OpenAI-compatible base URL.",
    hint: "a URL such as http://vllm:8000/v1",
  }),
  LORA_SERVER_API_KEY: setting(optionalText, {
    group: "Fine-tuning",
    description: "vLLM's --api-key, if it was started with one.",
    hint: "the value given to vllm serve --api-key",
    secret: true,
  }),
  LORA_ADAPTER_DIR: setting(text.default("/adapters"), {
    group: "Fine-tuning",
    description:
      "Directory on the vLLM host holding adapters as `<dir>/<adapter name>/` (adapter_config.json + adapter_model.safetensors); `lora_path` is built from it.",
    hint: "a directory path such as /adapters",
  }),
  TRAINER_TOKENS_PER_SECOND: setting(z.coerce.number().positive().default(1000), {
    group: "Fine-tuning",
    description:
      "FINETUNE_PROVIDER=self-hosted: training tokens per second your trainer reaches on your GPU (measure it: a finished job's tokens over its run time). The offer's time and cost estimate come from it.",
    hint: "a number such as 1000",
  }),
  TRAINER_CLAIM_TIMEOUT_HOURS: setting(int(1).default(24), {
    group: "Fine-tuning",
    description:
      "FINETUNE_PROVIDER=self-hosted: a job no trainer worker has taken for this many hours fails, its reservation is released and its owner is told (nothing waits forever for a trainer that is not running).",
    hint: "a whole number of hours such as 24",
  }),
  TRAINER_GPU_USD_PER_HOUR: setting(money.default(0), {
    group: "Fine-tuning",
    description:
      "FINETUNE_PROVIDER=self-hosted: what an hour of your training GPU costs you, in USD (0: not counted against the limits). Estimates and the ledger price GPU time at this rate.",
    hint: "a number such as 0.8",
  }),
  FINETUNE_THRESHOLD: setting(int(1).default(100), {
    group: "Fine-tuning",
    description: "Ready examples (highly rated, not yet trained on) before a fine-tune is proposed.",
    hint: "a whole number such as 100",
  }),
  FINETUNE_MIN_RATING: setting(int(1, 5).default(4), {
    group: "Fine-tuning",
    description: "Lowest rating that counts as a training example.",
    hint: "a whole number from 1 to 5",
  }),
  FINETUNE_EPOCHS: setting(z.union([z.literal("auto"), int(1, 25)]).default("auto"), {
    group: "Fine-tuning",
    description:
      "Training epochs, or `auto` to let the provider choose (the estimate resolves it the same way).",
    hint: "auto or a whole number from 1 to 25",
  }),
  FINETUNE_PRICE_PER_1M_TOKENS: setting(money.default(5), {
    group: "Fine-tuning",
    description: "Training price in USD per 1M trained tokens (gpt-4.1-mini: 5).",
    hint: "a number such as 5",
  }),
  FINETUNE_MIN_REPLY_CHARS: setting(int(0).default(20), {
    group: "Fine-tuning",
    description: "Replies shorter than this are not used for training.",
    hint: "a whole number such as 20",
  }),
  FINETUNE_PROPOSAL_TTL_HOURS: setting(int(1).default(72), {
    group: "Fine-tuning",
    description: "Hours an approval prompt stays valid.",
    hint: "a whole number of hours such as 72",
  }),
  FINETUNE_DECLINE_COOLDOWN: setting(int(0).default(50), {
    group: "Fine-tuning",
    description: "New ready examples needed after a Decline before the next proposal.",
    hint: "a whole number such as 50",
  }),
  READINESS_SCHEDULE: setting(cron.default("0 * * * *"), {
    group: "Fine-tuning",
    description: "Cron schedule of the readiness check that sends approval prompts.",
    hint: "a cron expression such as '0 * * * *'",
  }),
  MONITOR_SCHEDULE: setting(cron.default("*/5 * * * *"), {
    group: "Fine-tuning",
    description: "Cron schedule of the job that follows running fine-tunes.",
    hint: "a cron expression such as '*/5 * * * *'",
  }),
  RETIREMENT_SCHEDULE: setting(cron.default("30 3 * * *"), {
    group: "Fine-tuning",
    description: "Cron schedule of the daily check of fine-tuned models' shutdown dates.",
    hint: "a cron expression such as '30 3 * * *'",
  }),
  GCS_BUCKET: setting(optionalText, {
    group: "Fine-tuning",
    description: "Cloud Storage bucket for Vertex training files.",
    hint: "a bucket name such as my-tuning-data",
  }),
  GCS_BASE_URL: setting(url.default("https://storage.googleapis.com"), {
    group: "Fine-tuning",
    description: "Cloud Storage API base URL (for proxies and tests).",
    hint: "a URL such as https://storage.googleapis.com",
  }),
  // Operators and runtime
  OPERATORS: setting(list.default([]), {
    group: "Operators and runtime",
    description:
      "Comma-separated admins allowed to run the limits commands: `discord:<userId>`, `slack:<teamId>:<userId>`.",
    hint: "a list such as discord:123456789012345678,slack:T0123:U0456",
  }),
  DATABASE_URL: setting(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, "expected postgres://...")
      .optional(),
    {
      group: "Operators and runtime",
      description: "Postgres (with pgvector) to use. Unset: an embedded PGlite database in DATA_DIR.",
      hint: "a URL such as postgres://bot:bot@localhost:5432/bot",
      secret: true,
    },
  ),
  DATA_DIR: setting(text.default(".data"), {
    group: "Operators and runtime",
    description: "Directory of the embedded database and other local state.",
    hint: "a directory path such as .data",
  }),
  LOG_FORMAT: setting(z.enum(["json", "pretty"]).default("json"), {
    group: "Operators and runtime",
    description: "`json` (one object per line, for log collectors) or `pretty` (colours, for development).",
    hint: "json or pretty",
  }),
  HEALTH_PORT: setting(int(0, 65535).default(9090), {
    group: "Operators and runtime",
    description: "Port of the health and metrics server (`/healthz`, `/metrics`); 0 turns it off.",
    hint: "a port number such as 9090, or 0",
  }),
  SHUTDOWN_GRACE_SECONDS: setting(seconds(600).default(15), {
    group: "Operators and runtime",
    description:
      "On SIGTERM, how long replies in flight may take to finish; the rest are cancelled and answered after the restart.",
    hint: "a number of seconds such as 15",
  }),
  CANARY_SHARE: setting(z.coerce.number().min(0).max(1).default(0.3), {
    group: "Evaluation",
    description:
      "Share of its owner's messages a newly trained model version answers while it is on trial against the model it would replace (0: a new version takes over at once, no trial).",
    hint: "a number from 0 to 1 such as 0.3",
  }),
  CANARY_MIN_RATINGS: setting(int(1).default(10), {
    group: "Evaluation",
    description: "Rated replies needed in each arm of a trial before it is decided.",
    hint: "a whole number such as 10",
  }),
  CANARY_MAX_DAYS: setting(int(1).default(14), {
    group: "Evaluation",
    description:
      "Days after which a trial is decided whatever it has; with too few ratings the incumbent stays.",
    hint: "a whole number of days such as 14",
  }),
  CANARY_MARGIN: setting(z.coerce.number().min(0).max(4).default(0.25), {
    group: "Evaluation",
    description:
      "How much lower (on the 1-5 scale) the new version's mean rating may be than the incumbent's and still be promoted.",
    hint: "a number such as 0.25",
  }),
  CANARY_MAX_LOOKS: setting(int(1).default(5), {
    group: "Evaluation",
    description:
      "How many times a trial is tested: when its smaller arm reaches CANARY_MIN_RATINGS ratings, twice that, and so on; each test runs at (1 - CANARY_CONFIDENCE) / this, so looking more often does not raise the error rate.",
    hint: "a whole number such as 5",
  }),
  CANARY_CONFIDENCE: setting(z.coerce.number().min(0.5).max(0.999).default(0.9), {
    group: "Evaluation",
    description:
      "Confidence of the trial's one-sided Welch t-tests: promote when the new version is shown not worse by more than the margin, roll back when it is shown worse.",
    hint: "a number from 0.5 to 0.999 such as 0.9",
  }),
  PERSONALISATION_HOLDOUT: setting(z.coerce.number().min(0).max(0.5).default(0.05), {
    group: "Evaluation",
    description:
      "Share of replies answered without memory and few-shot, to measure what they add (0 turns it off). Only for people answered by the base model.",
    hint: "a number from 0 to 0.5 such as 0.05",
  }),
  PERSONALISATION_HOLDOUT_AFTER: setting(int(0).default(20), {
    group: "Evaluation",
    description: "A person's first replies are never in the holdout: this many exchanges first.",
    hint: "a whole number such as 20",
  }),
  RETENTION_DAYS: setting(int(1).default(90), {
    group: "Operators and runtime",
    description: "Exchanges older than this are deleted, except highly rated ones kept for training.",
    hint: "a whole number of days such as 90",
  }),
  RETENTION_SCHEDULE: setting(cron.default("15 4 * * *"), {
    group: "Operators and runtime",
    description: "Cron schedule of the retention job.",
    hint: "a cron expression such as '15 4 * * *'",
  }),
  LOG_LEVEL: setting(z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"), {
    group: "Operators and runtime",
    description: "Log level.",
    hint: "one of trace, debug, info, warn, error",
  }),
  // Operator dashboard
  DASHBOARD_PORT: setting(int(0, 65535).default(0), {
    group: "Operator dashboard",
    description:
      "Port of the operators' web dashboard (spend, trainings, limits, deletions); 0 turns it off. Needs DASHBOARD_TOKEN and OPERATORS.",
    hint: "a port number such as 8080, or 0",
  }),
  DASHBOARD_HOST: setting(text.default("127.0.0.1"), {
    group: "Operator dashboard",
    description:
      "Address the dashboard listens on. Keep 127.0.0.1 and reach it through an SSH tunnel or a TLS reverse proxy on the same machine.",
    hint: "an address such as 127.0.0.1",
  }),
  DASHBOARD_TOKEN: setting(z.string().trim().min(24, "use at least 24 characters").optional(), {
    group: "Operator dashboard",
    description:
      "The operators' login token (with their operator id from OPERATORS). Generate one with `openssl rand -hex 32`.",
    hint: "a long random string, e.g. the output of openssl rand -hex 32",
    secret: true,
  }),
  DASHBOARD_TRUST_PROXY: setting(bool.default(false), {
    group: "Operator dashboard",
    description:
      "Behind a reverse proxy you run: trust its X-Forwarded-Proto (https: the session cookie gets the Secure flag) and X-Forwarded-For (failed logins are limited per client).",
    hint: "true or false",
  }),
} as const;

type Settings = typeof settings;
type Raw = { [K in keyof Settings]: z.output<Settings[K]["schema"]> };

/** One line a person can act on: names the variable and says what to set. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.variable}: ${p.message}`;
}

const rawSchema = z.object(
  Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, v.schema])) as {
    [K in keyof Settings]: Settings[K]["schema"];
  },
);

function hintFor(variable: string): string {
  return (settings as Record<string, { doc: SettingDoc }>)[variable]?.doc.hint ?? "a valid value";
}

/** The typed configuration every other module receives. */
export interface Config {
  discord?: {
    token: string;
    applicationId: string;
    devGuildId?: string;
    apiUrl: string;
    /** Answers shown while they are written (STREAM_REPLIES). */
    streamReplies: boolean;
  };
  slack?: {
    botToken: string;
    signingSecret?: string;
    appToken?: string;
    socketMode: boolean;
    port: number;
    apiUrl: string;
    /** Answers shown while they are written (STREAM_REPLIES). */
    streamReplies: boolean;
  };
  llm: {
    provider: "openai" | "gemini";
    chatModel: string;
    embeddingModel: string;
    embeddingDimensions: number;
    systemPrompt: string;
    priceInputPer1M: number;
    priceOutputPer1M: number;
    openai: { apiKey?: string; baseUrl: string };
    gemini: { apiKey?: string; baseUrl?: string; vertex: boolean; project?: string; location: string };
  };
  /** Time budgets of one reply. */
  replies: {
    attemptTimeoutMs: number;
    totalTimeoutMs: number;
    stillWorkingAfterMs: number;
    /** Replies written at once (REPLY_CONCURRENCY). */
    concurrency: number;
    /** Mentions that may wait for a slot (REPLY_QUEUE_LIMIT); the next gets the busy answer. */
    queueLimit: number;
    /** Tokens of the visible thread shown to the model (THREAD_CONTEXT_TOKENS); 0: not fetched. */
    threadContextTokens: number;
    /** Budget of the in-process memory index (MEMORY_INDEX_MB); 0: every search in the database. */
    memoryIndexBytes: number;
    /** MEMORY_SCOPE: whether memory and few-shot stay within one server. */
    memoryScope: "user" | "user-server";
  };
  /** SERVER_CHAT_MODELS (or its default): the models `/assistant config model` accepts. */
  serverChatModels: string[];
  /** On SIGTERM: how long replies in flight may take before they are cancelled. */
  shutdownGraceMs: number;
  ratingEmoji?: Record<string, number>;
  /** How attached files are read (ATTACHMENT_*, IMAGE_MAX_BYTES, VISION_MODELS). */
  attachments: { maxBytes: number; maxTokens: number; imageMaxBytes: number; visionModels: string[] };
  fineTune: {
    provider: "together" | "self-hosted" | "openai" | "vertex" | "none";
    baseModel: string;
    /** Platforms the operator may train on (FINETUNE_PLATFORMS). */
    platforms: Array<"discord" | "slack">;
    lora: { rank: number; alpha: number };
    together: {
      apiKey?: string;
      baseUrl: string;
      deployment?: { projectId: string; endpointId: string; deploymentId: string };
    };
    /** A self-hosted vLLM serving adapters (LORA_SERVER_URL). */
    loraServer?: { url: string; apiKey?: string; adapterDir: string };
    /** FINETUNE_PROVIDER=self-hosted: the trainer's measured throughput and the GPU's hourly price. */
    trainer: { tokensPerSecond: number; gpuUsdPerHour: number; claimTimeoutHours: number };
    threshold: number;
    minRating: number;
    epochs: "auto" | number;
    pricePer1MTokens: number;
    minReplyChars: number;
    proposalTtlHours: number;
    declineCooldown: number;
    schedules: { readiness: string; monitor: string; retirement: string };
    gcs: { bucket?: string; baseUrl: string };
  };
  operators: string[];
  database: DatabaseConfig;
  logLevel: Raw["LOG_LEVEL"];
  logFormat: "json" | "pretty";
  healthPort: number;
  retention: { days: number; schedule: string };
  /** The operators' web dashboard; absent when DASHBOARD_PORT is 0. */
  dashboard?: { port: number; host: string; token: string; trustProxy: boolean };
  /** Trials of new model versions and the personalisation holdout (src/core/evaluation/). */
  evaluation: {
    canary: {
      share: number;
      minRatings: number;
      maxDays: number;
      margin: number;
      confidence: number;
      maxLooks: number;
    };
    holdout: { share: number; after: number };
  };
}

export interface DatabaseConfig {
  /** Unset: embedded PGlite in `dataDir`. */
  url?: string;
  dataDir: string;
}

/** Environment plus `.env` (real environment variables win, as with every dotenv tool). */
export function readEnvironment(env: Env = process.env, dotenvPath = ".env"): Env {
  const fromFile = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  return onlySettings({ ...fromFile, ...env });
}

/** Keeps our variables; empty strings mean "unset" (compose files and .env templates write `FOO=`). */
function onlySettings(env: Env): Env {
  const cleaned: Env = {};
  for (const key of Object.keys(settings)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== "") cleaned[key] = v;
  }
  return cleaned;
}

function parseRaw(env: Env): Raw {
  const result = rawSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? "configuration");
        const value = env[variable];
        const why = value === undefined ? "is required" : `is invalid (${issue.message})`;
        return { variable, message: `${why}; set it to ${hintFor(variable)}` };
      }),
    );
  }
  return result.data as Raw;
}

/** Just the database settings: what `prisma.config.ts` needs without the rest of the bot's. */
export function loadDatabaseConfig(input: Env = readEnvironment()): DatabaseConfig {
  const env = onlySettings(input);
  const schema = z.object({ DATABASE_URL: settings.DATABASE_URL.schema, DATA_DIR: settings.DATA_DIR.schema });
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => {
        const variable = String(i.path[0]);
        return { variable, message: `is invalid (${i.message}); set it to ${hintFor(variable)}` };
      }),
    );
  }
  return { url: result.data.DATABASE_URL, dataDir: result.data.DATA_DIR };
}

const platformProblems: ConfigProblem[] = [
  {
    variable: "DISCORD_TOKEN",
    message: `no platform is configured; set it to ${hintFor("DISCORD_TOKEN")} (with DISCORD_APPLICATION_ID)`,
  },
  {
    variable: "SLACK_BOT_TOKEN",
    message: `or set it to ${hintFor("SLACK_BOT_TOKEN")} (with SLACK_SIGNING_SECRET, or SLACK_APP_TOKEN for Socket Mode)`,
  },
];

/**
 * Parses and cross-checks the whole configuration; throws ConfigError listing every problem.
 * `requirePlatform`: also a problem when neither Discord nor Slack is configured (npm start).
 */
export function loadConfig(
  input: Env = readEnvironment(),
  options: { requirePlatform?: boolean } = {},
): Config {
  const env = onlySettings(input);
  const platformMissing =
    options.requirePlatform && env.DISCORD_TOKEN === undefined && env.SLACK_BOT_TOKEN === undefined
      ? platformProblems
      : [];
  let r: Raw;
  try {
    r = parseRaw(env);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError([...platformMissing, ...e.problems]);
    throw e;
  }
  const problems: ConfigProblem[] = [...platformMissing];
  const need = (variable: keyof Settings, when: string) => {
    if (env[variable] === undefined)
      problems.push({ variable, message: `is required ${when}; set it to ${hintFor(variable)}` });
  };

  if (r.DISCORD_TOKEN) need("DISCORD_APPLICATION_ID", "when DISCORD_TOKEN is set");
  if (r.SLACK_BOT_TOKEN && !r.SLACK_APP_TOKEN)
    need("SLACK_SIGNING_SECRET", "for Slack over HTTP (or set SLACK_APP_TOKEN for Socket Mode)");
  if (r.LLM_PROVIDER === "openai") need("OPENAI_API_KEY", "when LLM_PROVIDER is openai");
  if (r.LLM_PROVIDER === "gemini" && !r.GEMINI_USE_VERTEX)
    need("GEMINI_API_KEY", "when LLM_PROVIDER is gemini");
  if (r.GEMINI_USE_VERTEX || r.FINETUNE_PROVIDER === "vertex")
    need("GOOGLE_CLOUD_PROJECT", "for Vertex AI (GEMINI_USE_VERTEX or FINETUNE_PROVIDER=vertex)");
  if (r.FINETUNE_PROVIDER === "vertex") need("GCS_BUCKET", "when FINETUNE_PROVIDER is vertex");
  if (r.FINETUNE_PROVIDER === "openai" && r.LLM_PROVIDER !== "openai")
    need("OPENAI_API_KEY", "when FINETUNE_PROVIDER is openai");
  if (r.FINETUNE_PROVIDER === "together") need("TOGETHER_API_KEY", "when FINETUNE_PROVIDER is together");
  // The trainer's adapters are served by the operator's vLLM; nothing else can load them.
  if (r.FINETUNE_PROVIDER === "self-hosted") need("LORA_SERVER_URL", "when FINETUNE_PROVIDER is self-hosted");
  if (r.FINETUNE_PROVIDER === "self-hosted" && r.TOGETHER_ADAPTER_DEPLOYMENT)
    problems.push({
      variable: "TOGETHER_ADAPTER_DEPLOYMENT",
      message: "cannot serve self-hosted adapters; unset it (LORA_SERVER_URL serves them)",
    });
  if (r.TOGETHER_ADAPTER_DEPLOYMENT && r.LORA_SERVER_URL)
    problems.push({
      variable: "TOGETHER_ADAPTER_DEPLOYMENT",
      message: "and LORA_SERVER_URL are both set; set only the one that serves the adapters",
    });
  // A dashboard nobody can log in to, or anyone can, is refused at start.
  if (r.DASHBOARD_PORT > 0) {
    need("DASHBOARD_TOKEN", "when DASHBOARD_PORT is set (the dashboard's login)");
    if (r.OPERATORS.length === 0)
      problems.push({
        variable: "OPERATORS",
        message: `is required when DASHBOARD_PORT is set (operators log in with their id); set it to ${hintFor("OPERATORS")}`,
      });
  }
  if (problems.length) throw new ConfigError(problems);

  const gemini = r.LLM_PROVIDER === "gemini";
  return {
    discord: r.DISCORD_TOKEN
      ? {
          token: r.DISCORD_TOKEN,
          applicationId: r.DISCORD_APPLICATION_ID!,
          devGuildId: r.DISCORD_DEV_GUILD_ID,
          apiUrl: r.DISCORD_API_URL.replace(/\/+$/, ""),
          streamReplies: r.STREAM_REPLIES,
        }
      : undefined,
    slack: r.SLACK_BOT_TOKEN
      ? {
          botToken: r.SLACK_BOT_TOKEN,
          signingSecret: r.SLACK_SIGNING_SECRET,
          appToken: r.SLACK_APP_TOKEN,
          socketMode: r.SLACK_APP_TOKEN !== undefined,
          port: r.SLACK_PORT,
          apiUrl: r.SLACK_API_URL.endsWith("/") ? r.SLACK_API_URL : `${r.SLACK_API_URL}/`,
          streamReplies: r.STREAM_REPLIES,
        }
      : undefined,
    llm: {
      provider: r.LLM_PROVIDER,
      chatModel: r.CHAT_MODEL ?? (gemini ? "gemini-2.5-flash" : "gpt-4.1-mini"),
      embeddingModel: r.EMBEDDING_MODEL ?? (gemini ? "gemini-embedding-001" : "text-embedding-3-small"),
      embeddingDimensions: r.EMBEDDING_DIMENSIONS,
      systemPrompt: r.SYSTEM_PROMPT,
      priceInputPer1M: r.CHAT_PRICE_INPUT_PER_1M,
      priceOutputPer1M: r.CHAT_PRICE_OUTPUT_PER_1M,
      openai: { apiKey: r.OPENAI_API_KEY, baseUrl: r.OPENAI_BASE_URL },
      gemini: {
        apiKey: r.GEMINI_API_KEY,
        baseUrl: r.GEMINI_BASE_URL,
        vertex: r.GEMINI_USE_VERTEX,
        project: r.GOOGLE_CLOUD_PROJECT,
        location: r.GOOGLE_CLOUD_LOCATION,
      },
    },
    replies: {
      attemptTimeoutMs: r.REPLY_ATTEMPT_TIMEOUT_SECONDS * 1000,
      totalTimeoutMs: r.REPLY_TIMEOUT_SECONDS * 1000,
      stillWorkingAfterMs: r.REPLY_STILL_WORKING_SECONDS * 1000,
      concurrency: r.REPLY_CONCURRENCY,
      queueLimit: r.REPLY_QUEUE_LIMIT,
      threadContextTokens: r.THREAD_CONTEXT_TOKENS,
      memoryIndexBytes: r.MEMORY_INDEX_MB * 1024 * 1024,
      memoryScope: r.MEMORY_SCOPE,
    },
    serverChatModels: serverChatModels(r, gemini),
    shutdownGraceMs: r.SHUTDOWN_GRACE_SECONDS * 1000,
    ratingEmoji: r.RATING_EMOJI,
    attachments: {
      maxBytes: r.ATTACHMENT_MAX_BYTES,
      maxTokens: r.ATTACHMENT_MAX_TOKENS,
      imageMaxBytes: r.IMAGE_MAX_BYTES,
      visionModels: r.VISION_MODELS,
    },
    fineTune: {
      provider: r.FINETUNE_PROVIDER,
      baseModel: r.FINETUNE_BASE_MODEL ?? DEFAULT_BASE_MODELS[r.FINETUNE_PROVIDER],
      platforms: r.FINETUNE_PLATFORMS,
      lora: { rank: r.FINETUNE_LORA_RANK, alpha: r.FINETUNE_LORA_ALPHA ?? 2 * r.FINETUNE_LORA_RANK },
      together: {
        apiKey: r.TOGETHER_API_KEY,
        baseUrl: r.TOGETHER_BASE_URL.replace(/\/+$/, ""),
        deployment: parseDeployment(r.TOGETHER_ADAPTER_DEPLOYMENT),
      },
      loraServer: r.LORA_SERVER_URL
        ? { url: r.LORA_SERVER_URL, apiKey: r.LORA_SERVER_API_KEY, adapterDir: r.LORA_ADAPTER_DIR }
        : undefined,
      trainer: {
        tokensPerSecond: r.TRAINER_TOKENS_PER_SECOND,
        gpuUsdPerHour: r.TRAINER_GPU_USD_PER_HOUR,
        claimTimeoutHours: r.TRAINER_CLAIM_TIMEOUT_HOURS,
      },
      threshold: r.FINETUNE_THRESHOLD,
      minRating: r.FINETUNE_MIN_RATING,
      epochs: r.FINETUNE_EPOCHS,
      pricePer1MTokens: r.FINETUNE_PRICE_PER_1M_TOKENS,
      minReplyChars: r.FINETUNE_MIN_REPLY_CHARS,
      proposalTtlHours: r.FINETUNE_PROPOSAL_TTL_HOURS,
      declineCooldown: r.FINETUNE_DECLINE_COOLDOWN,
      schedules: {
        readiness: r.READINESS_SCHEDULE,
        monitor: r.MONITOR_SCHEDULE,
        retirement: r.RETIREMENT_SCHEDULE,
      },
      gcs: { bucket: r.GCS_BUCKET, baseUrl: r.GCS_BASE_URL },
    },
    operators: r.OPERATORS,
    database: { url: r.DATABASE_URL, dataDir: r.DATA_DIR },
    logLevel: r.LOG_LEVEL,
    logFormat: r.LOG_FORMAT,
    healthPort: r.HEALTH_PORT,
    retention: { days: r.RETENTION_DAYS, schedule: r.RETENTION_SCHEDULE },
    dashboard:
      r.DASHBOARD_PORT > 0 && r.DASHBOARD_TOKEN
        ? {
            port: r.DASHBOARD_PORT,
            host: r.DASHBOARD_HOST,
            token: r.DASHBOARD_TOKEN,
            trustProxy: r.DASHBOARD_TRUST_PROXY,
          }
        : undefined,
    evaluation: {
      canary: {
        share: r.CANARY_SHARE,
        minRatings: r.CANARY_MIN_RATINGS,
        maxDays: r.CANARY_MAX_DAYS,
        margin: r.CANARY_MARGIN,
        confidence: r.CANARY_CONFIDENCE,
        maxLooks: r.CANARY_MAX_LOOKS,
      },
      holdout: { share: r.PERSONALISATION_HOLDOUT, after: r.PERSONALISATION_HOLDOUT_AFTER },
    },
  };
}

/** The provider's current chat models an operator may pick per server when SERVER_CHAT_MODELS is unset. */
export const DEFAULT_SERVER_CHAT_MODELS = {
  openai: ["gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini"],
  gemini: ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"],
} as const;

function serverChatModels(r: Raw, gemini: boolean): string[] {
  const chat = r.CHAT_MODEL ?? (gemini ? "gemini-2.5-flash" : "gpt-4.1-mini");
  const listed = r.SERVER_CHAT_MODELS ?? DEFAULT_SERVER_CHAT_MODELS[r.LLM_PROVIDER];
  // CHAT_MODEL always answers, so it is always a valid choice (it is what "clear" goes back to).
  return [...new Set([chat, ...listed])];
}

/**
 * What each provider tunes when FINETUNE_BASE_MODEL is unset. Together: Qwen3 8B, Together's own
 * recommendation for simple tasks, and (unlike the `-Reference` models) deployable on a dedicated
 * endpoint; vLLM serves it as is. Vertex: gemini-2.5-flash, GA for supervised tuning.
 */
export const DEFAULT_BASE_MODELS = {
  together: "Qwen/Qwen3-8B",
  // The compose gpu profile's VLLM_BASE_MODEL: small enough to serve and train on one 24 GB GPU.
  "self-hosted": "Qwen/Qwen2.5-1.5B-Instruct",
  openai: "gpt-4.1-mini-2025-04-14",
  vertex: "gemini-2.5-flash",
  none: "Qwen/Qwen3-8B",
} as const;

function parseDeployment(v: string | undefined) {
  if (!v) return undefined;
  const [projectId, endpointId, deploymentId] = v.split("/") as [string, string, string];
  return { projectId, endpointId, deploymentId };
}

/** The platforms to start; empty means there is nothing to serve. */
export function configuredPlatforms(config: Config): Platform[] {
  return [...(config.discord ? (["discord"] as const) : []), ...(config.slack ? (["slack"] as const) : [])];
}

/** Markdown table of every setting, grouped: the README embeds this verbatim. */
export function configurationTable(): string {
  const rows: string[] = [];
  let group = "";
  for (const [name, { schema, doc }] of Object.entries(settings) as Array<
    [string, { schema: z.ZodType; doc: SettingDoc }]
  >) {
    if (doc.group !== group) {
      group = doc.group;
      rows.push(`| **${group}** | | |`);
    }
    const parsed = schema.safeParse(undefined);
    const def =
      parsed.success && parsed.data !== undefined
        ? `\`${Array.isArray(parsed.data) ? parsed.data.join(",") : String(parsed.data)}\``
        : "";
    rows.push(`| \`${name}\` | ${def} | ${doc.description.replaceAll("|", "\\|")} |`);
  }
  return ["| Variable | Default | What it does |", "| --- | --- | --- |", ...rows].join("\n");
}

/** `.env.example`: every setting, commented, with its default; generated like the README table. */
export function envExample(): string {
  const lines = ["# Copy to .env and fill in what you use. Generated by `npm run config:docs`.", ""];
  let group = "";
  for (const [name, { schema, doc }] of Object.entries(settings) as Array<
    [string, { schema: z.ZodType; doc: SettingDoc }]
  >) {
    if (doc.group !== group) {
      group = doc.group;
      lines.push(`# --- ${group} ---`);
    }
    const parsed = schema.safeParse(undefined);
    const def = parsed.success && parsed.data !== undefined ? String(parsed.data) : "";
    lines.push(`# ${doc.description}`, `${name}=${/\s/.test(def) ? JSON.stringify(def) : def}`);
  }
  return `${lines.join("\n")}\n`;
}
