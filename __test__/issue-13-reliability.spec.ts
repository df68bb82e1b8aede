// Issue 13: what an outside probe found (crashes on wide filters, wrong scores from tiny or huge vectors,
// synchronous throws, silently accepted bad input, URL paths). Each test failed before the fix.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddingStore, type ErrorCode } from '../index'
import { tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const invalid: ErrorCode = 'INVALID_ARGUMENT'

/** Calls `call` and checks it returned a Promise (no synchronous throw) that rejected with `code`. */
async function rejects(call: () => Promise<unknown>, code: ErrorCode) {
  let promise: Promise<unknown> | undefined
  expect(() => {
    promise = call()
  }).not.toThrow()
  // A thenable from the addon's realm (jest runs tests in another one, so not `instanceof Promise`).
  expect(typeof promise?.then).toBe('function')
  const err = await promise!.then(
    () => new Error('resolved'),
    (e: unknown) => e,
  )
  expect(err).toMatchObject({ code })
  return err as Error & { cause?: unknown }
}

async function fieldStore() {
  const store = await EmbeddingStore.open(dir.path, { dimension: 4, fields: { section: 'string' } })
  await store.addEmbeddings([{ id: 'a', vector: [1, 0, 0, 0], metadata: { section: 's1' } }])
  return store
}

test('1. a 50,000-way $or is refused with INVALID_FILTER in search, count and delete; 10,000 ways work', async () => {
  const store = await fieldStore()
  const wide = (n: number) => ({ $or: Array.from({ length: n }, (_, i) => ({ section: `s${i}` })) })
  await rejects(() => store.search([1, 0, 0, 0], { filter: wide(50_000) }), 'INVALID_FILTER')
  await rejects(() => store.count({ filter: wide(50_000) }), 'INVALID_FILTER')
  await rejects(() => store.delete({ filter: wide(50_000) }), 'INVALID_FILTER')
  await expect(store.count({ filter: wide(10_000) })).resolves.toBe(1)
  expect((await store.search([1, 0, 0, 0], { filter: wide(10_000) })).map((h) => h.id)).toEqual(['a'])
  await expect(store.count()).resolves.toBe(1)
  await store.close()
})

test('1. deeply nested metadata and filters are refused, never a crash', async () => {
  const store = await fieldStore()
  let deep: Record<string, unknown> = { leaf: 1 }
  for (let i = 0; i < 100_000; i++) deep = { d: deep }
  await rejects(() => store.addEmbeddings([{ id: 'deep', vector: [0, 1, 0, 0], metadata: deep }]), invalid)
  let nested: Record<string, unknown> = { leaf: 1 }
  for (let i = 0; i < 200; i++) nested = { d: nested }
  const err = await rejects(() => store.addEmbeddings([{ id: 'n', vector: [0, 1, 0, 0], metadata: nested }]), invalid)
  expect(err.message).toMatch(/128 levels/)
  let filter: Record<string, unknown> = { section: 's1' }
  for (let i = 0; i < 100_000; i++) filter = { $not: filter }
  await rejects(() => store.search([1, 0, 0, 0], { filter }), invalid)
  await expect(store.count()).resolves.toBe(1)
  await store.close()
})

test('2. vectors whose length float32 cannot carry are INVALID_VECTOR, stored or queried, under every metric', async () => {
  for (const metric of ['cosine', 'l2', 'dot'] as const) {
    const sub = join(dir.path, metric)
    const store = await EmbeddingStore.open(sub, { dimension: 4, metric })
    await store.addEmbeddings([{ id: 'ok', vector: [1, 0, 0, 0] }])
    await rejects(() => store.addEmbeddings([{ id: 'huge', vector: [3e38, 0, 0, 0] }]), 'INVALID_VECTOR')
    await rejects(() => store.search([3e38, 0, 0, 0]), 'INVALID_VECTOR')
    if (metric === 'cosine') {
      await rejects(() => store.addEmbeddings([{ id: 't', vector: new Float32Array(4).fill(1e-45) }]), 'INVALID_VECTOR')
      await rejects(() => store.addEmbeddings([{ id: 's', vector: [1e-23, 0, 0, 0] }]), 'INVALID_VECTOR')
      await rejects(() => store.search([1e-23, 0, 0, 0]), 'INVALID_VECTOR')
    }
    const hits = await store.search([1, 0, 0, 0], { exact: true })
    expect(hits.every((h) => Number.isFinite(h.score) && Number.isFinite(h.distance))).toBe(true)
    expect(hits.map((h) => h.id)).toEqual(['ok'])
    await store.close()
  }
})

test('3. getters and Proxy traps that throw reject the Promise (with the thrown error as cause), never throw', async () => {
  const store = await fieldStore()
  const boom = new Error('boom')
  const item = {
    id: 'g',
    get vector(): number[] {
      throw boom
    },
  }
  const err = await rejects(() => store.addEmbeddings([item as never]), invalid)
  expect(err.message).toMatch(/boom/)
  expect(err.cause).toBe(boom)
  const trap = new Proxy({}, { get: () => { throw new Error('trap') }, ownKeys: () => { throw new Error('keys') } })
  await rejects(() => store.search([1, 0, 0, 0], trap as never), invalid)
  await rejects(() => store.addEmbeddings(trap as never), invalid)
  await rejects(() => store.createIndex(trap as never), invalid)
  const options = { get limit(): number { throw new Error('limit getter') } }
  await rejects(() => store.search([1, 0, 0, 0], options as never), invalid)
  await rejects(() => EmbeddingStore.open(join(dir.path, 'x'), { dimension: 8, performance: 5 as never }), invalid)
  await expect(store.count()).resolves.toBe(1)
  await store.close()
})

test('4. invalid inputs are refused: non-object performance, unknown keys, BigInt, NaN', async () => {
  for (const performance of [true, 'x', [], 5]) {
    await rejects(() => EmbeddingStore.open(join(dir.path, 'p'), { dimension: 2, performance: performance as never }), invalid)
  }
  const typo = await rejects(() => EmbeddingStore.open(join(dir.path, 'p'), { dimension: 2, performance: { cachesize: 5 } as never }), invalid)
  expect(typo.message).toMatch(/cachesize.*cacheSize/)
  await rejects(() => EmbeddingStore.open(join(dir.path, 'p'), { dimension: 2, dimensions: 3 } as never), invalid)
  expect(existsSync(join(dir.path, 'p'))).toBe(false) // refused before anything was created
  const fine = await EmbeddingStore.open(join(dir.path, 'n'), { dimension: 2, performance: null as never })
  await fine.close()
  const store = await fieldStore()
  await rejects(() => store.search([1, 0, 0, 0], { limt: 3 } as never), invalid)
  await rejects(() => store.createIndex({ kind: 'ivf_pq', numbits: 4 } as never), invalid)
  await rejects(() => store.addEmbeddings([{ id: 'b', vector: [0, 1, 0, 0], metadata: { n: 10n } as never }]), invalid)
  await rejects(() => store.addEmbeddings([{ id: 'b', vector: [0, 1, 0, 0], metadata: { n: NaN } }]), invalid)
  // A filter value JSON cannot hold is the filter's fault: INVALID_FILTER (issue 27, item 1).
  await rejects(() => store.search([1, 0, 0, 0], { filter: { section: 1n } as never }), 'INVALID_FILTER')
  await expect(store.count()).resolves.toBe(1)
  await store.close()
})

test('9. a path with a newline or a URL is INVALID_ARGUMENT, and nothing is created', async () => {
  const err = await rejects(() => EmbeddingStore.open(join(dir.path, 'a\nb'), { dimension: 2 }), invalid)
  expect(err.message).toMatch(/control character/)
  // s3:// is supported since issue 18 (see issue-18-object-storage.spec.ts) and memory://name since issue 32
  // (a bad name is refused); other schemes are refused.
  for (const url of ['gs://bucket/prefix', 'memory://', 'memory://a/b', 'file:///tmp/x', 's3://Not_A_Bucket/x']) {
    await rejects(() => EmbeddingStore.open(url, { dimension: 2 }), invalid)
  }
  expect(existsSync('gs:')).toBe(false)
  expect(existsSync('memory:')).toBe(false)
  expect(existsSync('s3:')).toBe(false)
})

test('7. two processes adding the same new ids at once: one commits, the other rejects DUPLICATE_ID, never a duplicate row', async () => {
  const { spawn } = await import('node:child_process')
  const store = await EmbeddingStore.open(dir.path, { dimension: 4 })
  const script = (round: number, startAt: number) => `
    const { EmbeddingStore } = require(${JSON.stringify(join(__dirname, '..', 'index.js'))});
    (async () => {
      const s = await EmbeddingStore.open(${JSON.stringify(dir.path)});
      const items = Array.from({ length: 50 }, (_, i) => ({ id: 'r${round}-' + i, vector: [1, i, 0, 1] }));
      while (Date.now() < ${startAt}) {}
      try { await s.addEmbeddings(items); console.log('added') } catch (e) { console.log(e.code) }
      await s.close();
    })().catch((e) => { console.error(e); process.exit(1) });`
  const run = (round: number, startAt: number) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script(round, startAt)], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d) => (out += d))
      child.stderr.on('data', (d) => (err += d))
      child.on('exit', (code) => (code === 0 && !err ? resolve(out.trim()) : reject(new Error(`exit ${code}: ${err}`))))
    })
  const rounds = 15
  for (let round = 0; round < rounds; round++) {
    // Both processes open the store first, then start their add at the same instant.
    const startAt = Date.now() + 700
    const outcomes = (await Promise.all([run(round, startAt), run(round, startAt)])).sort()
    expect(outcomes).toEqual(['DUPLICATE_ID', 'added'])
    expect(await store.count()).toBe(50 * (round + 1))
  }
  await store.close()
}, 120_000)
