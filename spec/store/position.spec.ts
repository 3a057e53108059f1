import { expect } from 'chai';
import {
  decodeCursor,
  encodeCursor,
  isAfter,
  latest,
  ORIGIN,
  type Position,
} from '../../lib/store/position.ts';

describe('Position (the event log place a cursor encodes)', () => {
  describe('encodeCursor / decodeCursor', () => {
    const positions: Position[] = [
      ORIGIN,
      { tx: 0, id: 1 },
      { tx: 0, id: 987_654_321 },
      { tx: 1, id: 0 },
      { tx: 4_294_967_296, id: 12 },
      { tx: Number.MAX_SAFE_INTEGER, id: Number.MAX_SAFE_INTEGER },
    ];

    for (const p of positions) {
      it(`round-trips {tx: ${p.tx}, id: ${p.id}}`, () => {
        expect(decodeCursor(encodeCursor(p))).to.deep.equal(p);
      });
    }

    it('writes a SQLite position (tx 0) as the bare id, a PostgreSQL one as tx-id', () => {
      expect(encodeCursor({ tx: 0, id: 42 })).to.equal('42');
      expect(encodeCursor({ tx: 7, id: 42 })).to.equal('7-42');
    });

    it('reads an absent or empty cursor as "from now" (undefined)', () => {
      expect(decodeCursor(undefined)).to.equal(undefined);
      expect(decodeCursor('')).to.equal(undefined);
    });

    const malformed = [
      'abc',
      '-1',
      '1-',
      '-',
      '1-2-3',
      '01',
      '1-02',
      ' 1',
      '1 ',
      '1.5',
      '1e3',
      '0x10',
      '+1',
      '12345678901234567', // 17 digits: beyond the bound the pattern allows
      '1-12345678901234567',
      '１２', // full-width digits
    ];
    for (const cursor of malformed) {
      it(`reports ${JSON.stringify(cursor)} as 'malformed'`, () => {
        expect(decodeCursor(cursor)).to.equal('malformed');
      });
    }
  });

  describe('isAfter / latest', () => {
    const a = { tx: 1, id: 50 };
    const b = { tx: 2, id: 10 };
    const c = { tx: 2, id: 11 };

    it('orders by tx first, then id', () => {
      expect(isAfter(b, a)).to.equal(true);
      expect(isAfter(a, b)).to.equal(false);
      expect(isAfter(c, b)).to.equal(true);
      expect(isAfter(b, c)).to.equal(false);
    });

    it('is strict: a position is not after itself', () => {
      expect(isAfter(b, { ...b })).to.equal(false);
      expect(isAfter(ORIGIN, ORIGIN)).to.equal(false);
    });

    it('latest picks the later of two, either way round', () => {
      expect(latest(a, b)).to.equal(b);
      expect(latest(b, a)).to.equal(b);
      expect(latest(c, b)).to.equal(c);
      expect(latest(ORIGIN, a)).to.equal(a);
    });
  });
});
