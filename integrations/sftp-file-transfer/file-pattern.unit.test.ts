import { describe, expect, it } from 'vitest';
import { patternOf } from '../../activities/file-transfer.js';

describe("an sftp connection's file pattern", () => {
  it('matches whole names with * and ?, every other character as itself', () => {
    const csv = patternOf('payroll-??.csv');
    expect(['payroll-11.csv', 'payroll-ab.csv'].map((n) => csv.test(n))).toEqual([true, true]);
    expect(
      ['payroll-1.csv', 'payroll-11.csvx', 'xpayroll-11.csv', 'payroll-11Xcsv'].some((n) => csv.test(n)),
    ).toBe(false);
    expect(patternOf('*').test('a\nb')).toBe(true);
    expect(patternOf('[a]+(b).*').test('[a]+(b).txt')).toBe(true);
    expect(patternOf('[a]+(b).*').test('a+b.txt')).toBe(false);
  });
});
