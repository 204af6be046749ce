// Checks that both packages are right to publish: the npm and JSR export maps
// agree, npm pack ships only what users need, publint and are-the-types-wrong
// pass, the packed tarball installs and works on Bun and Node 26, JSR's dry run
// passes, and the API docs build without warnings. Run after `tsup`.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const run = (command, args, options = {}) =>
  execFileSync(command, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...options });
let failures = 0;
let passes = 0;

function check(name, body) {
  try {
    body();
    passes++;
    console.log(`ok   ${name}`);
  } catch (error) {
    failures++;
    console.log(`FAIL ${name}\n${error.stdout ?? ""}${error.stderr ?? ""}${error.message}`);
  }
}

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));

check("package.json and deno.json export the same entry points, at the same version", () => {
  const npmKeys = Object.keys(pkg.exports).filter((key) => key !== "./package.json").sort();
  const jsrKeys = Object.keys(deno.exports).sort();
  if (JSON.stringify(npmKeys) !== JSON.stringify(jsrKeys)) {
    throw new Error(`npm exports ${npmKeys} but JSR exports ${jsrKeys}`);
  }
  if (pkg.version !== deno.version) throw new Error(`versions differ: ${pkg.version} vs ${deno.version}`);
  for (const key of npmKeys) {
    const conditions = pkg.exports[key];
    if (Object.keys(conditions)[0] !== "types") throw new Error(`${key}: "types" must come first`);
    for (const target of Object.values(conditions)) {
      if (!existsSync(join(root, target))) throw new Error(`${key} points at missing ${target}`);
    }
    const source = deno.exports[key];
    const built = conditions.default.replace(/^\.\/dist\//, "./").replace(/\.js$/, ".ts");
    if (source !== built) throw new Error(`${key}: JSR exports ${source}, npm builds ${conditions.default} from ${built}`);
  }
});

check("npm pack ships only dist/, README, LICENSE and CHANGELOG", () => {
  const [{ files }] = JSON.parse(run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"]));
  const allowed = /^(dist\/.+|README\.md|LICENSE|CHANGELOG\.md|package\.json)$/;
  const extra = files.map((file) => file.path).filter((path) => !allowed.test(path));
  if (extra.length > 0) throw new Error(`unexpected files: ${extra.join(", ")}`);
  for (const needed of ["dist/mod.js", "dist/mod.d.ts", "README.md", "LICENSE"]) {
    if (!files.some((file) => file.path === needed)) throw new Error(`missing ${needed}`);
  }
});

check("publint", () => run(bin("publint"), ["--strict"]));
check("are the types wrong (ESM only)", () => run(bin("attw"), ["--pack", ".", "--profile", "esm-only"]));

check("the packed tarball installs and works on Bun and Node 26", () => {
  const project = mkdtempSync(join(tmpdir(), "memmapfs-consumer-"));
  try {
    const [{ filename }] = JSON.parse(run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", project]));
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
    run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", `./${filename}`], { cwd: project });
    writeFileSync(join(project, "use.mjs"), `
      import { MappedFile, MemMapFS, SharedMemory, BlockFile, pageSize } from "memmapfs";
      import { writeFileSync } from "node:fs";
      writeFileSync("hello.txt", "hello from the tarball");
      const fs = new MemMapFS();
      const file = fs.open("hello.txt");
      const text = new TextDecoder().decode(file.bytes);
      file.close();
      const region = SharedMemory.create({ size: pageSize });
      region.unlink();
      region.close();
      const blocks = BlockFile.anonymous();
      blocks.allocate();
      blocks.close();
      if (!(MappedFile.anonymous(16).size === 16)) throw new Error("anonymous");
      console.log(text);
    `);
    for (const [runtime, args] of [[bin("bun"), ["use.mjs"]], [bin("node"), ["--experimental-ffi", "--no-warnings", "use.mjs"]]]) {
      const output = run(runtime, args, { cwd: project }).trim();
      if (output !== "hello from the tarball") throw new Error(`${runtime} printed ${output}`);
    }
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});

check("deno publish --dry-run (no slow types, publish file list)", () => {
  const output = run(bin("deno"), ["publish", "--dry-run", "--allow-dirty"], { stdio: ["ignore", "pipe", "pipe"] });
  for (const unwanted of ["tests/", "bench/", "scripts/", "examples/", "node_modules"]) {
    if (output.includes(`/${unwanted}`)) throw new Error(`the JSR package would include ${unwanted}`);
  }
});

check("deno doc --html builds without warnings", () => {
  const out = mkdtempSync(join(tmpdir(), "memmapfs-docs-"));
  try {
    const result = spawnSync(bin("deno"), ["doc", "--html", "--name=memmapfs", `--output=${out}`, "mod.ts"], {
      cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" },
    });
    // Deno lists @types/node files it skips while resolving node: types; those
    // are not about our docs. Anything else it warns about is.
    const warnings = `${result.stdout}${result.stderr}`.split("\n")
      .filter((line) => /warning|error/i.test(line) && !line.includes("Failed resolving types"));
    if (result.status !== 0 || warnings.length > 0) throw new Error(warnings.join("\n") || `exit ${result.status}`);
    if (!existsSync(join(out, "index.html"))) throw new Error("no index.html");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

check("every export has JSDoc with an @example", () => {
  const doc = JSON.parse(run(bin("deno"), ["doc", "--json", "mod.ts"], { env: { ...process.env, NO_COLOR: "1" } }));
  const module = Object.entries(doc.nodes).find(([file]) => file.endsWith("/mod.ts"))[1];
  const missing = module.symbols.filter((symbol) =>
    !symbol.declarations.some((declaration) =>
      (declaration.jsDoc?.tags ?? []).some((tag) => tag.kind === "example") && declaration.jsDoc?.doc
    )
  ).map((symbol) => symbol.name);
  if (missing.length > 0) throw new Error(`no description or @example: ${missing.join(", ")}`);
});

console.log(`${passes} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
