/** The XOR of nothing: the checksum of no records. */
export const EMPTY_CHECKSUM = '0'.repeat(64);

/** XOR of two hex digests of equal length: combines page checksums in any order. */
export function xorHex(a: string, b: string): string {
  let out = '';
  for (let i = 0; i < a.length; i += 8) {
    const word = (parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16)) >>> 0;
    out += word.toString(16).padStart(8, '0');
  }
  return out;
}
