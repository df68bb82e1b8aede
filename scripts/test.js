#!/usr/bin/env node
// `npm test`: bootstrap (see setup.js), then the Rust core's tests and the jest suite.
// Extra arguments go to jest, e.g. `npm test -- __test__/search.spec.ts`.
'use strict'

const path = require('node:path')
const { bootstrap, hostTriple, run, root } = require('./setup')

bootstrap()
// Same profile and --target as the addon build, so the dependency tree is compiled once.
run('cargo', ['test', '--release', '--target', hostTriple()])
run(path.join(root, 'node_modules', '.bin', 'jest'), ['--detectOpenHandles', ...process.argv.slice(2)])
