import t from 'tap';
import type { TenantRecord } from '../../src/domain/tenants.js';
import { TenantDirectory } from '../../src/services/tenant-directory.js';

// The tenant directory's freshness without a lifetime per entry: a lookup per domain once, then
// one poll for changes per period, whatever the number of tenants.

const record = (id: number, domain: string, active = true): TenantRecord => ({
  id,
  uuid: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
  domain,
  active,
  ownerId: null,
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

function fakeRegistry(initial: TenantRecord[]) {
  const rows = new Map(initial.map((r) => [r.domain, r]));
  const calls = { findByDomain: 0, changedSince: [] as (Date | undefined)[] };
  let changed: TenantRecord[] = [];
  let failing = false;
  return {
    calls,
    change(next: TenantRecord) {
      rows.set(next.domain, next);
      changed.push(next);
    },
    fail(on: boolean) {
      failing = on;
    },
    repo: {
      async findByDomain(domain: string) {
        calls.findByDomain++;
        return rows.get(domain);
      },
      async changedSince(since: Date | undefined) {
        calls.changedSince.push(since);
        if (failing) throw new Error('down');
        const out = since === undefined ? [] : changed;
        changed = [];
        return { at: new Date(1_000_000), tenants: out };
      },
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

t.test('one lookup per domain, then polls for changes', async (t) => {
  let clock = 0;
  const registry = fakeRegistry([record(1, 'a.com'), record(2, 'b.com')]);
  const directory = new TenantDirectory(registry.repo, 5_000, 100, () => clock);
  t.match(await directory.resolve('A.com'), { id: 1, domain: 'a.com', active: true });
  t.equal(await directory.resolve('nowhere.example'), undefined);
  for (let i = 0; i < 10; i++) {
    await directory.resolve('a.com');
    await directory.resolve('nowhere.example');
  }
  t.equal(registry.calls.findByDomain, 2, 'each domain looked up once, unknown ones too');
  t.same(registry.calls.changedSince, [undefined], 'the first request started the first poll (its clock only)');
  t.same(await directory.resolve('carbon.super'), { id: -1234, domain: 'carbon.super', active: true, ownerId: null }, 'the super tenant is never looked up');

  // Another instance deactivates a.com and creates nowhere.example.
  registry.change(record(1, 'a.com', false));
  registry.change(record(3, 'nowhere.example'));
  clock += 4_999;
  await directory.resolve('a.com');
  t.equal(registry.calls.changedSince.length, 1, 'no poll before the period is over');
  clock += 1;
  await directory.resolve('a.com');
  await settle();
  t.equal(registry.calls.changedSince.length, 2);
  t.same(registry.calls.changedSince[1], new Date(1_000_000 - 30_000), 'since the last poll, less the overlap');
  t.match(await directory.resolve('a.com'), { active: false }, 'the deactivation is seen');
  t.match(await directory.resolve('nowhere.example'), { id: 3 }, 'a domain remembered as unknown is found once created');
  t.equal(registry.calls.findByDomain, 2, 'no lookup for either');
});

t.test('a failed poll keeps what is remembered, and the next period tries again', async (t) => {
  let clock = 0;
  const registry = fakeRegistry([record(1, 'a.com')]);
  const directory = new TenantDirectory(registry.repo, 5_000, 100, () => clock);
  await directory.resolve('a.com');
  await settle();
  registry.fail(true);
  clock += 5_000;
  t.match(await directory.resolve('a.com'), { id: 1, active: true });
  await settle();
  registry.fail(false);
  registry.change(record(1, 'a.com', false));
  clock += 5_000;
  await directory.resolve('a.com');
  await settle();
  t.match(await directory.resolve('a.com'), { active: false });
  t.equal(registry.calls.changedSince.length, 3);
});

t.test('forget drops an entry at once; the bound holds', async (t) => {
  const registry = fakeRegistry([record(1, 'a.com'), record(2, 'b.com'), record(3, 'c.com')]);
  const directory = new TenantDirectory(registry.repo, 5_000, 2, () => 0);
  await directory.resolve('a.com');
  directory.forget('A.COM');
  await directory.resolve('a.com');
  t.equal(registry.calls.findByDomain, 2);
  await directory.resolve('b.com');
  await directory.resolve('c.com');
  await directory.resolve('a.com');
  t.equal(registry.calls.findByDomain, 5, 'two entries at most: a.com, the oldest, was evicted');
});
