#!/usr/bin/env node
// What a linux binary needs from the C library it will meet: the newest `GLIBC_` symbol version it imports, the
// `GLIBCXX_` / `CXXABI_` versions (libstdc++) and the shared libraries it names (`NEEDED`), read with `objdump`.
// `npm run package` checks the published linux-gnu binary with it: built against the glibc 2.17 floor, it must need
// nothing newer, and no libstdc++ at all (zig links libc++ into it).
//
//   node scripts/check-glibc.js <file.node> [--max 2.17] [--no-libstdcxx]
//
// Prints one JSON line; exits 1 when the binary needs more than `--max` (or libstdc++ with --no-libstdcxx).
'use strict'

const { spawnSync } = require('node:child_process')

/** `a` compared with `b` as dotted version numbers (2.17 < 2.28 < 2.35). */
function compareVersions(a, b) {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i += 1) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** The newest of `versions`, or null. */
function newest(versions) {
  return versions.reduce((best, v) => (best === null || compareVersions(v, best) > 0 ? v : best), null)
}

/** Reads what `file` needs: { glibc, glibcxx, cxxabi, needed } (the newest version of each, the NEEDED libraries). */
function requirements(file) {
  const symbols = spawnSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 256 << 20 })
  if (symbols.error) throw new Error(`objdump is needed to read ${file} (Debian/Ubuntu: apt-get install binutils): ${symbols.error.message}`)
  if (symbols.status !== 0) throw new Error(`objdump -T ${file} failed: ${symbols.stderr}`)
  const headers = spawnSync('objdump', ['-p', file], { encoding: 'utf8', maxBuffer: 64 << 20 })
  const versions = (prefix) => [...symbols.stdout.matchAll(new RegExp(`\\b${prefix}_([0-9]+(?:\\.[0-9]+)+)\\b`, 'g'))].map((m) => m[1])
  const needed = [...(headers.stdout ?? '').matchAll(/^\s*NEEDED\s+(\S+)/gm)].map((m) => m[1])
  return { glibc: newest(versions('GLIBC')), glibcxx: newest(versions('GLIBCXX')), cxxabi: newest(versions('CXXABI')), needed }
}

/** What is wrong with `found` against the floor `max` (and no libstdc++ when `noLibstdcxx`): a list of sentences. */
function problems(found, { max, noLibstdcxx }) {
  const wrong = []
  if (max && found.glibc && compareVersions(found.glibc, max) > 0) wrong.push(`it needs GLIBC_${found.glibc}, newer than the floor ${max}`)
  if (noLibstdcxx && (found.glibcxx || found.cxxabi || found.needed.some((lib) => lib.startsWith('libstdc++')))) {
    wrong.push(`it needs libstdc++ (${[found.glibcxx && `GLIBCXX_${found.glibcxx}`, found.cxxabi && `CXXABI_${found.cxxabi}`].filter(Boolean).join(', ') || 'NEEDED'})`)
  }
  return wrong
}

/** Throws when `file` needs more than the floor allows; returns what it needs. */
function checkFloor(file, options) {
  const found = requirements(file)
  const wrong = problems(found, options)
  if (wrong.length) throw new Error(`${file}: ${wrong.join('; ')}`)
  return found
}

if (require.main === module) {
  const args = process.argv.slice(2)
  const file = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--max')
  const max = args.includes('--max') ? args[args.indexOf('--max') + 1] : null
  if (!file) {
    console.error('usage: node scripts/check-glibc.js <file.node> [--max 2.17] [--no-libstdcxx]')
    process.exit(2)
  }
  const found = requirements(file)
  const wrong = problems(found, { max, noLibstdcxx: args.includes('--no-libstdcxx') })
  console.log(JSON.stringify({ file, ...found, ok: wrong.length === 0, problems: wrong }))
  if (wrong.length) process.exit(1)
}

module.exports = { checkFloor, compareVersions, problems, requirements }
