// search: nearest neighbours against a brute-force reference on real embeddings, per metric;
// scores, distances, thresholds, limits, and every input error.
import { EmbeddingStore, type ErrorCode, type SearchHit } from '../index'
import { bruteForce, distance, isError, randomVectors, sample, tempDir, type Metric } from './fixtures'

const data = sample()
const N = 1000
const baseRows = Array.from({ length: N }, (_, i) => data.row(i))

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

async function storeOfSample(metric: Metric): Promise<EmbeddingStore> {
  const store = await EmbeddingStore.open(dir.path, { dimension: data.dim, metric })
  await store.addEmbeddings(
    baseRows.map((vector, i) => ({ id: `row-${i}`, vector, metadata: { key: data.rows[i].key, section: data.rows[i].section } })),
  )
  return store
}

describe.each<Metric>(['cosine', 'dot', 'l2'])('%s', (metric) => {
  test('returns exactly the brute-force top-10 for real queries, best first, with documented scores', async () => {
    const store = await storeOfSample(metric)
    for (let q = 0; q < 20; q++) {
      const query = data.query(q)
      const hits = await store.search(query, { limit: 10 })
      const truth = bruteForce(metric, query, baseRows, 10)
      expect(hits.map((h) => h.id)).toEqual(truth.map((t) => `row-${t.i}`))
      hits.forEach((hit, k) => {
        expect(hit.distance).toBeCloseTo(truth[k].d, 4)
        const score = metric === 'l2' ? 1 / (1 + hit.distance) : 1 - hit.distance
        expect(hit.score).toBeCloseTo(score, 10)
        if (k > 0) expect(hit.score).toBeLessThanOrEqual(hits[k - 1].score)
      })
      expect(hits[0].metadata).toEqual({
        key: data.rows[truth[0].i].key,
        section: data.rows[truth[0].i].section,
      })
    }
    await store.close()
  })

  test('a stored vector finds itself first with the best possible score', async () => {
    const store = await storeOfSample(metric)
    const [hit] = await store.search(baseRows[123], { limit: 1 })
    expect(hit.id).toBe('row-123')
    if (metric === 'l2') expect(hit.distance).toBeCloseTo(0, 5)
    else expect(Math.abs(hit.score - 1)).toBeLessThan(1e-5) // unit vectors: cos = dot = 1
    await store.close()
  })

  test('threshold returns exactly the hits whose score reaches it', async () => {
    const store = await storeOfSample(metric)
    const query = data.query(3)
    const all = await store.search(query, { limit: 100 })
    const threshold = all[9].score // the 10th best score: ties aside, exactly 10 qualify
    const hits = await store.search(query, { limit: 100, threshold })
    expect(hits.length).toBeGreaterThanOrEqual(10)
    expect(hits.every((h) => h.score >= threshold)).toBe(true)
    expect(hits.map((h) => h.id)).toEqual(all.filter((h) => h.score >= threshold).map((h) => h.id))
    await expect(store.search(query, { threshold: 2 })).resolves.toEqual([])
    await store.close()
  })
})

test('cosine scores are cosine similarities even for vectors that are not normalised', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 3 })
  await store.addEmbeddings([
    { id: 'long', vector: [10, 0, 0] },
    { id: 'diag', vector: [3, 3, 0] },
  ])
  const hits = await store.search([2, 0, 0])
  expect(hits.map((h) => h.id)).toEqual(['long', 'diag'])
  expect(hits[0].score).toBeCloseTo(1, 5)
  expect(hits[1].score).toBeCloseTo(Math.SQRT1_2, 5)
  expect(hits[1].distance).toBeCloseTo(distance('cosine', [2, 0, 0], [3, 3, 0]), 5)
  await store.close()
})

test('limit defaults to 10 and caps the hits; fewer rows than limit returns them all', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 8 })
  const vectors = randomVectors(30, 8, 11)
  await store.addEmbeddings(vectors.map((vector, i) => ({ id: `${i}`, vector })))
  await expect(store.search(vectors[0])).resolves.toHaveLength(10)
  await expect(store.search(vectors[0], { limit: 3 })).resolves.toHaveLength(3)
  await expect(store.search(vectors[0], { limit: 100 })).resolves.toHaveLength(30)
  await store.close()
})

test('an empty store returns no hits', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 2 })
  await expect(store.search([1, 0])).resolves.toEqual([])
  await store.close()
})

test('hits are plain objects the caller owns', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 2 })
  await store.addEmbeddings([{ id: 'a', vector: [1, 0], metadata: { tags: ['x'] } }])
  const [first] = await store.search([1, 0])
  ;(first.metadata as { tags: string[] }).tags.push('mutated')
  const [again]: SearchHit[] = await store.search([1, 0])
  expect(again.metadata).toEqual({ tags: ['x'] })
  await store.close()
})

describe('bad queries reject with a code and leave the store usable', () => {
  let store: EmbeddingStore
  beforeEach(async () => {
    store = await EmbeddingStore.open(dir.path, { dimension: 3 })
    await store.addEmbeddings([{ id: 'a', vector: [1, 0, 0] }])
  })
  afterEach(async () => {
    await expect(store.search([1, 0, 0])).resolves.toHaveLength(1)
    await store.close()
  })

  test.each<[string, unknown, unknown, ErrorCode]>([
    ['a short query', new Float32Array(2), undefined, 'DIMENSION_MISMATCH'],
    ['a long number[] query', [1, 2, 3, 4], undefined, 'DIMENSION_MISMATCH'],
    ['a NaN element', [1, Number.NaN, 0], undefined, 'INVALID_VECTOR'],
    ['an Infinity element', new Float32Array([Number.POSITIVE_INFINITY, 0, 0]), undefined, 'INVALID_VECTOR'],
    ['an all-zero query under cosine', [0, 0, 0], undefined, 'INVALID_VECTOR'],
    ['a string query', 'hello', undefined, 'INVALID_ARGUMENT'],
    ['limit 0', [1, 0, 0], { limit: 0 }, 'INVALID_ARGUMENT'],
    ['limit -1', [1, 0, 0], { limit: -1 }, 'INVALID_ARGUMENT'],
    ['limit 2.5', [1, 0, 0], { limit: 2.5 }, 'INVALID_ARGUMENT'],
    ['limit above 10000', [1, 0, 0], { limit: 10_001 }, 'INVALID_ARGUMENT'],
    ['a NaN threshold', [1, 0, 0], { threshold: Number.NaN }, 'INVALID_ARGUMENT'],
    ['a string limit', [1, 0, 0], { limit: 'ten' }, 'INVALID_ARGUMENT'],
  ])('%s → %s', async (_name, query, options, code) => {
    const err = await store
      .search(query as number[], options as undefined)
      .then(() => undefined, (e: unknown) => e)
    expect(isError(err)).toBe(true)
    expect(err).toMatchObject({ code })
  })

  test('DIMENSION_MISMATCH says expected and got', async () => {
    await expect(store.search([1, 2])).rejects.toThrow(/query has 2 dimensions but the store holds 3-dimensional/)
  })
})
