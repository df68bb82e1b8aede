// The query cache: hits for repeated searches, never a stale answer (own writes, other store objects,
// other options), TTL, LRU bound and order, single-flight, and the hit ratio of a skewed workload.
import { EmbeddingStore, type SearchHit } from '../index'
import { randomVectors, rng, sample, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const ids = (hits: SearchHit[]) => hits.map((h) => h.id)

async function filledStore(n = 300, dim = 16, options: Parameters<typeof EmbeddingStore.open>[1] = {}) {
  const store = await EmbeddingStore.open(dir.path, { dimension: dim, ...options })
  const vectors = randomVectors(n, dim, 21)
  await store.addEmbeddings(vectors.map((vector, i) => ({ id: `v${i}`, vector, metadata: { i } })))
  return { store, vectors }
}

test('an identical search is a hit, with the same answer', async () => {
  const { store, vectors } = await filledStore()
  const first = await store.search(vectors[0], { limit: 5 })
  const second = await store.search(vectors[0], { limit: 5 })
  expect(second).toEqual(first)
  const { cache, searches } = await store.stats()
  expect(cache).toMatchObject({ hits: 1, misses: 1, size: 1, capacity: 1000 })
  expect(cache.hitRatio).toBeCloseTo(0.5)
  expect(searches).toBe(2)
  await store.close()
})

test('any write makes earlier entries unusable at once', async () => {
  const { store, vectors } = await filledStore()
  const query = vectors[0]
  const before = await store.search(query, { limit: 3 })
  await store.addEmbeddings([{ id: 'closer', vector: query }])
  const after = await store.search(query, { limit: 3 })
  expect(ids(after)).toContain('closer')
  expect(ids(after)).not.toEqual(ids(before))
  expect((await store.stats()).cache.hits).toBe(0)
  await store.close()
})

test('a write through another store object on the same path is seen', async () => {
  const { store, vectors } = await filledStore()
  const other = await EmbeddingStore.open(dir.path)
  const query = vectors[5]
  await store.search(query, { limit: 3 })
  await other.addEmbeddings([{ id: 'from-other', vector: query }])
  const hits = await store.search(query, { limit: 3 })
  // 'from-other' holds the query itself, as does v5: the two tie at score 1, in either order.
  expect(new Set(ids(hits).slice(0, 2))).toEqual(new Set(['from-other', 'v5']))
  const { cache } = await store.stats()
  // The first answer was cached at the old version and must not be served after the other store's write.
  expect(cache).toMatchObject({ hits: 0, misses: 2, staleRejected: 1 })
  await other.close()
  await store.close()
})

test('a vector differing in one element beyond index 10 is a miss', async () => {
  const { store, vectors } = await filledStore(300, 64)
  const query = Float32Array.from(vectors[1])
  await store.search(query)
  const changed = Float32Array.from(query)
  changed[50] = changed[50] + 1e-6
  await store.search(changed)
  const { cache } = await store.stats()
  expect(cache).toMatchObject({ hits: 0, misses: 2, size: 2 })
  await store.close()
})

test('limit and threshold are part of the key', async () => {
  const { store, vectors } = await filledStore()
  const a = await store.search(vectors[2], { limit: 3 })
  const b = await store.search(vectors[2], { limit: 4 })
  const c = await store.search(vectors[2], { limit: 4, threshold: 0.5 })
  expect(a).toHaveLength(3)
  expect(b).toHaveLength(4)
  expect(c.every((h) => h.score >= 0.5)).toBe(true)
  expect((await store.stats()).cache).toMatchObject({ hits: 0, misses: 3 })
  await store.close()
})

// Expiry itself is tested in Rust against an injected clock (cache.rs); here, that the option reaches
// the cache: a one-microsecond TTL has always passed by the next call, an hour never has.
test('entries expire after cacheTtlSeconds', async () => {
  const short = await filledStore(100, 8, { performance: { cacheTtlSeconds: 1e-6 } })
  await short.store.search(short.vectors[0])
  await short.store.search(short.vectors[0])
  expect((await short.store.stats()).cache).toMatchObject({ hits: 0, misses: 2, expired: 1 })
  await short.store.close()
  dir.remove()
  dir = tempDir()
  const long = await filledStore(100, 8, { performance: { cacheTtlSeconds: 3600 } })
  await long.store.search(long.vectors[0])
  await long.store.search(long.vectors[0])
  expect((await long.store.stats()).cache).toMatchObject({ hits: 1, misses: 1, expired: 0 })
  await long.store.close()
})

test('cacheSize 0 and enableQueryCache false turn the cache off', async () => {
  for (const performance of [{ cacheSize: 0 }, { enableQueryCache: false }]) {
    const sub = tempDir()
    const store = await EmbeddingStore.open(sub.path, { dimension: 2, performance })
    await store.addEmbeddings([{ id: 'a', vector: [1, 0] }])
    await store.search([1, 0])
    await store.search([1, 0])
    expect((await store.stats()).cache).toMatchObject({ hits: 0, size: 0, capacity: 0 })
    await store.close()
    sub.remove()
  }
})

test('the LRU never exceeds its capacity and evicts the least recently used entry', async () => {
  const { store, vectors } = await filledStore(100, 8, { performance: { cacheSize: 3 } })
  const q = (i: number) => vectors[i]
  await store.search(q(0))
  await store.search(q(1))
  await store.search(q(2))
  await store.search(q(0)) // hit: 0 becomes most recent, 1 is now least recent
  await store.search(q(3)) // evicts 1
  let stats = (await store.stats()).cache
  expect(stats).toMatchObject({ size: 3, evictions: 1, hits: 1 })
  await store.search(q(0)) // still cached
  await store.search(q(2)) // still cached
  stats = (await store.stats()).cache
  expect(stats.hits).toBe(3)
  await store.search(q(1)) // was evicted
  stats = (await store.stats()).cache
  expect(stats.hits).toBe(3)
  for (let i = 10; i < 60; i++) {
    await store.search(q(i))
    expect((await store.stats()).cache.size).toBeLessThanOrEqual(3)
  }
  await store.close()
})

test('identical concurrent misses run once and share the answer', async () => {
  // Through LanceDB (residentMemoryMB: 0), whose milliseconds per search let the 20 calls overlap:
  // an in-memory search can finish before the next identical call arrives.
  const { store, vectors } = await filledStore(2000, 32, { performance: { residentMemoryMB: 0 } })
  const results = await Promise.all(Array.from({ length: 20 }, () => store.search(vectors[9], { limit: 7 })))
  for (const r of results) expect(r).toEqual(results[0])
  const { cache } = await store.stats()
  expect(cache.hits + cache.misses).toBe(20)
  // Every search that missed either ran or waited for the one that ran.
  expect(cache.misses - cache.coalesced).toBeGreaterThanOrEqual(1)
  expect(cache.coalesced).toBeGreaterThan(0)
  await store.close()
})

test('randomised: thousands of interleaved writes and searches, never a stale or wrong cached answer', async () => {
  const dim = 8
  const cached = await EmbeddingStore.open(dir.path, { dimension: dim, performance: { cacheSize: 64 } })
  const writer = await EmbeddingStore.open(dir.path) // a second store object on the same path
  const reference = await EmbeddingStore.open(dir.path, { performance: { enableQueryCache: false } })
  const pool = randomVectors(10, dim, 77) // few distinct queries, so many searches repeat
  const fresh = randomVectors(400, dim, 78)
  await cached.addEmbeddings(fresh.slice(0, 20).map((vector, i) => ({ id: `n${i}`, vector })))
  let next = 20
  const random = rng(2024)
  let compared = 0
  for (let step = 0; step < 2_000; step++) {
    const r = random()
    if (r < 0.08 && next < fresh.length) {
      const via = random() < 0.5 ? cached : writer
      await via.addEmbeddings([{ id: `n${next}`, vector: fresh[next] }])
      next++
    } else {
      const query = pool[Math.floor(random() * pool.length)]
      const limit = 1 + Math.floor(random() * 3)
      const got = await cached.search(query, { limit })
      const truth = await reference.search(query, { limit }) // same version: nothing wrote in between
      expect(got).toEqual(truth)
      compared++
    }
  }
  const { cache } = await cached.stats()
  expect(compared).toBeGreaterThan(1_500)
  expect(cache.hits).toBeGreaterThan(100) // the test really exercised cached answers
  expect(cache.staleRejected).toBeGreaterThan(0) // …and entries made stale by writes from both stores
  await Promise.all([cached.close(), writer.close(), reference.close()])
})

test('hit ratio on a Zipf workload matches an ideal LRU within 1 percentage point, above 80%', async () => {
  const data = sample()
  const store = await EmbeddingStore.open(dir.path, { dimension: data.dim, performance: { cacheSize: 100 } })
  await store.addEmbeddings(Array.from({ length: 500 }, (_, i) => ({ id: `r${i}`, vector: data.row(i) })))
  const queries = Array.from({ length: 200 }, (_, i) => data.row(500 + i))
  const weights = queries.map((_, i) => 1 / (i + 1))
  const total = weights.reduce((a, b) => a + b, 0)
  const random = rng(7)
  const draw = () => {
    let x = random() * total
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]
      if (x <= 0) return i
    }
    return weights.length - 1
  }
  const sequence = Array.from({ length: 5_000 }, draw)
  // Ideal LRU of capacity 100 over the same sequence.
  const lru = new Map<number, true>()
  let idealHits = 0
  for (const q of sequence) {
    if (lru.has(q)) {
      idealHits++
      lru.delete(q)
    } else if (lru.size === 100) {
      lru.delete(lru.keys().next().value as number)
    }
    lru.set(q, true)
  }
  for (const q of sequence) await store.search(queries[q], { limit: 10 })
  const { cache } = await store.stats()
  const ideal = idealHits / sequence.length
  expect(Math.abs(cache.hitRatio - ideal)).toBeLessThanOrEqual(0.01)
  expect(cache.hitRatio).toBeGreaterThan(0.8)
  await store.close()
})

test('stats report counts and latency summaries', async () => {
  const { store, vectors } = await filledStore(50, 4)
  for (let i = 0; i < 10; i++) await store.search(vectors[i % 3])
  const stats = await store.stats()
  expect(stats).toMatchObject({ rows: 50, inserts: 1, rowsInserted: 50, searches: 10 })
  expect(stats.index).toMatchObject({ kind: null, indexedRows: 0, unindexedRows: 50, building: false, auto: true })
  expect(stats.version).toBe(await store.version())
  expect(stats.searchLatency.count).toBe(10)
  expect(stats.searchLatency.p50).toBeGreaterThan(0)
  expect(stats.searchLatency.p95).toBeGreaterThanOrEqual(stats.searchLatency.p50)
  expect(stats.searchLatency.max).toBeGreaterThanOrEqual(stats.searchLatency.p95)
  expect(stats.insertLatency.count).toBe(1)
  await store.close()
})

test('a reader with readConsistencyIntervalMs still sees its own process’s writes to its connection', async () => {
  const { store, vectors } = await filledStore(20, 4, { performance: { readConsistencyIntervalMs: 60_000 } })
  await store.search(vectors[0])
  await store.addEmbeddings([{ id: 'own', vector: vectors[0] }])
  const hits = await store.search(vectors[0], { limit: 2 })
  expect(ids(hits)).toContain('own')
  await store.close()
})
