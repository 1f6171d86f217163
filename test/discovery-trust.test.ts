import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ReputationModel } from '../discovery/reputation.js';
import { TicketIssuer } from '../discovery/tickets.js';

const test = suite('discovery-trust');

function setup() {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const tickets = new TicketIssuer({ secret: Buffer.alloc(32, 7), lifetimeMs: 120_000, now });
  const reputation = new ReputationModel({ now });
  /** What POST /v1/report will do: gate, then learn from what passed. */
  const report = (ticket: unknown, client: string, reports: { id: string; rttMs?: number }[]) => {
    const { accepted } = tickets.gate(ticket, client, reports);
    for (const r of accepted) reputation.observe(r.id, client, r.rttMs !== undefined);
    return accepted.length;
  };
  return { clock, tickets, reputation, report };
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return 'no error';
};

test("today's report-poisoning request (an honest node listed four times) leaves the node selectable", () => {
  const { tickets, reputation, report } = setup();
  const ticket = tickets.issue('203.0.113.9', ['honest', 'other']);
  assert.is(report(ticket, '203.0.113.9', [{ id: 'honest' }, { id: 'honest' }, { id: 'honest' }, { id: 'honest' }]), 1, 'duplicates count once');
  assert.is(report(ticket, '203.0.113.9', [{ id: 'honest' }]), 0, 'a ticket is redeemed once');
  assert.ok(reputation.selectable('honest'));
  // the same client, fresh tickets, over and over: its weight on the node is capped
  for (let i = 0; i < 20; i++) report(tickets.issue('203.0.113.9', ['honest']), '203.0.113.9', [{ id: 'honest' }]);
  const standing = reputation.standing('honest');
  assert.ok(standing.selectable, `reputation ${standing.reputation}`);
  assert.ok(standing.reputation > 0.5);
});

test('reports without a valid ticket, for another client, or late are refused with codes', () => {
  const { clock, tickets, report } = setup();
  const ticket = tickets.issue('198.51.100.1', ['a']);
  assert.is(codeOf(() => report(undefined, '198.51.100.1', [{ id: 'a' }])), 'TICKET_FORGED');
  assert.is(codeOf(() => report('not.a-ticket', '198.51.100.1', [{ id: 'a' }])), 'TICKET_FORGED');
  const [body, mac] = ticket.split('.') as [string, string];
  const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), n: ['a', 'victim'] })).toString('base64url');
  assert.is(codeOf(() => report(`${altered}.${mac}`, '198.51.100.1', [{ id: 'victim' }])), 'TICKET_FORGED');
  const foreign = new TicketIssuer({ secret: Buffer.alloc(32, 8), now: () => clock.now }).issue('198.51.100.1', ['a']);
  assert.is(codeOf(() => report(foreign, '198.51.100.1', [{ id: 'a' }])), 'TICKET_FORGED');
  assert.is(codeOf(() => report(ticket, '198.51.100.2', [{ id: 'a' }])), 'TICKET_WRONG_CLIENT');
  clock.now += 120_001;
  assert.is(codeOf(() => report(ticket, '198.51.100.1', [{ id: 'a' }])), 'TICKET_EXPIRED');
});

test('a node that was not shortlisted to the reporter cannot be reported or promoted', () => {
  const { tickets, reputation, report } = setup();
  const ticket = tickets.issue('c1', ['near-1', 'near-2']);
  assert.is(report(ticket, 'c1', [{ id: 'victim' }, { id: 'my-own-node', rttMs: 0.1 }, { id: 'near-1', rttMs: 12 }]), 1);
  assert.is(reputation.standing('victim').reputation, 0.9);
});

test('probe reputation can drop a node that many clients cannot reach, and it recovers toward neutral', () => {
  const { clock, tickets, reputation, report } = setup();
  for (let c = 0; c < 10; c++) report(tickets.issue(`client-${c}`, ['flaky']), `client-${c}`, [{ id: 'flaky' }]);
  let standing = reputation.standing('flaky');
  assert.not.ok(standing.selectable);
  assert.is(standing.reason, 'low-reputation');
  clock.now += 60 * 60_000; // six half-lives: no probe needed to come back
  standing = reputation.standing('flaky');
  assert.ok(standing.selectable, `reputation ${standing.reputation}`);
  assert.ok(Math.abs(standing.reputation - 0.9) < 0.02);
});

test('verified offences eject past the threshold, count once per offence, and do not fade', () => {
  const { clock, reputation } = setup();
  assert.not.ok(reputation.offence('cheat', 'cheat/s1/6').ejected);
  assert.not.ok(reputation.offence('cheat', 'cheat/s1/6').ejected, 'the same offence twice is one');
  const standing = reputation.offence('cheat', 'cheat/s2/3');
  assert.ok(standing.ejected);
  assert.is(standing.reason, 'ejected');
  clock.now += 7 * 24 * 3600_000;
  assert.not.ok(reputation.selectable('cheat'));
  reputation.reinstate('cheat');
  assert.ok(reputation.selectable('cheat'));
  assert.throws(() => new ReputationModel({ neutral: 0.4, minReputation: 0.5 }));
});

test.run();
