#!/usr/bin/env node
// Entry for `npx cyberactive` / an installed bin: runs the TypeScript CLI through tsx.
require('tsx/cjs');
require('./cyberactive.ts');
