// Issue 18: stores on S3-compatible object storage, against a real server (moto in server mode, from PyPI)
// started on 127.0.0.1 with a free port for this file and stopped after it. Other processes are real child
// processes. Skipped, with the reason, only when the server cannot be installed (see scripts/s3-server.js).
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { EmbeddingStore, type OpenOptions, type ProgressEvent } from '../index'
import { bruteForce, isError, randomVectors, sample, tempDir } from './fixtures'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureS3Server, startS3Server } = require('../scripts/s3-server')

// The s3:// stores of these tests keep their graph and vector files in a cache directory of this run, not the
// user's (`storage.cacheDir`'s default root comes from this variable); child processes inherit it.
process.env.LANCESTORE_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'lancestore-cache-'))

const installed: { ok: boolean; reason?: string } = ensureS3Server({ quiet: true })
if (!installed.ok) console.warn(`object-storage tests skipped: the local S3 server could not be installed (${installed.reason})`)
const s3test = installed.ok ? test : test.skip

interface Credentials {
  accessKeyId: string
  secretAccessKey: string
}
interface Server {
  endpoint: string
  storage: NonNullable<OpenOptions['storage']>
  credentials: Credentials
  createBucket(name: string): Promise<void>
  enableAuth(bucket: string): Promise<Credentials>
  stop(): Promise<void>
}
let server: Server

beforeAll(async () => {
  if (!installed.ok) return
  server = await startS3Server()
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

let buckets = 0
/** A fresh bucket (and prefix) per test, so tests never see each other's tables. */
async function freshUrl(): Promise<string> {
  const name = `lancestore-t${process.pid}-${++buckets}`
  await server.createBucket(name)
  return `s3://${name}/stores/one`
}

function mustNotLeak(text: string) {
  expect(text).not.toContain(server.credentials.secretAccessKey)
  expect(text).not.toContain(server.credentials.accessKeyId)
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise
  } catch (e) {
    if (isError(e)) return e
    throw new Error(`rejected with a non-Error: ${String(e)}`)
  }
  throw new Error('expected a rejection')
}

/** The server's endpoint and credentials as the AWS_* variables a process can be configured by. */
function awsEnv() {
  return {
    AWS_ENDPOINT: server.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
  }
}

/**
 * Runs `body` in a child Node process with `store` opened on `url`, the credentials given through the
 * AWS_* environment variables only (not in `storage`). Resolves to its stdout lines.
 */
function inChild(url: string, body: string, open: Record<string, unknown> = {}): Promise<string[]> {
  const script = `
    const { EmbeddingStore } = require(${JSON.stringify(join(__dirname, '..', 'index.js'))});
    (async () => {
      const store = await EmbeddingStore.open(${JSON.stringify(url)}, ${JSON.stringify({ ...open, storage: { allowHttp: true, ...(open.storage ?? {}) } })});
      ${body}
      await store.close();
    })().catch((e) => { console.error(e.code, e.message); process.exit(1) });`
  const env = { ...process.env, ...awsEnv() }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').filter(Boolean)) : reject(new Error(`child exit ${code}: ${err}`))))
  })
}

s3test('open / add / search / get / delete / count on s3://, results equal to brute force on both search paths', async () => {
  const url = await freshUrl()
  const set = sample()
  const n = 600
  const fields = { section: 'string' as const }
  const store = await EmbeddingStore.open(url, { dimension: set.dim, fields, storage: server.storage, performance: { enableQueryCache: false } })
  expect(store.path).toBe(url)
  const items = Array.from({ length: n }, (_, i) => ({ id: `r${i}`, vector: set.row(i), metadata: { section: set.rows[i]?.section ?? null, i } }))
  const added = await store.addEmbeddings(items)
  expect(added.added).toBe(n)
  expect(await store.count()).toBe(n)
  expect(await store.get(['r3', 'missing'])).toEqual([expect.objectContaining({ id: 'r3', metadata: expect.objectContaining({ i: 3 }) }), null])
  await expect(store.addEmbeddings([{ id: 'r3', vector: set.row(3) }])).rejects.toMatchObject({ code: 'DUPLICATE_ID' })

  const lanceOnly = await EmbeddingStore.open(url, { storage: server.storage, performance: { residentMemoryMB: 0, enableQueryCache: false } })
  for (let q = 0; q < 5; q++) {
    const want = bruteForce('cosine', set.query(q), items.map((it) => it.vector), 10).map((h) => `r${h.i}`)
    for (const s of [store, lanceOnly]) {
      const hits = await s.search(set.query(q), { limit: 10, exact: true })
      expect(hits.map((h) => h.id)).toEqual(want)
    }
    const filtered = await lanceOnly.search(set.query(q), { limit: 5, filter: { section: 'libs' } })
    expect(filtered.every((h) => h.metadata?.section === 'libs')).toBe(true)
  }
  expect((await store.delete(['r0', 'r1'])).deleted).toBe(2)
  expect(await store.count()).toBe(n - 2)
  expect(await lanceOnly.get(['r0'])).toEqual([null])
  const stats = await store.stats()
  expect(stats.rows).toBe(n - 2)
  mustNotLeak(JSON.stringify(stats))
  await lanceOnly.close()
  await store.close()
}, 120_000)

s3test('upsert, importFile, optimize and the HNSW graph work on s3:// too', async () => {
  const url = await freshUrl()
  const vectors = randomVectors(800, 16, 1818)
  const store = await EmbeddingStore.open(url, { dimension: 16, storage: server.storage, autoIndex: false, performance: { enableQueryCache: false } })
  const dir = tempDir()
  try {
    const file = join(dir.path, 'items.jsonl')
    writeFileSync(file, vectors.slice(0, 500).map((v, i) => JSON.stringify({ id: `j${i}`, vector: Array.from(v) })).join('\n'))
    expect((await store.importFile(file)).added).toBe(500)
    const events: ProgressEvent[] = []
    await store.addEmbeddings(vectors.slice(500).map((v, i) => ({ id: `a${i}`, vector: v })), { onProgress: (p) => events.push(p) })
    await new Promise((r) => setTimeout(r, 50)) // events are delivered through the event loop
    // As on local disk: `write` from 0 as LanceDB takes the rows (throttled to one per 100 ms), then `done`.
    expect(events[0]).toMatchObject({ phase: 'write', rows: 0, totalRows: 300 })
    expect(events.at(-1)).toMatchObject({ phase: 'done', rows: 300, totalRows: 300 })
    const up = await store.upsertEmbeddings([{ id: 'j0', vector: vectors[1], metadata: { moved: true } }, { id: 'new', vector: vectors[2] }])
    expect([up.inserted, up.updated]).toEqual([1, 1])
    expect(await store.count()).toBe(801)
    const optimized = await store.optimize()
    expect(optimized.fragmentsRemoved).toBeGreaterThan(0)
    expect(await store.count()).toBe(801)
    await store.createIndex({ kind: 'hnsw' })
    const stats = await store.stats()
    expect(stats.index.kind).toBe('hnsw')
    expect(stats.index.graph?.source).toBe('built')
    const hits = await store.search(vectors[700], { limit: 3 })
    expect(hits[0].id).toBe('a200')
    expect((await store.get(['j0']))[0]?.metadata).toEqual({ moved: true })
  } finally {
    dir.remove()
    await store.close()
  }
}, 120_000)

s3test('storage.cacheDir: the graph and vector files of an s3:// store live on this host, and another process maps them instead of rebuilding', async () => {
  const url = await freshUrl()
  const cache = tempDir()
  const dim = 16
  const rows = 12_000 // a vector file is written for 10,000+ rows
  const vectors = randomVectors(rows, dim, 2929)
  const storage = { ...server.storage, cacheDir: cache.path }
  try {
    const store = await EmbeddingStore.open(url, { dimension: dim, autoIndex: false, storage })
    for (let from = 0; from < rows; from += 6_000) {
      await store.addEmbeddings(vectors.slice(from, from + 6_000).map((vector, k) => ({ id: `v${from + k}`, vector })))
    }
    await store.createIndex({ kind: 'hnsw' })
    await store.close() // saves the graph file
    const [entry, ...others] = readdirSync(cache.path)
    expect(others).toEqual([]) // one directory per store
    expect(entry).toMatch(/^s3-lancestore-t\d+-\d+_stores_one-[0-9a-f]{16}$/)
    const files = join(cache.path, entry)
    expect(readdirSync(files)).toContain('.lancestore-embeddings.hnsw')

    // Each child opens the store, waits until it answers from memory with the graph and its vectors read from
    // the vector file, then prints its stats and LanceDB-equal exact answers. The first child writes the
    // vector file (its whole load copied the vectors); the second reads it without reading the vectors at all.
    const queries = randomVectors(5, dim, 2930).map((q) => Array.from(q))
    const body = `
      for (let i = 0; i < 3000; i++) {
        const { resident, index } = await store.stats();
        if (resident.state === 'ready' && resident.mappedBytes > 0 && index.graph?.source === 'loaded') break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const stats = await store.stats();
      console.log(JSON.stringify({ resident: stats.resident, graph: stats.index.graph }));
      for (const q of ${JSON.stringify(queries)}) console.log(JSON.stringify((await store.search(q, { limit: 10, exact: true })).map((h) => h.id)));`
    const open = { autoIndex: false, performance: { enableQueryCache: false }, storage: { cacheDir: cache.path } }
    const [firstStats] = await inChild(url, body, open)
    expect(JSON.parse(firstStats).resident.mappedBytes).toBeGreaterThanOrEqual(rows * dim * 4)
    expect(readdirSync(files)).toContain('.lancestore-embeddings.vectors')
    const [secondStats, ...answers] = await inChild(url, body, open)
    const { resident, graph } = JSON.parse(secondStats)
    expect(graph).toMatchObject({ source: 'loaded', ignoredFile: null })
    expect(graph.mappedBytes).toBeGreaterThan(0) // viewed in place, not rebuilt
    expect(resident).toMatchObject({ state: 'ready', rows, rowsRead: rows, rowsReadWithoutVectors: rows })
    expect(resident.mappedBytes).toBeGreaterThanOrEqual(rows * dim * 4)
    const lanceOnly = await EmbeddingStore.open(url, { storage, performance: { residentMemoryMB: 0, enableQueryCache: false } })
    for (const [q, line] of answers.entries()) {
      expect(JSON.parse(line)).toEqual((await lanceOnly.search(queries[q], { limit: 10, exact: true })).map((h) => h.id))
    }
    await lanceOnly.close()

    // dropTable removes the table and its files on this host.
    expect(await EmbeddingStore.dropTable(url, 'embeddings', { storage })).toBe(true)
    expect(readdirSync(files)).toEqual([])
  } finally {
    cache.remove()
  }
}, 180_000)

s3test('storage.cacheDir: false keeps no files; an unusable or empty cacheDir rejects the open with a code', async () => {
  const url = await freshUrl()
  const cache = tempDir()
  try {
    const off = await EmbeddingStore.open(url, { dimension: 4, storage: { ...server.storage, cacheDir: false } })
    await off.addEmbeddings(randomVectors(50, 4, 7).map((vector, i) => ({ id: `${i}`, vector })))
    await off.createIndex({ kind: 'hnsw' })
    expect((await off.stats()).index.graph?.mappedBytes).toBe(0)
    await off.close()
    const root = process.env.LANCESTORE_CACHE_DIR ?? ''
    expect(readdirSync(root).some((name) => name.includes(url.split('/')[2]))).toBe(false)

    const file = join(cache.path, 'a-file')
    writeFileSync(file, '')
    const io = await rejection(EmbeddingStore.open(url, { storage: { ...server.storage, cacheDir: join(file, 'under') } }))
    expect(io.code).toBe('IO')
    expect(io.message).toContain('cache directory')
    const empty = await rejection(EmbeddingStore.open(url, { storage: { ...server.storage, cacheDir: '' } }))
    expect(empty.code).toBe('INVALID_ARGUMENT')
    expect(empty.message).toContain('storage.cacheDir')
    expect(existsSync(join(file, 'under'))).toBe(false)
  } finally {
    cache.remove()
  }
}, 120_000)

s3test('a second process reopens the store with credentials from AWS_* variables, reads and writes it', async () => {
  const url = await freshUrl()
  const store = await EmbeddingStore.open(url, { dimension: 8, storage: server.storage, performance: { readConsistencyIntervalMs: 0 } })
  const vectors = randomVectors(50, 8, 18)
  await store.addEmbeddings(vectors.map((v, i) => ({ id: `p${i}`, vector: v })))
  const out = await inChild(url, `
      console.log(await store.count());
      const hits = await store.search(${JSON.stringify(Array.from(vectors[7]))}, { limit: 1 });
      console.log(hits[0].id);
      await store.addEmbeddings([{ id: 'from-child', vector: [1, 2, 3, 4, 5, 6, 7, 8] }]);`)
  expect(out).toEqual(['50', 'p7'])
  expect(await store.count()).toBe(51)
  expect(await store.get(['from-child'])).toEqual([expect.objectContaining({ id: 'from-child' })])
  await store.close()
}, 120_000)

s3test('the CLI imports into and reads an s3:// store, configured by AWS_* variables', async () => {
  const url = await freshUrl()
  const dir = tempDir()
  try {
    const file = join(dir.path, 'items.jsonl')
    writeFileSync(file, randomVectors(40, 8, 7).map((v, i) => JSON.stringify({ id: `c${i}`, vector: Array.from(v) })).join('\n'))
    const env = { ...process.env, ...awsEnv(), AWS_ALLOW_HTTP: 'true' }
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(__dirname, '..', 'bin', 'lancestore.js'), ...args], { encoding: 'utf8', env, timeout: 60_000 })
    const imported = cli('import', url, file, '--dimension', '8', '--json')
    expect(imported.status).toBe(0)
    expect(JSON.parse(imported.stdout)).toMatchObject({ added: 40 })
    const stats = cli('stats', url, '--json')
    expect(stats.status).toBe(0)
    expect(JSON.parse(stats.stdout)).toMatchObject({ rows: 40 })
    mustNotLeak(stats.stdout)
  } finally {
    dir.remove()
  }
}, 120_000)

s3test('two writer processes adding disjoint ids at once: no row lost, none duplicated', async () => {
  const url = await freshUrl()
  const store = await EmbeddingStore.open(url, { dimension: 4, storage: server.storage, autoIndex: false })
  const rounds = 8
  const perAdd = 25
  const writer = (name: string, startAt: number) =>
    inChild(url, `
      while (Date.now() < ${startAt}) {}
      for (let r = 0; r < ${rounds}; r++) {
        const items = Array.from({ length: ${perAdd} }, (_, i) => ({ id: '${name}-' + r + '-' + i, vector: [1, r, i, 1] }));
        await store.addEmbeddings(items);
      }
      console.log('done');`, { autoIndex: false })
  const startAt = Date.now() + 2_000
  expect(await Promise.all([writer('a', startAt), writer('b', startAt)])).toEqual([['done'], ['done']])
  const expected = ['a', 'b'].flatMap((w) => Array.from({ length: rounds * perAdd }, (_, k) => `${w}-${Math.floor(k / perAdd)}-${k % perAdd}`))
  const reader = await EmbeddingStore.open(url, { storage: server.storage, performance: { readConsistencyIntervalMs: 0 } })
  expect(await reader.count()).toBe(expected.length)
  const got = await reader.get(expected)
  expect(got.filter((row) => row === null)).toHaveLength(0)
  // Every id exactly once: a search wide enough to return every row lists each id once.
  const all = await reader.search([1, 0, 0, 1], { limit: expected.length + 10, exact: true })
  expect(all).toHaveLength(expected.length)
  expect(new Set(all.map((h) => h.id)).size).toBe(expected.length)
  await reader.close()
  await store.close()
}, 180_000)

s3test('two processes adding the same new ids at once: one commits, the other rejects DUPLICATE_ID, never a duplicate row', async () => {
  const url = await freshUrl()
  const store = await EmbeddingStore.open(url, { dimension: 4, storage: server.storage, autoIndex: false, performance: { readConsistencyIntervalMs: 0 } })
  // The table exists before the race, as in normal use.
  await store.addEmbeddings([{ id: 'seed', vector: [1, 1, 1, 1] }])
  const racer = (round: number, startAt: number) =>
    inChild(url, `
      const items = Array.from({ length: 50 }, (_, i) => ({ id: 'r${round}-' + i, vector: [1, i, 0, 1] }));
      while (Date.now() < ${startAt}) {}
      try { await store.addEmbeddings(items); console.log('added') } catch (e) { console.log(e.code) }`, { autoIndex: false })
  const rounds = 6
  for (let round = 0; round < rounds; round++) {
    const startAt = Date.now() + 1_500
    const outcomes = (await Promise.all([racer(round, startAt), racer(round, startAt)])).flat().sort()
    expect(outcomes).toEqual(['DUPLICATE_ID', 'added'])
    expect(await store.count()).toBe(1 + 50 * (round + 1))
  }
  const all = await store.search([1, 0, 0, 1], { limit: 1_000, exact: true })
  expect(new Set(all.map((h) => h.id)).size).toBe(all.length)
  await store.close()
}, 240_000)

s3test("a reader sees another process's commit within its read-consistency interval", async () => {
  const url = await freshUrl()
  const interval = 500
  const reader = await EmbeddingStore.open(url, { dimension: 4, storage: server.storage, performance: { readConsistencyIntervalMs: interval } })
  expect(await reader.count()).toBe(0)
  const before = await reader.search([1, 0, 0, 0], { limit: 5 })
  expect(before).toEqual([])
  await inChild(url, `await store.addEmbeddings([{ id: 'w1', vector: [1, 0, 0, 0] }]);`)
  const committed = Date.now()
  let seenAfter = -1
  while (Date.now() - committed < interval + 5_000) {
    const hits = await reader.search([1, 0, 0, 0], { limit: 5 })
    if (hits.length === 1 && hits[0].id === 'w1') {
      seenAfter = Date.now() - committed
      break
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  expect(seenAfter).toBeGreaterThanOrEqual(0)
  // Within the interval, plus the time one version check and one catch-up take on this machine.
  expect(seenAfter).toBeLessThanOrEqual(interval + 2_000)
  expect(await reader.count()).toBe(1)
  await reader.close()
}, 120_000)

s3test('errors: unreachable endpoint, missing bucket and bad options are coded, bounded, and never show a secret', async () => {
  const closedPort = await new Promise<number>((resolve) => {
    const probe = createServer()
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
  const unreachable = { ...server.storage, endpoint: `http://127.0.0.1:${closedPort}`, maxRetries: 1, retryTimeoutMs: 2_000 }
  let started = Date.now()
  let err = await rejection(EmbeddingStore.open('s3://some-bucket/x', { dimension: 4, storage: unreachable }))
  expect(err.code).toBe('IO')
  expect(Date.now() - started).toBeLessThan(20_000)
  mustNotLeak(err.message)

  started = Date.now()
  err = await rejection(EmbeddingStore.open('s3://no-such-bucket-here/x', { dimension: 4, storage: server.storage }))
  expect(err.code).toBe('IO')
  expect(err.message).toMatch(/NoSuchBucket|does not exist|not found/i)
  mustNotLeak(err.message)

  err = await rejection(EmbeddingStore.open('s3://some-bucket/x', { dimension: 4, storage: { ...server.storage, timeoutMs: -1 } }))
  expect(err.code).toBe('INVALID_ARGUMENT')
  expect(err.message).toContain('storage.timeoutMs')
  err = await rejection(EmbeddingStore.open('s3://some-bucket/x', { dimension: 4, storage: { ...server.storage, secretKey: 'x' } as never }))
  expect(err.code).toBe('INVALID_ARGUMENT')
  expect(err.message).toContain('storage.secretKey')
  mustNotLeak(err.message)
  err = await rejection(EmbeddingStore.open('/tmp/local-dir-x', { dimension: 4, storage: server.storage }))
  expect(err.code).toBe('INVALID_ARGUMENT')
}, 120_000)

s3test('errors: bad credentials and a denied request are IO with the server code, and never show a secret', async () => {
  // A second server with request authentication on (the shared one accepts any key).
  const guarded: Server = await startS3Server()
  try {
    const denied = await guarded.enableAuth('guarded')
    const cases: Array<[Credentials, RegExp]> = [
      [{ accessKeyId: 'AKIANOTAREALKEY00000', secretAccessKey: 'not/a+real-secret-0123456789abcdef' }, /InvalidAccessKeyId/],
      [denied, /AccessDenied/],
    ]
    for (const [credentials, code] of cases) {
      const err = await rejection(EmbeddingStore.open('s3://guarded/x', { dimension: 4, storage: { ...guarded.storage, ...credentials } }))
      expect(err.code).toBe('IO')
      expect(err.message).toMatch(code)
      expect(err.message).toMatch(/PermissionDenied/)
      expect(err.message).not.toContain(credentials.secretAccessKey)
      expect(err.message).not.toContain(credentials.accessKeyId)
    }
  } finally {
    await guarded.stop()
  }
}, 120_000)
