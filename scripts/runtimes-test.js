#!/usr/bin/env node
// Runs scripts/smoke.mjs (open, add, exact / graph / words / hybrid search, coded rejections, close) under
// every runtime we claim: Node.js, Bun and Deno (from the npm registry, pinned, installed once into
// ~/.cache/lancestore/runtimes), and Node.js on an emulated x86-64-v2 CPU (`qemu-x86_64 -cpu Nehalem`, from
// Debian's qemu-user, installed when missing and running as root on Debian/Ubuntu; skipped with the reason
// otherwise, or off x86-64 Linux). CI runs it from scripts/install-test.js with `LANCESTORE_PACKAGE` set to the
// package installed from the packed tarballs; without it, this checkout is tested. Exit code 1 when any runtime fails.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const BUN = '1.4.5'
const DENO = '2.9.6'
const root = path.resolve(__dirname, '..')
const smoke = path.join(__dirname, 'smoke.mjs')
const runtimes = process.env.LANCESTORE_RUNTIMES_DIR || path.join(os.homedir(), '.cache', 'lancestore', 'runtimes')

function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 15 * 60_000, ...options })
}

/** The path of an npm-installed runtime's executable, installing the pinned versions first if needed. */
function npmRuntime(name) {
  const bin = path.join(runtimes, 'node_modules', '.bin', name)
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(runtimes, { recursive: true })
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const r = run(npm, ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', runtimes, `bun@${BUN}`, `deno@${DENO}`], { stdio: 'inherit' })
    if (r.status !== 0) return { skip: `could not install bun@${BUN} and deno@${DENO} from the npm registry` }
  }
  return fs.existsSync(bin) ? { bin } : { skip: `${name} is not in ${runtimes} after the install` }
}

/** `qemu-x86_64`, installed from Debian's qemu-user when missing and allowed. */
function qemu() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { skip: 'the CPU-baseline run is for x86-64 Linux' }
  const has = () => run('qemu-x86_64', ['--version']).status === 0
  if (!has() && process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    console.log('[runtimes] installing qemu-user (Debian) for the CPU-baseline run')
    run('apt-get', ['install', '-y', '-q', 'qemu-user'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  }
  return has() ? { bin: 'qemu-x86_64' } : { skip: 'qemu-x86_64 is missing (Debian: apt-get install qemu-user)' }
}

function main() {
  const env = { ...process.env }
  const cases = [
    ['node', () => ({ bin: process.execPath }), (bin) => [bin, [smoke]]],
    ['bun', () => npmRuntime('bun'), (bin) => [bin, [smoke]]],
    ['deno', () => npmRuntime('deno'), (bin) => [bin, ['run', '--allow-all', '--quiet', smoke]]],
    // Nehalem: SSE4.2, no AVX. Anything outside run-time-dispatched kernels that needs more faults here.
    ['node on qemu -cpu Nehalem', qemu, (bin) => [bin, ['-cpu', 'Nehalem', process.execPath, smoke]]],
  ]
  let failed = 0
  for (const [name, find, argv] of cases) {
    const found = find()
    if (found.skip) {
      console.log(`[runtimes] ${name}: skipped: ${found.skip}`)
      continue
    }
    const [command, args] = argv(found.bin)
    const started = Date.now()
    const r = run(command, args, { cwd: root, env })
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    const last = (r.stdout || '').trim().split('\n').pop()
    if (r.status === 0 && last.startsWith('{"ok":true')) {
      console.log(`[runtimes] ${name}: ok in ${seconds} s ${last}`)
    } else {
      failed++
      console.log(`[runtimes] ${name}: FAILED (exit ${r.status ?? r.signal}) in ${seconds} s\n${(r.stdout || '').slice(-2000)}\n${(r.stderr || '').slice(-4000)}`)
    }
  }
  if (failed) process.exit(1)
}

main()
