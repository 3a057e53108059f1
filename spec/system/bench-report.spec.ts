import { expect } from 'chai';
import { combineRuns, ratioOf, spreadText, textTable, verdict } from '../../bench/lib/report.ts';
import type { Goal, Row } from '../../bench/lib/types.ts';
import { occurrences } from '../../bench/load/wire.ts';

const row = (metric: string, parley: number, floor: number, goal: Goal): Row => ({
  scenario: 'demo',
  size: 'toy',
  metric,
  unit: 'ms',
  parley,
  floor,
  goal,
});

// `npm run bench -- --runs 5` reports, per row, the median ratio and the spread of the ratios.
describe('bench report: several runs combined', () => {
  const runs = [
    [row('p99', 30, 10, { kind: 'at-most', ratio: 2 }), row('errors', 0, 0, { kind: 'zero' })],
    [row('p99', 12, 10, { kind: 'at-most', ratio: 2 }), row('errors', 2, 0, { kind: 'zero' })],
    [row('p99', 15, 10, { kind: 'at-most', ratio: 2 }), row('errors', 0, 0, { kind: 'zero' })],
  ];

  it('judges the median of the runs’ ratios and shows their min–max', () => {
    const [p99] = combineRuns(runs);
    expect(ratioOf(p99!)).to.equal(1.5);
    expect(verdict(p99!)).to.equal('yes');
    expect(p99!.parley).to.equal(15);
    expect(spreadText(p99!)).to.equal('1.20–3.00× (3)');
  });

  it('keeps the largest count of a row that must be zero, so one bad run shows', () => {
    const [, errors] = combineRuns(runs);
    expect(errors!.parley).to.equal(2);
    expect(verdict(errors!)).to.equal('NO');
  });

  it('adds the spread column only when there were several runs', () => {
    expect(textTable(combineRuns(runs)).split('\n')[0]).to.match(/met\?\s+spread: min–max \(runs\)$/);
    expect(textTable(runs[0]!).split('\n')[0]).to.match(/met\?$/);
  });

  it('judges a goal on Parley’s own figure (a rate to reach) by its median', () => {
    const rate = (parley: number) => [row('rate', parley, 8000, { kind: 'value-at-least', value: 3000 })];
    const [combined] = combineRuns([rate(2000), rate(3500), rate(4000)]);
    expect(combined!.parley).to.equal(3500);
    expect(verdict(combined!)).to.equal('yes');
    expect(spreadText(combined!)).to.equal('2,000–4,000 (3)');
  });
});

describe('bench load: counting frames across chunks', () => {
  it('counts a frame split between two chunks once', () => {
    const count = occurrences('event: presence.updated');
    expect(count('data: x\n\nevent: pres')).to.equal(0);
    expect(count('ence.updated\ndata: y\n\nevent: presence.updated\n')).to.equal(2);
    expect(count('data: z\n\n')).to.equal(0);
  });
});
