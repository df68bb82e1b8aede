#!/usr/bin/env node
// `npm test`: bootstrap (see setup.js), then the Rust core's tests and the jest suite.
// Extra arguments go to jest, e.g. `npm test -- __test__/search.spec.ts`.
'use strict'

const path = require('node:path')
const { bootstrap, run, root } = require('./setup')

bootstrap()
run('cargo', ['test', '--release'])
run(path.join(root, 'node_modules', '.bin', 'jest'), ['--detectOpenHandles', ...process.argv.slice(2)])
