import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VERSION } from '../../src/core/version';
import pkg from '../../package.json';

test('version comes from package.json', () => {
  assert.equal(VERSION, pkg.version);
  assert.match(VERSION, /^\d+\.\d+\.\d+/);
});
