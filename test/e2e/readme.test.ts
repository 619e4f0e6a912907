/**
 * The README's examples, run word for word, top to bottom, in ONE bash session (`set -euo
 * pipefail`, `inherit_errexit`), against the real server (`node dist/server.js`, as `npm start`
 * runs it) on a fresh data folder, started with the admin password the README's examples start it
 * with (`DCR_ADMIN_PASSWORD='…' npm start`, read from the README).
 *
 * What runs, and what is checked:
 * - Every ```sh block runs, in order, unless the line just before it is
 *   `<!-- not run by test/e2e/readme.test.ts: WHY -->` (installs, servers that run until stopped,
 *   the whole suite, ...). A ```ts block runs the same way, inside the session, as
 *   `node --import tsx FILE` with FILE inside this checkout (the README says to save it in this
 *   folder: the package imports itself by name). Other blocks (ini, layout) are not commands.
 * - The fenced ```http, ```json and ```text blocks right after a run block (nothing but blank
 *   lines between) are its documented output, compared with what the block printed:
 *   http: the status line, and each header shown with that value (the block prints them: curl -i);
 *   json: the same JSON (keys in the same order), except generated values: ids, secrets, tokens,
 *   UUIDs, JWTs and times must have the documented form (a JWT where the README shows a JWT), and a
 *   generated value the README repeats must be repeated in the answers (the same clientId in the
 *   token's introspection); epoch-second numbers (exp, iat) may differ; a string ending in `…`
 *   matches what starts with the part before it;
 *   text: each line appears, in order, among the printed lines (`…` at the end: a prefix).
 * - Every block exits 0 (a wrong password, an unset variable or a failing command stops it).
 * - The HTTP status of every curl call (recorded by a `curl` function in the session that adds
 *   `-D FILE` and nothing else to the command) equals, in order, what the block documents: its
 *   `# → NNN` comments, then the status line of its http output block.
 * Other `#` comments are prose and not checked. A block that would `npm ci`, `npm start`, `npm test`,
 * `dcr serve` or call docker without a marker fails the test before anything runs (NEVER_RUN).
 *
 * Two substitutions, both here and visible in the session's environment: the data folder is a fresh
 * temporary one (DCR_DATA_DIR, for the server and for the blocks' `dcr` commands, instead of a
 * clean clone's ./data); and the README's port, 9763, is used when free, else (another server on
 * this machine) every `127.0.0.1:9763` in the blocks and their outputs becomes a free port, and the
 * session gets DCR_URL for the CLI's default (see `rewrite` below).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { cleanEnv, PROJECT_ROOT } from '../fixtures/dcr-process.js';
import { freePort, freshDataDir, startServer, waitReady, type ServerProcess } from '../fixtures/server-process.js';

const README_PORT = 9763;
// The session takes about 20 s on an idle 2-core machine (half of it the CLI's node start-ups),
// 30 s beside another test file; the bound leaves room for a loaded CI runner, and stops a hang.
const SESSION_TIMEOUT_MS = 90_000;
const MARKER = /^<!-- not run by test\/e2e\/readme\.test\.ts: (\S.*?) -->$/;
/**
 * Commands that must never run here, whatever the README says: they reinstall this checkout's
 * node_modules under the other test files, start servers that never stop, or need what CI lacks.
 * A block with one of them and no marker fails the test before anything runs.
 */
const NEVER_RUN = /\bnpm\s+(?:ci|install|i|start|test)\b|\bdcr\s+--\s+serve\b|\bdocker\b|\bsystemctl\b/;

interface Fence {
  lang: string;
  text: string;
  /** 1-based line of the opening fence in README.md. */
  line: number;
  /** The reason of a `not run` marker on the line before the fence. */
  notRun?: string;
  outputs: Fence[];
}

/** The README's fenced blocks, each run block with the output blocks that directly follow it. */
function parseReadme(markdown: string): Fence[] {
  const lines = markdown.split('\n');
  const fences: Fence[] = [];
  let previousEnd = -1;
  let previous: Fence | undefined;
  let owner: Fence | undefined;
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, ticks, lang] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !new RegExp(`^\\s*${ticks}\\s*$`).test(lines[j]!); j++) {
      body.push(lines[j]!.startsWith(indent!) ? lines[j]!.slice(indent!.length) : lines[j]!);
    }
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const fence: Fence = {
      lang: lang!,
      text: body.join('\n'),
      line: i + 1,
      notRun: MARKER.exec(lines[before]?.trim() ?? '')?.[1],
      outputs: [],
    };
    const adjacent = previous !== undefined && before === previousEnd;
    if (['http', 'json', 'text'].includes(fence.lang) && adjacent && owner && (previous === owner || owner.outputs.includes(previous!))) {
      owner.outputs.push(fence);
    } else if (fence.lang === 'sh' || fence.lang === 'ts') {
      owner = fence;
    } else {
      owner = undefined;
    }
    fences.push(fence);
    previous = fence;
    previousEnd = j;
    i = j;
  }
  return fences;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

// ---- comparing documented output with printed output ----------------------------------------

const GENERATED = /eyJ[\w-]+\.[\w-]+\.[\w-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g;
const JWT = /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/;
/** A generated id or secret as a whole string: base64url, at least 20 characters. */
const RANDOM_ID = /^[\w-]{20,}$/;
const kind = (piece: string) => (JWT.test(piece) ? '<jwt>' : /^\d{4}-/.test(piece) ? '<time>' : '<uuid>');

interface Comparison {
  problems: string[];
  jwts: string[];
}

/** Generated values the README shows, and what the server answered in their place. */
const bindings = new Map<string, string>();

function bind(documented: string, actual: string, where: string, result: Comparison): void {
  const earlier = bindings.get(documented);
  if (earlier !== undefined && earlier !== actual) {
    result.problems.push(`${where}: the README shows ${documented} here and before, the server answered ${actual} and ${earlier}`);
  }
  bindings.set(documented, actual);
  if (JWT.test(documented)) result.jwts.push(where);
}

function compareString(documented: string, actual: string, where: string, result: Comparison): void {
  if (documented.endsWith('…')) {
    const prefix = documented.slice(0, -1);
    if (!actual.startsWith(prefix)) result.problems.push(`${where}: ${JSON.stringify(actual)} does not start with ${JSON.stringify(prefix)}`);
    else if (prefix.startsWith('eyJ')) {
      if (JWT.test(actual)) result.jwts.push(where);
      else result.problems.push(`${where}: ${JSON.stringify(actual)} is not a JWT`);
    }
    return;
  }
  if (documented === actual) return;
  const template = (s: string) => s.replace(GENERATED, kind);
  const documentedPieces = documented.match(GENERATED) ?? [];
  const actualPieces = actual.match(GENERATED) ?? [];
  if (documentedPieces.length > 0 && template(documented) === template(actual)) {
    documentedPieces.forEach((piece, i) => bind(piece, actualPieces[i]!, where, result));
    return;
  }
  if (RANDOM_ID.test(documented) && RANDOM_ID.test(actual) && documented.length === actual.length) {
    bind(documented, actual, where, result);
    return;
  }
  result.problems.push(`${where}: the README shows ${JSON.stringify(documented)}, the server answered ${JSON.stringify(actual)}`);
}

function compareJson(documented: unknown, actual: unknown, where: string, result: Comparison): void {
  if (typeof documented === 'string' && typeof actual === 'string') return compareString(documented, actual, where, result);
  if (typeof documented === 'number' && typeof actual === 'number') {
    // Epoch seconds (exp, iat) are generated; every other number is the server's answer.
    if (documented !== actual && !(documented >= 1e9 && actual >= 1e9)) result.problems.push(`${where}: ${documented} documented, ${actual} answered`);
    return;
  }
  if (Array.isArray(documented) && Array.isArray(actual)) {
    if (documented.length !== actual.length) result.problems.push(`${where}: ${documented.length} items documented, ${actual.length} answered`);
    documented.forEach((item, i) => i < actual.length && compareJson(item, actual[i], `${where}[${i}]`, result));
    return;
  }
  if (documented && actual && typeof documented === 'object' && typeof actual === 'object' && !Array.isArray(documented) && !Array.isArray(actual)) {
    const documentedKeys = Object.keys(documented);
    const actualKeys = Object.keys(actual);
    if (documentedKeys.join() !== actualKeys.join()) {
      result.problems.push(`${where}: keys ${JSON.stringify(documentedKeys)} documented, ${JSON.stringify(actualKeys)} answered`);
    }
    for (const key of documentedKeys) {
      if (key in actual) compareJson((documented as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key], `${where}.${key}`, result);
    }
    return;
  }
  if (documented !== actual) result.problems.push(`${where}: ${JSON.stringify(documented)} documented, ${JSON.stringify(actual)} answered`);
}

/** Splits what `curl -i` printed into its status line and headers, and the body. */
function splitHttp(stdout: string): { status?: string; headers: Map<string, string>; body: string } {
  const headers = new Map<string, string>();
  if (!stdout.startsWith('HTTP/')) return { headers, body: stdout };
  const end = stdout.indexOf('\r\n\r\n');
  const head = (end < 0 ? stdout : stdout.slice(0, end)).split('\r\n');
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: head[0], headers, body: end < 0 ? '' : stdout.slice(end + 4) };
}

// ---- the run ------------------------------------------------------------------------------------

const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
const fences = parseReadme(readme);
const runnable = fences.filter((f) => (f.lang === 'sh' || f.lang === 'ts') && f.notRun === undefined);
const skipped = fences.filter((f) => (f.lang === 'sh' || f.lang === 'ts') && f.notRun !== undefined);

t.test("the README's examples run word for word and answer what the README shows", async (t) => {
  t.setTimeout(150_000);
  const password = /^DCR_ADMIN_PASSWORD='([^']+)' npm start\s*$/m.exec(readme)?.[1];
  t.ok(password, "the README says which admin password to start the examples' server with");
  t.ok(runnable.length >= 10, `the README has examples to run (${runnable.length} blocks)`);
  for (const fence of skipped) t.comment(`not run: README line ${fence.line} (${fence.notRun})`);
  const unsafe = runnable.filter((fence) => NEVER_RUN.test(fence.text));
  for (const fence of unsafe) {
    t.fail(`README line ${fence.line}: ${NEVER_RUN.exec(fence.text)![0]} cannot run in a test: mark the block with <!-- not run by test/e2e/readme.test.ts: why -->`);
  }
  // The README says the examples need curl (and node); .ci/run installs it where it is missing.
  const curl = await new Promise<boolean>((resolve) => {
    const probe = spawn('curl', ['--version'], { stdio: 'ignore' });
    probe.once('error', () => resolve(false));
    probe.once('exit', (exitCode) => resolve(exitCode === 0));
  });
  t.ok(curl, 'curl is installed (apt-get install curl)');
  if (!password || unsafe.length > 0 || !curl) return;

  // The README's port when free; else a free one, substituted everywhere below (and DCR_URL).
  const dataDir = await freshDataDir(t);
  let port = (await portIsFree(README_PORT)) ? README_PORT : await freePort();
  let server: ServerProcess;
  for (let attempt = 1; ; attempt++) {
    const env = { PORT: String(port), HOST: '127.0.0.1', DCR_DATA_DIR: dataDir, DCR_ADMIN_PASSWORD: password, LOG_LEVEL: 'warn' };
    server = startServer(t, env);
    try {
      await waitReady(server);
      break;
    } catch (err) {
      // Another process took the port between the probe and the listen: once more, elsewhere.
      if (attempt > 1 || !/EADDRINUSE/.test(String(err))) throw err;
      port = await freePort();
    }
  }
  const rewrite = (text: string) => (port === README_PORT ? text : text.replaceAll(`127.0.0.1:${README_PORT}`, `127.0.0.1:${port}`));
  if (port !== README_PORT) t.comment(`port ${README_PORT} is taken: the examples run against 127.0.0.1:${port}`);

  const sessionDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-readme-'));
  // The ts examples are saved inside this checkout, as the README says (self-import by name).
  const tsDir = path.join(PROJECT_ROOT, '.tap', `readme-${process.pid}`);
  await fs.mkdir(tsDir, { recursive: true });
  t.teardown(() => Promise.all([fs.rm(sessionDir, { recursive: true, force: true }), fs.rm(tsDir, { recursive: true, force: true })]));

  // The session: the strict options, a curl that also records each answer's status, then each
  // block in order, in this one shell (a `{ … }` group, so variables and functions carry on),
  // with its output in files of its own.
  const script = [
    'set -euo pipefail',
    'shopt -s inherit_errexit',
    'curl() {',
    '  local headers status rc=0',
    '  headers=$(mktemp "$README_TEST_DIR/headers.XXXXXX")',
    '  command curl -D "$headers" "$@" || rc=$?',
    "  status=$(grep -a '^HTTP/' \"$headers\" | tail -n 1 | cut -d' ' -f2 || true)",
    '  echo "${status:-none}" >> "$README_TEST_DIR/statuses.$README_TEST_STEP"',
    '  return "$rc"',
    '}',
  ];
  for (const [index, fence] of runnable.entries()) {
    let body = rewrite(fence.text);
    if (fence.lang === 'ts') {
      const file = path.join(tsDir, `example-line-${fence.line}.ts`);
      await fs.writeFile(file, body);
      body = `node --import tsx '${file}'`;
    }
    script.push(
      `README_TEST_STEP=${index}`,
      `: > "$README_TEST_DIR/statuses.${index}"`,
      '{',
      body,
      `} > "$README_TEST_DIR/out.${index}" 2> "$README_TEST_DIR/err.${index}"`,
      `echo ${index} >> "$README_TEST_DIR/completed"`,
    );
  }
  const scriptFile = path.join(sessionDir, 'session.sh');
  await fs.writeFile(scriptFile, `${script.join('\n')}\n`);

  const sessionEnv = cleanEnv({ DCR_DATA_DIR: dataDir, README_TEST_DIR: sessionDir, DCR_URL: port === README_PORT ? undefined : `http://127.0.0.1:${port}` });
  // The outer `npm test` passes its npm_* settings down; the blocks' own `npm run` reads its own.
  for (const key of Object.keys(sessionEnv)) if (/^npm_/i.test(key)) delete sessionEnv[key];

  const started = Date.now();
  const session = spawn('bash', [scriptFile], { cwd: PROJECT_ROOT, env: sessionEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let sessionOutput = '';
  session.stdout!.on('data', (chunk: Buffer) => (sessionOutput += chunk.toString()));
  session.stderr!.on('data', (chunk: Buffer) => (sessionOutput += chunk.toString()));
  const timer = setTimeout(() => process.kill(-session.pid!, 'SIGKILL'), SESSION_TIMEOUT_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => session.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  const ms = Date.now() - started;
  t.comment(`${runnable.length} blocks in one bash session: ${ms} ms`);
  t.ok(ms < SESSION_TIMEOUT_MS, `the examples ran within ${SESSION_TIMEOUT_MS / 1000} s`);

  const read = (name: string) => fs.readFile(path.join(sessionDir, name), 'utf8').catch(() => '');
  const completed = new Set((await read('completed')).split('\n').filter(Boolean).map(Number));

  for (const [index, fence] of runnable.entries()) {
    const at = `README line ${fence.line}`;
    if (!completed.has(index)) {
      // The first block that did not finish stopped the session; the later ones never ran.
      t.fail(`${at}: the ${fence.lang} block exits 0`, {
        exit: code,
        signal,
        stdout: await read(`out.${index}`),
        stderr: await read(`err.${index}`),
        session: sessionOutput,
        server: server.stderr(),
      });
      break;
    }
    t.pass(`${at}: the ${fence.lang} block exits 0`);
    const stdout = await read(`out.${index}`);
    const printed = splitHttp(stdout);

    const documentedStatuses = [
      ...[...fence.text.matchAll(/#\s*→\s*(\d{3})\b/g)].map((m) => m[1]!),
      ...fence.outputs.filter((o) => o.lang === 'http').map((o) => /^HTTP\/\S+ (\d{3})/.exec(o.text)?.[1] ?? '?'),
    ];
    const statuses = (await read(`statuses.${index}`)).split('\n').filter(Boolean);
    t.strictSame(statuses, documentedStatuses, `${at}: its curl calls answer ${JSON.stringify(statuses)}, as documented`);

    for (const output of fence.outputs) {
      const where = `${at}, output at line ${output.line}`;
      const documented = rewrite(output.text);
      if (output.lang === 'http') {
        const [statusLine, ...headerLines] = documented.split('\n').filter(Boolean);
        t.equal(printed.status, statusLine, `${where}: the status line`);
        for (const header of headerLines) {
          const name = header.slice(0, header.indexOf(':')).trim().toLowerCase();
          t.equal(printed.headers.get(name), header.slice(header.indexOf(':') + 1).trim(), `${where}: ${name}`);
        }
      } else if (output.lang === 'json') {
        let actual: unknown;
        try {
          actual = JSON.parse(printed.body);
        } catch {
          t.fail(`${where}: the block prints one JSON value`, { stdout });
          continue;
        }
        let expected: unknown;
        try {
          expected = JSON.parse(documented);
        } catch {
          t.fail(`${where}: the README's JSON parses`, { documented, printed: printed.body });
          continue;
        }
        const result: Comparison = { problems: [], jwts: [] };
        compareJson(expected, actual, '$', result);
        t.strictSame(result.problems, [], `${where}: the JSON the server answered`, { printed: printed.body });
        for (const jwt of result.jwts) t.pass(`${where}: ${jwt} is a JWT (eyJ…), as the README shows`);
      } else {
        const lines = stdout.split('\n').map((line) => line.trimEnd());
        let from = 0;
        for (const wanted of documented.split('\n').filter(Boolean)) {
          const match = (line: string) => (wanted.endsWith('…') ? line.startsWith(wanted.slice(0, -1)) : line === wanted);
          const found = lines.findIndex((line, i) => i >= from && match(line));
          t.ok(found >= 0, `${where}: prints ${JSON.stringify(wanted)}`, found >= 0 ? {} : { stdout });
          if (found >= 0) from = found + 1;
        }
      }
    }
  }
  t.equal(code, 0, 'the session exits 0');
});

t.test("the README's test requirements are what test/e2e/docs-browser.test.ts does", async (t) => {
  // The README once said "nothing else" is needed, while the Swagger UI test needs a browser.
  const browserTest = readFileSync(path.join(PROJECT_ROOT, 'test/e2e/docs-browser.test.ts'), 'utf8');
  const chromium = /const CHROMIUM = '([^']+)'/.exec(browserTest)?.[1];
  t.equal(chromium, '/usr/bin/chromium', 'the browser test drives Debian’s Chromium at /usr/bin/chromium');
  t.match(browserTest, /if \(!existsSync\(CHROMIUM\)\) \{\s*if \(process\.env\.CI\) \{\s*t\.fail\(/, 'without it, it fails when CI is set');
  t.match(browserTest, /\} else \{\s*t\.plan\(0, /, 'and is skipped otherwise');
  const ciRun = readFileSync(path.join(PROJECT_ROOT, '.ci/run'), 'utf8');
  t.ok(/\/usr\/bin\/chromium\b[^\n]*\bchromium\b/.test(ciRun) && /apt-get install/.test(ciRun), '.ci/run installs it when /usr/bin/chromium is absent');

  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('### Running the examples'));
  t.ok(quickStart.includes(`\`${chromium}\``), `the quick start names ${chromium}`);
  t.ok(quickStart.includes('`apt-get install chromium`'), 'and how to install it');
  t.match(quickStart, /docs-browser\.test\.ts`?\) is skipped[^.]*when run locally, and fails when the\s+`CI` environment variable is set/, 'and what happens without it, locally and in CI');
  t.notMatch(quickStart, /nothing else[;:,]? \(no PostgreSQL/i, 'no "nothing else" for the tests');
});
