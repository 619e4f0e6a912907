/**
 * `npm run build` (and before every `npm start`): src/ transpiled to plain JavaScript in dist/,
 * one file per module (no bundling, no type check: `npm run typecheck` does that), plus the SQL
 * migrations. Takes well under a second.
 *
 * Why: the server then runs on plain `node`, without tsx's module-loader thread, which costs about
 * 30 MB of resident memory for the life of the process and compiles every module at start-up
 * (docs/performance.md). Tests, the CLI and the scripts keep running the TypeScript through tsx.
 *
 * dist/ mirrors src/ one level down from the project root, as src/ is, so the paths the code finds
 * its files by (../spec/, ../package.json, ./migrations) hold in both.
 *
 * An up-to-date dist/ (same files, none changed since) is left alone: a server starting from it
 * meanwhile (the test suite runs several at once) never sees it half rewritten.
 */
import { build } from 'esbuild';
import { cp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = path.join(ROOT, 'src');
const OUT = path.join(ROOT, 'dist');

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return sources(full);
      return Promise.resolve(entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : []);
    }),
  );
  return nested.flat();
}

const started = Date.now();
const STAMP = path.join(OUT, '.build-stamp.json');
const inputs = [...(await sources(SRC)), ...(await readdir(path.join(SRC, 'db', 'migrations'))).map((f) => path.join(SRC, 'db', 'migrations', f))].sort();
const stamp = JSON.stringify({ inputs, newest: Math.max(...(await Promise.all(inputs.map(async (f) => (await stat(f)).mtimeMs)))) });
if ((await readFile(STAMP, 'utf8').catch(() => '')) === stamp) process.exit(0);

await rm(OUT, { recursive: true, force: true });
const entryPoints = inputs.filter((f) => f.endsWith('.ts'));
await build({
  entryPoints,
  outdir: OUT,
  outbase: SRC,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Line numbers of a stack trace point into readable JavaScript next to its .ts; the maps are
  // there for a debugger or `node --enable-source-maps`.
  sourcemap: 'linked',
  logLevel: 'warning',
});
await cp(path.join(SRC, 'db', 'migrations'), path.join(OUT, 'db', 'migrations'), { recursive: true });
await writeFile(STAMP, stamp);
if (process.env.npm_lifecycle_event !== 'prestart') {
  process.stderr.write(`[build] ${entryPoints.length} modules to dist/ in ${Date.now() - started} ms\n`);
}
