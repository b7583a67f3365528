// Prints a training set exactly as the bot builds it (src/core/fine-tune/dataset.ts, OpenAI chat
// format, privacy filter applied), for the trainer's tests: the worker must accept these files and
// agree with their sha256. The exchanges are synthetic.
import { buildDataset, type DatasetSource } from "../../src/core/fine-tune/dataset.ts";
import { createPrivacyFilter } from "../../src/core/privacy-filter.ts";

const sources: DatasetSource[] = Array.from({ length: 24 }, (_, i) => ({
  id: BigInt(i + 1),
  userText: `Quel temps fera-t-il à la station ${i} ? Écris-moi à station${i}@example.com ☀️`,
  replyText: `À la station ${i}, il fera ${i % 2 ? "beau" : "gris"} demain, avec ${10 + i} °C l'après-midi.`,
  status: "answered",
  rating: 5,
  createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)),
}));
const dataset = buildDataset(sources, {
  provider: "openai",
  systemPrompt: "Tu es un assistant météo. Réponds en une phrase.",
  minReplyChars: 10,
  privacy: createPrivacyFilter(),
});
process.stdout.write(
  JSON.stringify({
    trainJsonl: dataset.trainJsonl,
    validationJsonl: dataset.validationJsonl ?? null,
    sha256: dataset.sha256,
    redactions: dataset.stats.redactions,
  }),
);
