#!/usr/bin/env node
// Entry of the `e2code` CLI. Builds the bundle on first use so that `npm ci && npx e2code ...` works
// on a fresh clone (npm ci runs no lifecycle scripts here: see .npmrc).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
}
require(cli);
