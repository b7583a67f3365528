// Every package the code imports is declared in package.json. An undeclared one works only while
// another dependency happens to pull it in (at whatever version that one wants) and breaks the day
// it stops. The product's own code (src, scripts) must not depend on dev-only packages, which
// production installs may leave out.
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
const runtime = new Set(Object.keys(pkg.dependencies ?? {}));
const dev = new Set(Object.keys(pkg.devDependencies ?? {}));

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(?:[cm]?ts|[cm]?js)$/.test(e.name) && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name));
}

// `import x from "p"`, `import "p"`, `export ... from "p"`, `import("p")`, `require("p")`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"'\s]+)["']/g;

function packageOf(specifier: string): string | undefined {
  if (/^(?:\.|\/|#|node:)/.test(specifier) || builtinModules.includes(specifier.split("/")[0]!))
    return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

function importsIn(dirs: string[]): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const file of dirs.flatMap(sourceFiles)) {
    // Comment lines may quote imports that are not there (this file's own, for one).
    const code = readFileSync(file, "utf8").replace(/^\s*(?:\/\/|\/?\*).*$/gm, "");
    for (const [, specifier] of code.matchAll(SPECIFIER)) {
      const name = packageOf(specifier!);
      if (name) used.set(name, [...(used.get(name) ?? []), relative(root, file)]);
    }
  }
  return used;
}

describe("package.json", () => {
  it("declares, as a runtime dependency, every package src/ and scripts/ import", () => {
    const used = importsIn(["src", "scripts"]);
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter(([name]) => !runtime.has(name)).map(([n, f]) => `${n} (${f[0]})`);
    expect(missing).toEqual([]);
  });

  it("declares every package the tests and benchmarks import", () => {
    const used = importsIn(["test", "bench"]);
    const missing = [...used]
      .filter(([name]) => !runtime.has(name) && !dev.has(name))
      .map(([n, f]) => `${n} (${f[0]})`);
    expect(missing).toEqual([]);
  });

  it("pins every dependency to the version the lockfile installs", () => {
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string }>;
    };
    const declared = { ...pkg.dependencies, ...pkg.devDependencies };
    const drift = Object.entries(declared)
      .filter(([name, version]) => lock.packages[`node_modules/${name}`]?.version !== version)
      .map(([name, version]) => `${name}: ${version} vs ${lock.packages[`node_modules/${name}`]?.version}`);
    expect(drift).toEqual([]);
  });
});
