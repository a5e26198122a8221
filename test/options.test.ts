// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import { checkQoS, checkTopic, parseSize } from '../src/options.js';

describe('sizes', () => {
  it('accepts bytes and K/M/G/T suffixes in powers of 1024', () => {
    expect(parseSize(4096, 'x')).toBe(4096);
    expect(parseSize('64K', 'x')).toBe(65536);
    expect(parseSize('256m', 'x')).toBe(256 * 2 ** 20);
    expect(parseSize('1GiB', 'x')).toBe(2 ** 30);
    expect(parseSize('2T', 'x')).toBe(2 * 2 ** 40);
  });

  it.each(['', 'garbage', '12Q', '-5', '1.5M', 0, -1, 1.5, Number.NaN])(
    'refuses %j with an error naming the option', (v) => {
      expect(() => parseSize(v as never, 'poolSize')).toThrow(InvalidArgumentError);
      expect(() => parseSize(v as never, 'poolSize')).toThrow(/poolSize/);
    });
});

describe('topic names', () => {
  it('accepts the names the module accepts', () => {
    expect(checkTopic('/camera/front')).toBe('/camera/front');
    expect(checkTopic('x'.repeat(255))).toHaveLength(255);
    expect(checkTopic('/caméra')).toBe('/caméra');
  });

  it.each(['', 'a b', 'tab\there', 'nul\0', 'x'.repeat(256), 'é'.repeat(128)])(
    'refuses %j before asking the module', (t) => {
      expect(() => checkTopic(t)).toThrow(InvalidArgumentError);
    });
});

describe('QoS', () => {
  it('defaults to depth 10, volatile', () => {
    expect(checkQoS(undefined)).toEqual({ depth: 10, transientLocal: false });
  });

  it('keeps what is given within bounds', () => {
    expect(checkQoS({ depth: 1024, transientLocal: true })).toEqual({ depth: 1024, transientLocal: true });
  });

  it.each([0, 1025, 2.5, -1])('refuses depth %d', (depth) => {
    expect(() => checkQoS({ depth })).toThrow(/depth must be an integer from 1 to 1024/);
  });
});
