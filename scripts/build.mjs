// `npm run build` (and every `npm start`): src/main.ts and what it imports (and the database worker), bundled by esbuild into
// dist/ as plain JavaScript for Node. Dependencies stay in node_modules (not bundled); the platform
// adapters stay separate chunks, so a bot without Slack never loads Bolt.
//
// Why a bundle: running the sources through tsx's loader puts every module load (a few thousand,
// node_modules included) through a loader thread; the bundle starts about 1.5 s sooner. esbuild is
// the same transform tsx applies, so the code that runs is the same. It takes well under a second,
// so it runs on every start and dist/ is never stale. No type checking here: `npm run typecheck`.
//
// Files are written to a temporary name and renamed, so a bot already running from dist/ never
// reads a half-written chunk; chunks no build has referenced for a day are removed.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist");
const started = performance.now();

const result = await build({
  absWorkingDir: root,
  // The embedded database's worker thread is an entry of its own (src/database/pglite-thread.ts
  // starts dist/pglite-worker.js).
  entryPoints: ["src/main.ts", "src/database/pglite-worker.ts"],
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node20",
  splitting: true,
  entryNames: "[name]",
  chunkNames: "chunks/[name]-[hash]",
  outdir,
  write: false,
  logLevel: "warning",
});

const written = new Set();
for (const file of result.outputFiles) {
  mkdirSync(dirname(file.path), { recursive: true });
  const temporary = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temporary, file.contents);
  renameSync(temporary, file.path);
  written.add(file.path);
}
const chunks = join(outdir, "chunks");
const dayAgo = Date.now() - 24 * 3600_000;
for (const name of readdirSync(chunks)) {
  const path = join(chunks, name);
  if (!written.has(path) && statSync(path).mtimeMs < dayAgo) rmSync(path, { force: true });
}
if (process.env.BUILD_QUIET !== "1")
  process.stderr.write(
    `built ${basename(outdir)}/ (${result.outputFiles.length} files) in ${Math.round(performance.now() - started)} ms\n`,
  );
