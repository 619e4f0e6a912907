/**
 * `node --import tsx scripts/cpuprofile-top.ts FILE.cpuprofile [N]`: the top N (default 25)
 * functions by self time in a V8 CPU profile (`node --cpu-prof`), then self time grouped by where
 * the code lives (this project's src/, each npm package, Node's internals, GC, idle).
 * `... FILE.cpuprofile --callers TEXT`: the call stacks (8 frames up) that spend self time in the
 * functions whose `name@file:line` contains TEXT, heaviest first.
 * `npm run bench -- --profile` (scripts/bench/modes.ts) uses summariseProfile directly.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface TopEntry {
  name: string;
  where: string;
  selfMs: number;
  percent: number;
}

/** Where a frame's code lives: src/<file>, an npm package, node:internal, or a V8 pseudo-frame. */
function groupOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node internals';
  const src = /\/(src|scripts|generated)\/(.*)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  return url;
}

function whereOf(frame: CallFrame): string {
  const { url, lineNumber } = frame;
  if (!url) return '';
  const short = url
    .replace(/^file:\/\//, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^.*\/(src|scripts|generated)\//, '$1/');
  return `${short}:${lineNumber + 1}`;
}

/**
 * `fromUs`: only samples taken at least this long after the profile started (to leave out start-up
 * and warm-up).
 */
export function summariseProfile(
  profile: CpuProfile,
  n = 25,
  options: { fromUs?: number } = {},
): { text: string; top: TopEntry[]; groups: TopEntry[]; totalMs: number; busyMs: number } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const fromUs = options.fromUs ?? 0;
  if (profile.samples && profile.timeDeltas) {
    let at = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      const delta = profile.timeDeltas[i] ?? 0;
      at += delta;
      if (at < fromUs) continue;
      const id = profile.samples[i]!;
      selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    }
  } else {
    const interval = (profile.endTime - profile.startTime) / Math.max(1, profile.nodes.reduce((s, node) => s + (node.hitCount ?? 0), 0));
    for (const node of profile.nodes) selfUs.set(node.id, (node.hitCount ?? 0) * interval);
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idleUs = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  const busyUs = totalUs - idleUs;

  const functions = new Map<string, { name: string; where: string; us: number }>();
  const groups = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    const where = whereOf(frame);
    const key = `${frame.functionName}@${where}`;
    const entry = functions.get(key) ?? { name: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    const group = groupOf(frame);
    groups.set(group, (groups.get(group) ?? 0) + us);
  }
  const pct = (us: number) => Math.round((us / Math.max(busyUs, 1)) * 1000) / 10;
  const top = [...functions.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, n)
    .map((e) => ({ name: e.name, where: e.where, selfMs: Math.round(e.us / 100) / 10, percent: pct(e.us) }));
  const groupList = [...groups.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)
    .map(([name, us]) => ({ name, where: '', selfMs: Math.round(us / 100) / 10, percent: pct(us) }));

  const lines = [
    `profile: ${Math.round(totalUs / 1000)} ms sampled${fromUs ? ` (from ${Math.round(fromUs / 1000)} ms after start)` : ''}, ${Math.round(busyUs / 1000)} ms busy (not idle); percentages are of busy time`,
    '',
    `top ${n} functions by self time:`,
    ...top.map((e) => `  ${String(e.percent).padStart(5)}%  ${String(e.selfMs).padStart(8)} ms  ${e.name.padEnd(40)} ${e.where}`),
    '',
    'self time by location:',
    ...groupList.map((e) => `  ${String(e.percent).padStart(5)}%  ${String(e.selfMs).padStart(8)} ms  ${e.name}`),
  ];
  return { text: lines.join('\n'), top, groups: groupList, totalMs: Math.round(totalUs / 1000), busyMs: Math.round(busyUs / 1000) };
}

/** Self time of the frames matching `pattern`, by the chain of their callers (up to `depth`). */
export function callersOf(profile: CpuProfile, pattern: string, depth = 8): { ms: number; stack: string }[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  (profile.samples ?? []).forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0)));
  const label = (frame: CallFrame) => `${frame.functionName || '(anonymous)'}@${whereOf(frame)}`;
  const stacks = new Map<string, number>();
  for (const node of profile.nodes) {
    if (!label(node.callFrame).includes(pattern)) continue;
    const chain = [label(node.callFrame)];
    for (let id = parent.get(node.id); id !== undefined && chain.length <= depth; id = parent.get(id)) chain.push(label(byId.get(id)!.callFrame));
    const key = chain.join('\n    <- ');
    stacks.set(key, (stacks.get(key) ?? 0) + (selfUs.get(node.id) ?? 0));
  }
  return [...stacks.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([stack, us]) => ({ ms: Math.round(us / 100) / 10, stack }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, ...rest] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node --import tsx scripts/cpuprofile-top.ts FILE.cpuprofile [N | --callers TEXT]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  if (rest[0] === '--callers') {
    for (const { ms, stack } of callersOf(profile, rest[1] ?? '').slice(0, 10)) process.stdout.write(`${ms} ms  ${stack}\n\n`);
  } else {
    process.stdout.write(`${summariseProfile(profile, Number(rest[0] ?? 25)).text}\n`);
  }
}
