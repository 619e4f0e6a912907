/**
 * The compile-time guarantee of src/http/handlers/operations.ts, checked by running the compiler: a service
 * class that `implements OperationHandlers<operations>` but lacks a method for an operationId does
 * not compile (TS2420 naming the operation). A complete class in the same file compiles, so the
 * failure comes from the missing handler and not from the set-up. test/types/missing-handler.ts
 * holds the same proof for `tsc -p .`.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

function runTsc(project: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, '--noEmit', '--pretty', 'false', '-p', project], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

t.test('a service class without a handler for an operationId fails tsc with TS2420', async (t) => {
  // Imports from the fixture folder (under .tap/fixtures) back to the repository.
  const root = path.relative(t.testdirName, ROOT).split(path.sep).join('/');
  const dir = t.testdir({
    'tsconfig.json': JSON.stringify({
      extends: `${root}/tsconfig.json`,
      compilerOptions: { skipLibCheck: true, noEmit: true, incremental: false },
      include: [],
      files: ['services.ts'],
    }),
    'services.ts': `
import type { FastifyReply } from 'fastify';
import type { operations } from '${root}/generated/dcr-api.js';
import type { OperationHandlers, OperationRequest, SuccessBody } from '${root}/src/http/handlers/operations.js';

/** Lacks registerApplication: must not compile. */
export class MissingHandlerService implements OperationHandlers<operations> {
  async somethingElse(): Promise<void> {}
}

/** Has it: compiles. */
export class CompleteService implements OperationHandlers<operations> {
  async registerApplication(
    _request: OperationRequest<operations['registerApplication']>,
    _reply: FastifyReply,
  ): Promise<SuccessBody<operations['registerApplication']>> {
    throw new Error('not called');
  }
}
`,
  });

  const started = Date.now();
  const { code, output } = await runTsc(path.join(dir, 'tsconfig.json'));
  t.comment(`tsc took ${Date.now() - started} ms`);

  t.not(code, 0, 'tsc exits non-zero');
  const errors = output.split('\n').filter((line) => /error TS\d+/.test(line));
  t.equal(errors.length, 1, 'exactly one error', { output });
  t.match(errors[0], /services\.ts\(\d+,\d+\): error TS2420: Class 'MissingHandlerService' incorrectly implements/);
  t.match(output, /Property 'registerApplication' is missing in type 'MissingHandlerService'/, 'names the operation');
  t.notMatch(output, /CompleteService/, 'the complete class compiles');
});
