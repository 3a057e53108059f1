import { imageSize } from 'image-size';
import { tooLarge, unsupportedMediaType } from '../http/problems.ts';

/** Most pixels an avatar may have (4096 × 4096): a small file must not decode to gigabytes. */
export const MAX_AVATAR_PIXELS = 4096 * 4096;

const CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
};

const notAnImage = () => unsupportedMediaType('The avatar must be a whole PNG, JPEG, WebP or GIF image.');

/**
 * The avatar's content type, once its header and dimensions parse (image-size) and its container
 * ends where the upload does (zero padding aside): nothing may ride behind a valid image (a PNG
 * followed by HTML, a GIF followed by script). Throws 415 for anything else and 413 beyond MAX_AVATAR_PIXELS.
 */
export function checkAvatarImage(bytes: Buffer): string {
  let size: { width: number; height: number; type?: string | undefined };
  try {
    size = imageSize(bytes);
  } catch {
    throw notAnImage();
  }
  const contentType = size.type ? CONTENT_TYPES[size.type] : undefined;
  if (!contentType || !size.width || !size.height || !endsWithTheUpload(size.type!, bytes))
    throw notAnImage();
  if (size.width * size.height > MAX_AVATAR_PIXELS) {
    throw tooLarge(`The avatar is ${size.width}×${size.height}; at most ${MAX_AVATAR_PIXELS} pixels.`);
  }
  return contentType;
}

/**
 * Where the container, walked from its start, ends (-1 if it cannot tell). Only zero bytes may
 * follow that end (padding, which no browser can read as markup or script).
 */
const CONTAINER_END: Record<string, (b: Buffer, unpadded: number) => number> = {
  png: pngEnd,
  gif: (b, unpadded) => (b[unpadded - 1] === 0x3b ? unpadded : -1),
  webp: (b) => (b.length >= 12 ? b.readUInt32LE(4) + 8 : -1),
  // Without decoding, a JPEG's end is its last EOI marker: nothing may follow it. (A JPEG cut short
  // before any EOI has no end to check; it is served with nosniff and a sandbox all the same.)
  jpg: (b, unpadded) => {
    const eoi = b.lastIndexOf(EOI);
    if (eoi === -1) return b.length;
    return eoi + 2 === unpadded ? unpadded : -1;
  },
};
const EOI = Buffer.from([0xff, 0xd9]);

function endsWithTheUpload(type: string, b: Buffer): boolean {
  let unpadded = b.length;
  while (unpadded > 0 && b[unpadded - 1] === 0) unpadded--;
  const end = CONTAINER_END[type]?.(b, unpadded) ?? -1;
  return end >= unpadded && end <= b.length;
}

/** The offset just past the PNG's IEND chunk, walking its chunks (length, type, data, CRC). */
function pngEnd(b: Buffer): number {
  let offset = 8;
  while (offset + 12 <= b.length) {
    const length = b.readUInt32BE(offset);
    const type = b.toString('latin1', offset + 4, offset + 8);
    offset += 12 + length;
    if (type === 'IEND') return offset;
  }
  return -1;
}
