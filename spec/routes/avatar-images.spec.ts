import { crc32 } from 'node:zlib';
import { expect } from 'chai';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const GIF_1X1 = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** A PNG chunk with its length and CRC. */
function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A well-formed PNG whose header claims width × height pixels. */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([PNG_1X1.subarray(0, 8), chunk('IHDR', ihdr), chunk('IEND', Buffer.alloc(0))]);
}

describe('Avatars are parsed whole, capped and served inert (issue 12, item 15)', () => {
  const t = useServer({ users: ['alice'] });
  const upload = (bytes: Buffer, type = 'image/png') =>
    t.users.alice.api.put(`/users/${t.users.alice.id}/avatar`, new Uint8Array(bytes), {
      'Content-Type': type,
    });

  it('refuses a PNG with HTML after its end', async () => {
    expectProblem(
      await upload(Buffer.concat([PNG_1X1, Buffer.from('<html><script>alert(1)</script>')])),
      415,
    );
  });

  it('refuses PNG magic followed by HTML', async () => {
    expectProblem(await upload(Buffer.concat([PNG_1X1.subarray(0, 8), Buffer.from('<html>hi</html>')])), 415);
  });

  it('refuses a GIF with JavaScript after its trailer', async () => {
    expectProblem(await upload(Buffer.concat([GIF_1X1, Buffer.from('\n;alert(1)//')]), 'image/gif'), 415);
  });

  it('refuses a 14-byte "WebP"', async () => {
    expectProblem(await upload(Buffer.from('RIFF\x06\x00\x00\x00WEBPxx', 'latin1'), 'image/webp'), 415);
  });

  it('refuses a PNG claiming 2^31 pixels with 413', async () => {
    expectProblem(await upload(pngClaiming(65_536, 32_768)), 413);
  });

  it('serves an avatar with a CSP that forbids everything and Content-Disposition: inline', async () => {
    const res = await upload(PNG_1X1);
    expect(res.status, res.text).to.equal(200);
    const served = await t.users.alice.api.get(res.body.avatarUrl);
    expect(served.status).to.equal(200);
    expect(served.headers.get('content-security-policy')).to.equal("default-src 'none'; sandbox");
    expect(served.headers.get('content-disposition')).to.equal('inline');
    expect(served.headers.get('x-content-type-options')).to.equal('nosniff');
  });
});
