#!/usr/bin/env node
// Bootstrap shared by `npm run demo`, `npm test` and `npm run bench`: checks Node, installs npm
// packages when missing, checks (or on Debian/Ubuntu as root installs) protoc, checks the Rust
// toolchain, and builds the native addon in release mode. Every missing piece gets a clear message.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.resolve(__dirname, '..')

/** The environment every build and test step runs with: a target dir outside the clone, reused across clones. */
function buildEnv() {
  const env = { ...process.env }
  if (!env.CARGO_TARGET_DIR) env.CARGO_TARGET_DIR = path.join(os.homedir(), '.cache', 'lancestore', 'target')
  return env
}

function fail(message) {
  console.error(`\n[lancestore setup] ${message}\n`)
  process.exit(1)
}

function log(message) {
  console.log(`[lancestore setup] ${message}`)
}

function has(command, args = ['--version']) {
  const r = spawnSync(command, args, { stdio: 'ignore' })
  return r.status === 0
}

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: buildEnv(), ...options })
  if (r.error) fail(`could not run ${command}: ${r.error.message}`)
  if (r.status !== 0) fail(`\`${command} ${args.join(' ')}\` failed with exit code ${r.status}`)
}

function checkNode() {
  const major = Number(process.versions.node.split('.')[0])
  if (major < 20) fail(`Node.js >= 20 is required; this is ${process.version}.`)
}

function ensureNpmPackages() {
  const marker = path.join(root, 'node_modules', '.package-lock.json')
  const lock = path.join(root, 'package-lock.json')
  const fresh = fs.existsSync(marker) && fs.statSync(marker).mtimeMs >= fs.statSync(lock).mtimeMs
  if (fresh && fs.existsSync(path.join(root, 'node_modules', '@napi-rs', 'cli'))) return
  log('installing npm packages (npm ci)')
  run('npm', ['ci', '--no-audit', '--no-fund'])
}

function ensureProtoc() {
  if (process.env.PROTOC && fs.existsSync(process.env.PROTOC)) return
  if (has('protoc')) return
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (isRoot && has('apt-get', ['--version'])) {
    log('protoc is missing: installing Debian package protobuf-compiler')
    run('apt-get', ['update', '-qq'])
    run('apt-get', ['install', '-y', '-qq', 'protobuf-compiler'], { env: { ...buildEnv(), DEBIAN_FRONTEND: 'noninteractive' } })
    if (has('protoc')) return
  }
  fail(
    'protoc (the Protocol Buffers compiler) is needed to build LanceDB and was not found.\n' +
      '  Debian/Ubuntu: sudo apt-get install protobuf-compiler\n' +
      '  macOS:         brew install protobuf\n' +
      '  or set PROTOC=/path/to/protoc',
  )
}

function ensureRust() {
  if (!has('cargo')) {
    fail('cargo (the Rust toolchain) was not found. Install it from https://rustup.rs, then run this again.')
  }
}

/** The HNSW graph (the `usearch` crate) is C++17: the build needs a C++ compiler (CXX, c++ or g++). */
function ensureCxx() {
  const named = process.env.CXX
  if (named ? has(named, ['--version']) : has('c++', ['--version']) || has('g++', ['--version'])) return
  fail(
    'a C++17 compiler is needed to build the HNSW graph (usearch) and was not found.\n' +
      '  Debian/Ubuntu: sudo apt-get install g++\n' +
      '  macOS:         xcode-select --install\n' +
      '  or set CXX=/path/to/compiler',
  )
}

/**
 * On x86_64 Linux (glibc) Rust's allocator is jemalloc (src/memory.rs), whose C sources the
 * tikv-jemalloc-sys crate builds with a configure script and `make`.
 */
function ensureMake() {
  if (process.platform !== 'linux' || process.arch !== 'x64' || process.report?.getReport().header.glibcVersionRuntime === undefined) return
  if (has('make', ['--version'])) return
  fail(
    '`make` is needed to build jemalloc (the allocator used on x86_64 Linux) and was not found.\n' +
      '  Debian/Ubuntu: sudo apt-get install make',
  )
}

/**
 * The host's target triple. `napi build` always passes `--target <triple>`, which puts artifacts under
 * target/<triple>/; `cargo test` gets the same flag so both share one compiled dependency tree.
 */
function hostTriple() {
  const r = spawnSync('rustc', ['-vV'], { encoding: 'utf8' })
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith('host: '))
  if (!line) fail('could not read the host target from `rustc -vV`')
  return line.slice('host: '.length).trim()
}

/** Builds the addon (release). Cargo makes this a quick no-op when nothing changed. */
function buildAddon() {
  log(`building the native addon (release; CARGO_TARGET_DIR=${buildEnv().CARGO_TARGET_DIR})`)
  log('the first build compiles LanceDB (~530 crates) and can take 30 minutes or more')
  run(path.join(root, 'node_modules', '.bin', 'napi'), [
    'build', '--platform', '--release', '--js', 'binding.js', '--dts', 'index.d.ts',
  ])
}

/** Everything a build needs, checked (or installed) with a clear message for each missing piece. */
function prerequisites() {
  checkNode()
  ensureNpmPackages()
  ensureProtoc()
  ensureRust()
  ensureCxx()
  ensureMake()
}

function bootstrap() {
  prerequisites()
  buildAddon()
}

module.exports = { bootstrap, buildEnv, fail, hostTriple, log, prerequisites, run, root }

if (require.main === module) bootstrap()
