// The call path of a search: a cached answer at the latest version resolves without a hop through the
// async runtime, its hits built by one JSON.parse of the whole result. Checked here: the answer is
// exactly what the uncached path gives (ids and metadata with quotes, backslashes, unicode and control
// characters; scores bit for bit), every call gets fresh objects, counters count each call once, a
// closed store still refuses, and bad options still reject (the fast path never answers those).
import { EmbeddingStore, type SearchHit } from '../index'
import { randomVectors, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const awkward = ['plain', 'quo"te', 'back\\slash', 'tab\tnew\nline', 'ünïcödé ✓ 𝄞', '\u0001ctrl', '</script>', '']

async function store(options: Parameters<typeof EmbeddingStore.open>[1] = {}) {
  const s = await EmbeddingStore.open(dir.path, { dimension: 8, ...options })
  const vectors = randomVectors(200, 8, 5)
  await s.addEmbeddings(
    vectors.map((vector, i) => ({
      id: i < awkward.length - 1 ? awkward[i] : `v${i}`,
      vector,
      metadata: i % 3 === 0 ? null : { name: awkward[i % awkward.length], nested: { list: [1.5, -0, 1e-300, 2 ** 53] }, i },
    })),
  )
  return { s, vectors }
}

const exactly = (hits: SearchHit[]) => hits.map((h) => [h.id, h.score, h.distance, JSON.stringify(h.metadata)])

test.each(['cosine', 'l2', 'dot'] as const)('a cached answer equals the uncached one bit for bit (%s)', async (metric) => {
  const { s, vectors } = await store({ metric })
  const uncachedDir = tempDir()
  try {
    const reference = await EmbeddingStore.open(uncachedDir.path, { dimension: 8, metric, performance: { enableQueryCache: false } })
    const all = await s.get(Array.from({ length: 200 }, (_, i) => (i < awkward.length - 1 ? awkward[i] : `v${i}`)))
    await reference.addEmbeddings(all.map((row) => ({ id: row!.id, vector: row!.vector, metadata: row!.metadata })))
    for (const q of vectors.slice(0, 20)) {
      const miss = await s.search(q, { limit: 50 })
      const hit = await s.search(q, { limit: 50 })
      const fresh = await reference.search(q, { limit: 50 })
      expect(exactly(hit)).toEqual(exactly(miss))
      expect(hit.map((h) => h.id)).toEqual(fresh.map((h) => h.id))
      hit.forEach((h, i) => {
        expect(Object.is(h.score, fresh[i].score)).toBe(true)
        expect(Object.is(h.distance, fresh[i].distance)).toBe(true)
      })
      expect(hit.map((h) => h.metadata)).toEqual(fresh.map((h) => h.metadata))
    }
    expect(all.map((row) => row!.id).slice(0, awkward.length - 1)).toEqual(awkward.slice(0, -1))
    const { cache } = await s.stats()
    expect(cache).toMatchObject({ hits: 20, misses: 20 })
    await reference.close()
  } finally {
    uncachedDir.remove()
  }
  await s.close()
})

test('every cached call gets fresh objects; mutating one changes neither the cache nor the next answer', async () => {
  const { s, vectors } = await store()
  const first = await s.search(vectors[1], { limit: 5 })
  const second = await s.search(vectors[1], { limit: 5 })
  expect(second).not.toBe(first)
  second[0].id = 'changed'
  const withMetadata = second.find((h) => h.metadata !== null)!
  ;(withMetadata.metadata as Record<string, unknown>).name = 'changed'
  const third = await s.search(vectors[1], { limit: 5 })
  expect(third).toEqual(first)
  await s.close()
})

test('the fast path refuses what the store refuses: closed stores, bad options, stale versions', async () => {
  const { s, vectors } = await store()
  await s.search(vectors[2], { limit: 5 })
  await expect(s.search(vectors[2], { limit: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(s.search(vectors[2].subarray(0, 4), { limit: 5 })).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' })
  const other = await EmbeddingStore.open(dir.path)
  await other.delete(['v100'])
  const afterWrite = await s.search(vectors[100], { limit: 5 })
  expect(afterWrite.map((h) => h.id)).not.toContain('v100')
  const { cache } = await s.stats()
  expect(cache.hits).toBe(0)
  await other.close()
  const closing = s.close()
  await expect(s.search(vectors[2], { limit: 5 })).rejects.toMatchObject({ code: 'STORE_CLOSED' })
  await closing
})
