#!/usr/bin/env node
// `npm run test:install` (CI runs it): what a user sees after `npm install lancestore`. Packs the tarballs
// (with the everyday release binary, so CI stays fast; `npm run package` makes the lean published one),
// installs them into a fresh temporary project offline — a dead registry, an empty npm cache, no Rust in
// PATH — and there runs CommonJS `require`, ESM `import { EmbeddingStore }`, a strict TypeScript check of a
// small app against the shipped `index.d.ts` (as ESM and as CommonJS), one real add + search, and the
// `lancestore` command from the installed bin. A second
// project installs the main package without its platform package and must get the clear "no binary" error.
// A third has only lancestore and the frameworks (`@langchain/core`, `@llamaindex/core`, packed with their
// dependencies from this repo's node_modules, installed offline too) and runs both adapters from CommonJS and
// ESM, with a strict TypeScript check of the adapters' typings; without the frameworks (the first project),
// `lancestore/langchain` must say which package to install.
// Prints the install time and the tarball sizes.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { hostTarget, pack, PLATFORM_OF_TARGET } = require('./package')
const { bootstrap, root } = require('./setup')

function fail(message) {
  console.error(`\n[install test] FAILED: ${message}\n`)
  process.exit(1)
}

function log(message) {
  console.log(`[install test] ${message}`)
}

/** PATH for the user's side: Node's own directory and the system's, checked to have no cargo or rustc. */
function userPath() {
  const dirs = [...new Set([path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'])]
  for (const tool of ['cargo', 'rustc']) {
    const found = dirs.find((d) => fs.existsSync(path.join(d, tool)))
    if (found) fail(`${tool} is in ${found}, so this run could not show that no Rust is needed`)
  }
  return dirs.join(path.delimiter)
}

/** An environment with no network for npm (a registry nobody listens on, an empty cache) and no Rust. */
function userEnv(work) {
  const env = {
    HOME: path.join(work, 'home'),
    PATH: userPath(),
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_cache: path.join(work, 'npm-cache'),
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  }
  fs.mkdirSync(env.HOME, { recursive: true })
  return env
}

function exec(command, args, cwd, env) {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 5 * 60 * 1000 })
  return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error }
}

function mustExec(what, command, args, cwd, env) {
  const r = exec(command, args, cwd, env)
  if (r.status !== 0) fail(`${what}: exit ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

function newProject(work, name) {
  const dir = path.join(work, name)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name, version: '1.0.0', private: true }, null, 2)}\n`)
  return dir
}

function install(dir, tarballs, env) {
  const t0 = performance.now()
  mustExec(`npm install ${tarballs.map((t) => path.basename(t)).join(' ')}`, 'npm', ['install', '--no-save', ...tarballs], dir, env)
  return performance.now() - t0
}

// The user's code. Each prints one JSON line the test checks.
const CJS_APP = `
const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path')
const { EmbeddingStore, ErrorCode } = require('lancestore')
async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-install-cjs-'))
  const store = await EmbeddingStore.open(dir, { dimension: 3, fields: { lang: 'string' } })
  const { added } = await store.addEmbeddings([
    { id: 'a', vector: [1, 0, 0], metadata: { lang: 'en' } },
    { id: 'b', vector: [0, 1, 0], metadata: { lang: 'de' } },
    { id: 'c', vector: [0.9, 0.1, 0], metadata: { lang: 'de' } },
  ])
  const hits = await store.search([1, 0, 0], { limit: 2, filter: { lang: 'de' } })
  const bad = await store.search([1, 0], {}).then(() => 'resolved', (e) => e.code)
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(JSON.stringify({ added, ids: hits.map((h) => h.id), bad, codes: typeof ErrorCode, from: require.resolve('lancestore') }))
}
main().catch((e) => { console.error(e); process.exit(1) })
`

const ESM_APP = `
import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path'; import { createRequire } from 'node:module'
import lancestore, { EmbeddingStore, ErrorCode } from 'lancestore'
const cjs = createRequire(import.meta.url)('lancestore')
const namespace = await import('lancestore')
const missing = Object.keys(cjs).filter((k) => !k.startsWith('__') && !(k in namespace))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-install-esm-'))
const store = await EmbeddingStore.open(dir, { dimension: 3 })
await store.addEmbeddings([{ id: 'x', vector: [0, 0, 1] }, { id: 'y', vector: [0, 1, 0] }])
const hits = await store.search([0, 0.1, 1], { limit: 1 })
await store.close()
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({ ids: hits.map((h) => h.id), same: EmbeddingStore === cjs.EmbeddingStore && lancestore === cjs && ErrorCode === cjs.ErrorCode, missing }))
`

// Type-checked only (strict). The @ts-expect-error lines fail the check if the typings were loose (any).
const TS_APP = `
import { EmbeddingStore, type SearchHit, type EmbeddingItem } from 'lancestore'

export async function run(dir: string): Promise<string[]> {
  const store: EmbeddingStore = await EmbeddingStore.open(dir, { dimension: 3, fields: { lang: 'string' } })
  const items: EmbeddingItem[] = [{ id: 'a', vector: [1, 0, 0], metadata: { lang: 'en' } }]
  const { added, version }: { added: number; version: number } = await store.addEmbeddings(items)
  const hits: SearchHit[] = await store.search(new Float32Array([1, 0, 0]), { limit: 5, filter: { lang: 'en' } })
  // @ts-expect-error a string is not a vector
  await store.search('not a vector')
  // @ts-expect-error limit is a number
  await store.search([1, 0, 0], { limit: 'ten' })
  await store.close()
  return [String(added + version), ...hits.map((h) => h.id + h.score.toFixed(2))]
}
`

/** A strict check of `source` as ESM and CommonJS; `skipLibCheck` for frameworks whose own typings do not check. */
function typeCheck(dir, source = TS_APP, skipLibCheck = false) {
  fs.writeFileSync(path.join(dir, 'app.mts'), source)
  fs.writeFileSync(path.join(dir, 'app.cts'), source)
  const tsconfig = {
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'es2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      skipLibCheck,
      typeRoots: [path.join(root, 'node_modules', '@types')],
      types: ['node'],
    },
    files: ['app.mts', 'app.cts'],
  }
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2))
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  mustExec('strict TypeScript check (app.mts as ESM, app.cts as CommonJS)', process.execPath, [tsc, '-p', 'tsconfig.json'], dir, process.env)
}

// The adapters, as a user of each framework would call them (deterministic toy embeddings: words hashed).
const TOY_EMBED = `
const embedText = (text) => {
  const v = new Array(16).fill(0)
  for (const word of text.toLowerCase().split(/\\W+/).filter(Boolean)) {
    let h = 2166136261
    for (const ch of word) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0
    v[h % 16] += 1
  }
  return v
}
`

const LANGCHAIN_CJS_APP = `
const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path')
const { Embeddings } = require('@langchain/core/embeddings')
const { LancestoreVectorStore } = require('lancestore/langchain')
${TOY_EMBED}
class Toy extends Embeddings {
  async embedDocuments(texts) { return texts.map(embedText) }
  async embedQuery(text) { return embedText(text) }
}
async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-install-langchain-'))
  const store = await LancestoreVectorStore.fromTexts(['red apples', 'green pears', 'rust compiler'], [{ kind: 'fruit' }, { kind: 'fruit' }, { kind: 'code' }], new Toy({}), { path: dir, fields: { kind: 'string' } })
  const top = await store.asRetriever(1).invoke('red apples')
  const fruit = await store.similaritySearch('rust compiler', 3, { kind: 'fruit' })
  const bad = await store.similaritySearch('x', 1, { nope: 1 }).then(() => 'resolved', (e) => e.code)
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(JSON.stringify({ top: top.map((d) => d.pageContent), fruit: fruit.map((d) => d.pageContent).sort(), bad }))
}
main().catch((e) => { console.error(e); process.exit(1) })
`

const LLAMAINDEX_ESM_APP = `
import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path'
import { TextNode } from '@llamaindex/core/schema'
import { BaseEmbedding } from '@llamaindex/core/embeddings'
import LancestoreVectorStore from 'lancestore/llamaindex'
${TOY_EMBED}
class Toy extends BaseEmbedding { async getTextEmbedding(text) { return embedText(text) } }
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-install-llamaindex-'))
const store = new LancestoreVectorStore({ path: dir, embedModel: new Toy(), fields: { kind: 'string' } })
const node = (id, text, kind) => new TextNode({ id_: id, text, metadata: { kind }, embedding: embedText(text) })
await store.add([node('a', 'red apples', 'fruit'), node('b', 'green pears', 'fruit'), node('c', 'rust compiler', 'code')])
const q = embedText('rust compiler')
const all = await store.query({ queryEmbedding: q, similarityTopK: 1, mode: 'default' })
const fruit = await store.query({ queryEmbedding: q, similarityTopK: 3, mode: 'default', filters: { filters: [{ key: 'kind', value: 'fruit', operator: '==' }] } })
const bad = await store.query({ queryEmbedding: [1], similarityTopK: 1, mode: 'default' }).then(() => 'resolved', (e) => e.code)
await store.close()
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({ top: all.nodes.map((n) => n.getContent()), fruit: fruit.ids.sort(), bad }))
`

// Type-checked only (strict), against the shipped adapter typings and the frameworks' own.
const ADAPTERS_TS_APP = `
import { LancestoreVectorStore as LangChainStore } from 'lancestore/langchain'
import LlamaIndexStore from 'lancestore/llamaindex'
import type { EmbeddingsInterface } from '@langchain/core/embeddings'

export async function run(dir: string, embeddings: EmbeddingsInterface): Promise<number> {
  const lc = await LangChainStore.fromTexts(['a'], [{}], embeddings, { path: dir, fields: { kind: 'string' } })
  const ids: string[] = await lc.addVectors([[1, 0]], [{ pageContent: 'b', metadata: {} }], { ids: ['b'] })
  const hits = await lc.similaritySearchVectorWithScore([1, 0], 2, { kind: 'x' })
  // @ts-expect-error delete takes { ids } or { filter }
  await lc.delete('b')
  const li = new LlamaIndexStore({ path: dir })
  const result = await li.query({ queryEmbedding: [1, 0], similarityTopK: 1, mode: 'default' as never })
  await li.close()
  await lc.close()
  return ids.length + hits.length + result.ids.length
}
`

/** Tarballs of `names` and everything they depend on, packed from this repo's node_modules (no network). */
function packFrameworks(names, out) {
  const packed = new Map()
  const visit = (name, from) => {
    let dir = from
    let found = null
    for (;;) {
      const candidate = path.join(dir, 'node_modules', name)
      if (fs.existsSync(path.join(candidate, 'package.json'))) {
        found = fs.realpathSync(candidate)
        break
      }
      const up = path.dirname(dir)
      if (up === dir) fail(`${name} (needed by ${from}) is not in node_modules: run npm install`)
      dir = up
    }
    if (packed.has(found)) return
    packed.set(found, null)
    const manifest = JSON.parse(fs.readFileSync(path.join(found, 'package.json'), 'utf8'))
    for (const dependency of Object.keys(manifest.dependencies ?? {})) visit(dependency, found)
  }
  for (const name of names) visit(name, root)
  fs.mkdirSync(out, { recursive: true })
  for (const dir of packed.keys()) {
    const json = mustExec(`npm pack ${dir}`, 'npm', ['pack', dir, '--pack-destination', out, '--ignore-scripts', '--json'], root, process.env)
    packed.set(dir, path.join(out, JSON.parse(json)[0].filename))
  }
  return [...packed.values()]
}

function lastJsonLine(output) {
  const lines = output.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-install-'))
  try {
    const out = path.join(work, 'tarballs')
    // The same release build as `npm test` (a no-op when it is current); `--no-build` packs the binary as it is.
    if (!process.argv.includes('--no-build')) bootstrap()
    const target = hostTarget()
    const binary = path.join(root, `lancestore.${PLATFORM_OF_TARGET[target]}.node`)
    if (!fs.existsSync(binary)) fail(`${binary} is missing: run \`npm run build\` first`)
    log(`packing the tarballs with the release binary (${target})`)
    const { main: mainPackage, platforms } = pack({ out, binaries: { [target]: binary } })
    const tarballs = [mainPackage.file, ...platforms.map((p) => p.file)]
    const env = userEnv(work)

    // 1. The whole install: main package + this platform's package.
    const app = newProject(work, 'app')
    const installMs = install(app, tarballs, env)
    log(`offline install of ${tarballs.map((t) => path.basename(t)).join(' + ')}: ${(installMs / 1000).toFixed(1)} s`)
    const platformDir = path.join(app, 'node_modules', path.basename(platforms[0].file).replace(/-\d+\.\d+\.\d+.*\.tgz$/, ''))
    if (!fs.existsSync(platformDir)) fail(`the platform package is not in node_modules (${platformDir})`)

    fs.writeFileSync(path.join(app, 'cjs.cjs'), CJS_APP)
    const cjs = lastJsonLine(mustExec('CommonJS require', process.execPath, ['cjs.cjs'], app, env))
    if (cjs.added !== 3 || cjs.ids.join() !== 'c,b' || cjs.bad !== 'DIMENSION_MISMATCH') fail(`CommonJS app: ${JSON.stringify(cjs)}`)
    if (!cjs.from.startsWith(path.join(app, 'node_modules', 'lancestore'))) fail(`lancestore resolved outside the project: ${cjs.from}`)
    log(`CommonJS: require('lancestore') → add 3, filtered search ${cjs.ids.join(',')}, bad query rejected ${cjs.bad}`)

    fs.writeFileSync(path.join(app, 'esm.mjs'), ESM_APP)
    const esm = lastJsonLine(mustExec('ES module import', process.execPath, ['esm.mjs'], app, env))
    if (esm.ids.join() !== 'x' || !esm.same || esm.missing.length) fail(`ESM app: ${JSON.stringify(esm)}`)
    log(`ESM: import { EmbeddingStore } from 'lancestore' → search ${esm.ids.join(',')}, same objects as CommonJS`)

    // The command line, from the installed package's bin.
    const jsonl = path.join(work, 'cli.jsonl')
    fs.writeFileSync(jsonl, '{"id":"p","vector":[1,0,0]}\n{"id":"q","vector":[0,1,0]}\n')
    const bin = path.join(app, 'node_modules', '.bin', 'lancestore')
    const imported = JSON.parse(mustExec('lancestore import', bin, ['import', path.join(work, 'cli-store'), jsonl, '--dimension', '3', '--json'], app, env))
    if (imported.added !== 2) fail(`lancestore import: ${JSON.stringify(imported)}`)
    log(`CLI: node_modules/.bin/lancestore import → added ${imported.added}`)

    typeCheck(app)
    log('TypeScript: strict check of an ESM and a CommonJS app against the shipped index.d.ts passed')

    // The installed package under every runtime: Node.js, Bun, Deno, and Node.js on an x86-64-v2 CPU (qemu).
    const runtimes = spawnSync(process.execPath, [path.join(__dirname, 'runtimes-test.js')], {
      stdio: 'inherit',
      env: { ...process.env, LANCESTORE_PACKAGE: path.join(app, 'node_modules', 'lancestore') },
    })
    if (runtimes.status !== 0) fail('the smoke test failed under a runtime (see above)')

    const noPeer = exec(process.execPath, ['-e', "try { require('lancestore/langchain') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }"], app, env)
    const peer = noPeer.status === 0 && noPeer.stdout.trim() ? lastJsonLine(noPeer.stdout) : {}
    if (peer.code !== 'ERR_LANCESTORE_PEER_MISSING' || !peer.message.includes('npm install @langchain/core')) {
      fail(`without @langchain/core, require('lancestore/langchain') should say what to install: ${noPeer.stdout}${noPeer.stderr}`)
    }
    log(`without the framework: ${peer.code} ("${peer.message}")`)

    // 3. lancestore and the frameworks only: both adapters, CommonJS and ESM, and their typings.
    const frameworks = newProject(work, 'frameworks')
    const peers = packFrameworks(['@langchain/core', '@llamaindex/core'], path.join(work, 'framework-tarballs'))
    install(frameworks, [...tarballs, ...peers], env)
    fs.writeFileSync(path.join(frameworks, 'langchain.cjs'), LANGCHAIN_CJS_APP)
    const lc = lastJsonLine(mustExec('LangChain.js adapter (CommonJS)', process.execPath, ['langchain.cjs'], frameworks, env))
    if (lc.top.join() !== 'red apples' || lc.fruit.join() !== 'green pears,red apples' || lc.bad !== 'INVALID_FILTER') fail(`LangChain.js app: ${JSON.stringify(lc)}`)
    fs.writeFileSync(path.join(frameworks, 'llamaindex.mjs'), LLAMAINDEX_ESM_APP)
    const li = lastJsonLine(mustExec('LlamaIndex.TS adapter (ESM)', process.execPath, ['llamaindex.mjs'], frameworks, env))
    if (li.top.join() !== 'rust compiler' || li.fruit.join() !== 'a,b' || li.bad !== 'DIMENSION_MISMATCH') fail(`LlamaIndex.TS app: ${JSON.stringify(li)}`)
    // skipLibCheck: @llamaindex/core's own typings import `ajv`, which it does not depend on.
    typeCheck(frameworks, ADAPTERS_TS_APP, true)
    log(`frameworks: lancestore/langchain (CommonJS) and lancestore/llamaindex (ESM) searched, filtered and rejected bad input with codes; ${peers.length} framework packages installed offline; adapter typings pass a strict check`)

    // 2. The platform package missing (what npm --omit=optional gives): a clear error, not a stack of paths.
    const bare = newProject(work, 'no-binary')
    install(bare, [mainPackage.file], env)
    const probe = exec(process.execPath, ['-e', "try { require('lancestore') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }"], bare, env)
    const result = probe.status === 0 && probe.stdout.trim() ? lastJsonLine(probe.stdout) : {}
    const platform = `${process.platform}-${process.arch}`
    if (result.code !== 'ERR_LANCESTORE_NO_BINARY' || !result.message.includes(platform)) {
      fail(`without the platform package, require('lancestore') should fail with ERR_LANCESTORE_NO_BINARY naming ${platform}: ${probe.stdout}${probe.stderr}`)
    }
    log(`without the platform package: ${result.code} ("${result.message.split('\n')[0]}")`)

    const mb = (n) => (n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(1)} MB`)
    log(`sizes: ${path.basename(mainPackage.file)} ${mb(mainPackage.size)}; ${platforms.map((p) => `${path.basename(p.file)} ${mb(p.size)} packed (binary ${mb(p.binaryBytes)})`).join('; ')}`)
    log(`passed; install time ${(installMs / 1000).toFixed(1)} s (target ≤ 30 s)`)
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main()
