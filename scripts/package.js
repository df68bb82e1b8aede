#!/usr/bin/env node
// `npm run package`: builds the published binary and writes the npm tarballs, ready to publish —
// `lancestore-<version>.tgz` (the JavaScript entry points and typings; it depends on the platform packages
// through `optionalDependencies`) and one `lancestore-<platform>-<version>.tgz` per binary (the `.node` file,
// with `os`/`cpu`/`libc` so npm installs only the one that fits).
//
//   node scripts/package.js [--profile dist|release] [--glibc 2.17|native] [--out <dir>] [--artifacts <dir>]
//                           [--build-only [--target <triple>]]
//
// --profile dist     (default) the lean Cargo profile for published binaries: fat LTO, one codegen unit,
//                    slow to build (about an hour from cold here); release is the everyday profile, which
//                    the install test uses so CI stays fast.
// --glibc 2.17       (default with the dist profile) linux-gnu binaries are built against glibc 2.17 — zig as the
//                    C/C++ compiler and linker, through cargo-zigbuild (both installed on first use: zig from
//                    PyPI's `ziglang`, cargo-zigbuild by napi) — and checked with scripts/check-glibc.js: no
//                    symbol newer than GLIBC_2.17, no libstdc++ (zig links libc++ in) — and, on an x64 host, loaded
//                    with glibc 2.17's own loader (scripts/floor-load-test.js). `native` (the default with
//                    the release profile) builds with the machine's own compiler and C library.
// --build-only       build the binary into --out and stop (the release workflow packs later, with --artifacts);
//                    --target picks the target (default: this machine's).
// --out <dir>        where the tarballs go (default: dist/).
// --artifacts <dir>  pack binaries built elsewhere (the release workflow downloads one per target) instead
//                    of building: every target in package.json `napi.targets` must be there.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { checkFloor } = require('./check-glibc')
const { loadWithFloor } = require('./floor-load-test')
const { buildEnv, fail, has, hostTriple, log, prerequisites, root, run } = require('./setup')

/** The glibc the published linux-gnu binaries are built against (the oldest still in wide use: CentOS 7, Amazon Linux 2). */
const GLIBC_FLOOR = '2.17'
/** zig's version from PyPI (`ziglang`): the compiler and linker of the floor build. */
const ZIG_VERSION = '0.17.1'

/** napi-rs's name for each target triple we publish: the suffix of `npm/<name>/` and of the `.node` file. */
const PLATFORM_OF_TARGET = {
  'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
  'aarch64-unknown-linux-gnu': 'linux-arm64-gnu',
  'x86_64-apple-darwin': 'darwin-x64',
  'aarch64-apple-darwin': 'darwin-arm64',
  'x86_64-pc-windows-msvc': 'win32-x64-msvc',
  'aarch64-pc-windows-msvc': 'win32-arm64-msvc',
}

/** The published target this Node.js runs on (from Node itself, so no Rust toolchain is needed to ask). */
function hostTarget() {
  const key = `${process.platform}-${process.arch}`
  const target = Object.keys(PLATFORM_OF_TARGET).find((t) => PLATFORM_OF_TARGET[t].startsWith(key))
  if (!target) fail(`no published target for ${key}; published: ${Object.values(PLATFORM_OF_TARGET).join(', ')}`)
  return target
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'))
}

function writeJson(file, value) {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`)
}

function platformOf(target) {
  const platform = PLATFORM_OF_TARGET[target]
  if (!platform) fail(`no npm platform package is defined for target ${target} (scripts/package.js)`)
  return platform
}

const USAGE =
  'usage: node scripts/package.js [--profile dist|release] [--glibc 2.17|native] [--out <dir>] [--artifacts <dir>] ' +
  '[--build-only [--target <triple>]]'

function parseArgs(argv) {
  const options = { profile: 'dist', glibc: null, out: path.join(root, 'dist'), artifacts: null, buildOnly: false, target: null }
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i]
    const value = argv[i + 1]
    if (flag === '--build-only') {
      options.buildOnly = true
      continue
    }
    if (flag === '--profile' && (value === 'dist' || value === 'release')) options.profile = value
    else if (flag === '--glibc' && (value === GLIBC_FLOOR || value === 'native')) options.glibc = value
    else if (flag === '--out' && value) options.out = path.resolve(value)
    else if (flag === '--artifacts' && value) options.artifacts = path.resolve(value)
    else if (flag === '--target' && value) options.target = value
    else fail(`${USAGE} (got ${flag})`)
    i += 1
  }
  options.glibc ??= options.profile === 'dist' ? GLIBC_FLOOR : 'native'
  return options
}

/** Makes sure `zig` runs (on PATH, or PyPI's `ziglang` for python3), installing `ziglang` with pip if needed. */
function ensureZig() {
  if (has('zig', ['version']) || has('python3', ['-m', 'ziglang', 'version'])) return
  log(`zig is missing: installing it from PyPI (ziglang==${ZIG_VERSION}) for the glibc ${GLIBC_FLOOR} build`)
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--user', `ziglang==${ZIG_VERSION}`], { stdio: 'inherit' })
  if (pip.status === 0 && has('python3', ['-m', 'ziglang', 'version'])) return
  fail(
    `zig is needed to build the linux binary against glibc ${GLIBC_FLOOR} and could not be installed.\n` +
      `  pip install ziglang==${ZIG_VERSION}   (or put zig ${ZIG_VERSION} on PATH)\n` +
      '  or build against this machine\'s own glibc: --glibc native',
  )
}

/** Whether `target` is a linux glibc target (the ones built against the floor). */
function isLinuxGnu(target) {
  return /-linux-gnu$/.test(target)
}

/**
 * Builds `target`'s binary with the given profile into `buildDir`; returns { [target]: path of the `.node` file }.
 * A linux-gnu target is built against `glibc` (unless 'native') and checked against it.
 */
function buildBinary({ profile, glibc, target, buildDir }) {
  prerequisites()
  const napi = path.join(root, 'node_modules', '.bin', 'napi')
  const profileArgs = profile === 'release' ? ['--release'] : ['--profile', profile]
  const floor = isLinuxGnu(target) && glibc !== 'native'
  const env = buildEnv()
  let targetArgs = ['--target', target]
  if (floor) {
    ensureZig()
    // cargo-zigbuild reads the glibc version from the target's suffix. numkong (usearch's SIMD kernels) inlines
    // popcnt intrinsics into functions not marked for popcnt, which clang (zig) refuses and GCC accepts; popcnt is
    // part of the x86-64-v2 baseline the binary already needs.
    targetArgs = ['--target', `${target}.${glibc}`, '--cross-compile']
    if (target.startsWith('x86_64-')) {
      const name = `CFLAGS_${target.replace(/-/g, '_')}`
      env[name] = [env[name], '-mpopcnt'].filter(Boolean).join(' ')
    }
  }
  console.log(`[lancestore package] building ${target} with the ${profile} profile${floor ? ` against glibc ${glibc} (zig)` : ''}`)
  const started = Date.now()
  // Typings and the JS loader are committed; this build only needs the binary.
  run(napi, ['build', '--platform', ...profileArgs, ...targetArgs, '--output-dir', buildDir, '--no-js'], { env })
  const file = path.join(buildDir, `lancestore.${platformOf(target)}.node`)
  if (!fs.existsSync(file)) fail(`the build wrote no ${path.basename(file)} in ${buildDir}`)
  console.log(`[lancestore package] built ${path.basename(file)} in ${((Date.now() - started) / 60_000).toFixed(1)} min`)
  if (floor) {
    try {
      const found = checkFloor(file, { max: glibc, noLibstdcxx: true })
      console.log(`[lancestore package] ${path.basename(file)} needs GLIBC_${found.glibc} at most, no libstdc++ (${found.needed.join(', ')})`)
      // And it loads with glibc 2.17's own loader and libraries (an x64 host can run an x64 binary only).
      if (target === 'x86_64-unknown-linux-gnu' && process.platform === 'linux' && process.arch === 'x64') {
        const load = loadWithFloor(file)
        if (!load.loaded) fail(`${path.basename(file)} does not load with glibc ${glibc}'s own loader: ${load.said}`)
        console.log(`[lancestore package] ${path.basename(file)} loads with glibc ${glibc}'s own loader and libraries`)
      }
    } catch (err) {
      fail(err.message)
    }
  }
  return { [target]: file }
}

/** Finds `lancestore.<platform>.node` for every published target under `dir` (any depth). */
function findArtifacts(dir, targets) {
  const found = {}
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name)
      if (entry.isDirectory()) walk(full)
      else found[entry.name] = full
    }
  }
  walk(dir)
  const binaries = {}
  for (const target of targets) {
    const name = `lancestore.${platformOf(target)}.node`
    if (!found[name]) fail(`${name} (target ${target}) is missing from ${dir}`)
    binaries[target] = found[name]
  }
  return binaries
}

function npmPack(dir, out) {
  const r = spawnSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: dir, encoding: 'utf8', env: buildEnv() })
  if (r.status !== 0) fail(`npm pack failed in ${dir}:\n${r.stderr}`)
  const [info] = JSON.parse(r.stdout)
  return { file: path.join(out, info.filename), size: info.size, unpackedSize: info.unpackedSize, files: info.files.map((f) => f.path) }
}

/** Stages and packs one platform package from `npm/<platform>/` plus its binary. */
function packPlatform(target, binary, version, stage, out) {
  const platform = platformOf(target)
  const source = path.join(root, 'npm', platform)
  const dir = path.join(stage, platform)
  fs.mkdirSync(dir, { recursive: true })
  const manifest = readJson(path.join(source, 'package.json'))
  manifest.version = version
  writeJson(path.join(dir, 'package.json'), manifest)
  fs.copyFileSync(path.join(source, 'README.md'), path.join(dir, 'README.md'))
  fs.copyFileSync(path.join(root, 'LICENSE'), path.join(dir, 'LICENSE'))
  fs.copyFileSync(binary, path.join(dir, manifest.main))
  return { target, binaryBytes: fs.statSync(binary).size, ...npmPack(dir, out) }
}

/**
 * Stages and packs the main package: the files listed in package.json `files`, and a manifest for users —
 * no scripts or devDependencies, and `optionalDependencies` on every platform package at this version
 * (npm installs only the one whose os/cpu/libc fit).
 */
function packMain(manifest, targets, stage, out) {
  const dir = path.join(stage, 'main')
  fs.mkdirSync(dir, { recursive: true })
  for (const file of manifest.files) fs.cpSync(path.join(root, file), path.join(dir, file), { recursive: true })
  // Bundled dependencies (the CLI's argument parser) travel inside the tarball, so installing needs no registry.
  for (const name of manifest.bundleDependencies ?? []) {
    const from = path.join(root, 'node_modules', name)
    if (!fs.existsSync(from)) fail(`bundled dependency ${name} is not installed: run npm ci`)
    fs.cpSync(from, path.join(dir, 'node_modules', name), { recursive: true })
  }
  for (const file of ['README.md', 'LICENSE']) fs.copyFileSync(path.join(root, file), path.join(dir, file))
  const published = { ...manifest }
  delete published.scripts
  delete published.devDependencies
  delete published.jest
  published.optionalDependencies = Object.fromEntries(
    targets.map((target) => [`${manifest.name}-${platformOf(target)}`, manifest.version]),
  )
  writeJson(path.join(dir, 'package.json'), published)
  return npmPack(dir, out)
}

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

/**
 * Writes every tarball to `out` and returns what it wrote. The binaries are `options.binaries`
 * ({ target: file }), else found under `options.artifacts`, else built for this machine with `options.profile`.
 */
function pack(options) {
  const manifest = readJson(path.join(root, 'package.json'))
  const stage = path.join(options.out, 'stage')
  fs.rmSync(stage, { recursive: true, force: true })
  fs.mkdirSync(stage, { recursive: true })
  const targets = manifest.napi.targets
  let binaries = options.binaries
  if (!binaries && options.artifacts) binaries = findArtifacts(options.artifacts, targets)
  if (!binaries) {
    const target = options.target ?? hostTriple()
    binaries = buildBinary({ profile: options.profile, glibc: options.glibc, target, buildDir: path.join(stage, 'build') })
  }
  const platforms = Object.entries(binaries).map(([target, binary]) =>
    packPlatform(target, binary, manifest.version, stage, options.out),
  )
  const main = packMain(manifest, targets, stage, options.out)
  fs.rmSync(stage, { recursive: true, force: true })
  return { main, platforms }
}

if (require.main === module) {
  const options = parseArgs(process.argv.slice(2))
  if (options.buildOnly) {
    const target = options.target ?? hostTriple()
    buildBinary({ profile: options.profile, glibc: options.glibc, target, buildDir: options.out })
    process.exit(0)
  }
  const result = pack(options)
  console.log(`[lancestore package] ${path.relative(process.cwd(), result.main.file)}: ${megabytes(result.main.size)} (${result.main.files.join(', ')})`)
  for (const p of result.platforms) {
    console.log(
      `[lancestore package] ${path.relative(process.cwd(), p.file)}: ${megabytes(p.size)} packed, ` +
        `binary ${megabytes(p.binaryBytes)} (${p.target})`,
    )
  }
}

module.exports = { GLIBC_FLOOR, hostTarget, pack, PLATFORM_OF_TARGET }
