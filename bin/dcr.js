#!/usr/bin/env node
// The `dcr` command: runs the TypeScript CLI (src/cli.ts) through tsx, with no build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/cli.ts');
await run(process.argv);
