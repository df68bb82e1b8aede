#!/usr/bin/env node
// `npm test`: bootstrap (see setup.js), the local S3 server (see s3-server.js), then the Rust core's tests,
// the jest suite and the runnable examples of examples/ (each exits non-zero when what it shows fails).
// Extra arguments go to jest, e.g. `npm test -- __test__/search.spec.ts`.
'use strict'

const path = require('node:path')
const { bootstrap, hostTriple, log, run, root } = require('./setup')
const { ensureS3Server } = require('./s3-server')

/** The examples the README shows, run as a user would: each checks what it shows and exits non-zero when that fails. */
const EXAMPLES = ['examples/langchain.mjs', 'examples/llamaindex.mjs']

bootstrap()
// The object-storage tests run against a real S3-compatible server (moto, from PyPI); without it they skip.
const s3 = ensureS3Server()
if (!s3.ok) log(`the object-storage tests will be skipped: ${s3.reason}`)
// Same profile and --target as the addon build, so the dependency tree is compiled once.
run('cargo', ['test', '--release', '--target', hostTriple()])
run(path.join(root, 'node_modules', '.bin', 'jest'), ['--detectOpenHandles', ...process.argv.slice(2)])
// Only for a whole run: `npm test -- <one spec>` runs just that spec.
if (process.argv.length <= 2) {
  for (const example of EXAMPLES) {
    log(`running ${example}`)
    run(process.execPath, [path.join(root, example)])
  }
}
