// SPDX-License-Identifier: Apache-2.0
// The module's version is written once (kmod/agnocast_internal.h, what it
// logs and reports through AGNOCAST_VERSION_CMD and MODULE_VERSION); DKMS
// names its tree by kmod/dkms.conf's PACKAGE_VERSION, which must be the same.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const kmod = new URL('../kmod/', import.meta.url);

it("kmod/dkms.conf's PACKAGE_VERSION is the module's version", () => {
  const h = readFileSync(new URL('agnocast_internal.h', kmod), 'utf8');
  const part = (name: string) => h.match(new RegExp(`#define AGNOCAST_VERSION_${name}\\s+(\\d+)`))?.[1];
  const version = ['MAJOR', 'MINOR', 'PATCH'].map(part).join('.');
  expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  const conf = readFileSync(new URL('dkms.conf', kmod), 'utf8');
  expect(conf.match(/^PACKAGE_VERSION="([^"]+)"$/m)?.[1]).toBe(version);
  expect(conf).toContain(`/usr/src/agnocast-${version}`);
});
