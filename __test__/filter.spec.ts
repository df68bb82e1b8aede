// Metadata filters: every operator against a JS reference over the same rows, filtered search equal
// to a brute-force filtered top-k on real embeddings, and values that try to escape their literal.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddingStore, type ErrorCode } from '../index'
import { bruteForce, loadSet, rng, sample, tempDir, type EmbeddingSet } from './fixtures'

type Meta = { section: string; year?: number; score: number; published: boolean; tags: string[] }

const fields = { section: 'string', year: 'int', score: 'float', published: 'bool', tags: 'string[]' } as const

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

/** Synthetic metadata for row i, derived from the real section. */
function metaOf(data: EmbeddingSet, i: number): Meta {
  const r = rng(i + 1)
  const tags = ['red', 'green', 'blue'].filter(() => r() < 0.4)
  const meta: Meta = { section: data.rows[i].section, score: Math.round(r() * 1000) / 100, published: r() < 0.5, tags }
  if (r() < 0.8) meta.year = 2000 + Math.floor(r() * 25) // some rows have no year at all
  return meta
}

type Filter = Record<string, unknown>

/** The documented semantics, in plain JS. */
function matches(meta: Meta, filter: Filter): boolean {
  return Object.entries(filter).every(([key, cond]) => {
    if (key === '$and') return (cond as Filter[]).every((f) => matches(meta, f))
    if (key === '$or') return (cond as Filter[]).some((f) => matches(meta, f))
    if (key === '$not') return !matches(meta, cond as Filter)
    const value = (meta as unknown as Record<string, unknown>)[key]
    const isList = Array.isArray(value)
    const eq = (x: unknown) => (isList ? (value as unknown[]).includes(x) : value === x)
    if (cond === null || typeof cond !== 'object' || Array.isArray(cond)) return cond === null ? value === undefined : eq(cond)
    return Object.entries(cond as Filter).every(([op, arg]) => {
      const present = value !== undefined
      switch (op) {
        case '$eq': return eq(arg)
        case '$ne': return !present || !eq(arg)
        case '$gt': return present && (value as number) > (arg as number)
        case '$gte': return present && (value as number) >= (arg as number)
        case '$lt': return present && (value as number) < (arg as number)
        case '$lte': return present && (value as number) <= (arg as number)
        case '$in': return present && (arg as unknown[]).some((a) => eq(a))
        case '$nin': return !present || !(arg as unknown[]).some((a) => eq(a))
        case '$exists': return present === arg
        default: throw new Error(op)
      }
    })
  })
}

const cases: Filter[] = [
  { section: 'libs' },
  { section: { $eq: 'python' } },
  { section: { $ne: 'libs' } },
  { year: { $gt: 2010 } },
  { year: { $gte: 2010, $lt: 2015 } },
  { year: { $lte: 2003 } },
  { score: { $gt: 5.5 } },
  { score: { $lte: 1 } },
  { published: true },
  { section: { $in: ['perl', 'python', 'rust'] } },
  { section: { $nin: ['libs', 'libdevel', 'doc'] } },
  { year: { $exists: false } },
  { year: { $exists: true }, published: false },
  { tags: 'red' },
  { tags: { $in: ['green', 'blue'] } },
  { tags: { $nin: ['red'] } },
  { $or: [{ section: 'games' }, { year: { $lt: 2002 } }] },
  { $and: [{ published: true }, { $not: { tags: 'blue' } }] },
  { $not: { $or: [{ section: 'libs' }, { section: 'doc' }] } },
]

describe('on the committed sample', () => {
  const data = sample()
  const N = 1500
  let store: EmbeddingStore
  let metas: Meta[]
  beforeEach(async () => {
    store = await EmbeddingStore.open(dir.path, { dimension: data.dim, fields })
    metas = Array.from({ length: N }, (_, i) => metaOf(data, i))
    await store.addEmbeddings(metas.map((metadata, i) => ({ id: `r${i}`, vector: data.row(i), metadata })))
  })
  afterEach(() => store.close())

  test.each(cases.map((c) => [JSON.stringify(c), c]))('count %s equals the JS reference', async (_name, filter) => {
    const expected = metas.filter((m) => matches(m, filter as Filter)).length
    await expect(store.count({ filter: filter as Filter })).resolves.toBe(expected)
  })

  test('filtered search returns exactly the brute-force filtered top-k, even for rare values', async () => {
    const rows = Array.from({ length: N }, (_, i) => data.row(i))
    for (const [q, filter] of cases.slice(0, 10).entries()) {
      const query = data.query(q)
      const allowed = rows.map((v, i) => ({ v, i })).filter(({ i }) => matches(metas[i], filter))
      const truth = bruteForce('cosine', query, allowed.map((a) => a.v), 10).map((t) => `r${allowed[t.i].i}`)
      const hits = await store.search(query, { limit: 10, filter })
      expect(hits.map((h) => h.id)).toEqual(truth)
      expect(hits.length).toBe(Math.min(10, allowed.length)) // prefilter: limit hits whenever that many match
    }
  })

  test('a filter is part of the cache key', async () => {
    const query = data.query(0)
    const a = await store.search(query, { filter: { section: 'libs' } })
    const b = await store.search(query, { filter: { section: 'perl' } })
    expect(a.every((h) => metas[Number(h.id.slice(1))].section === 'libs')).toBe(true)
    expect(b.every((h) => metas[Number(h.id.slice(1))].section === 'perl')).toBe(true)
    expect((await store.stats()).cache.hits).toBe(0)
  })
})

test('values with quotes, backslashes, %, _, unicode and SQL keywords match literally and never inject', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 2, fields: { section: 'string', tags: 'string[]' } })
  const nasty = ["it's", 'back\\slash', '100%', 'a_b', 'a%b', 'ü 日本 🚀', "' OR '1'='1", "x'); DROP TABLE embeddings; --", 'SELECT * FROM embeddings', '"double"']
  await store.addEmbeddings(nasty.map((section, i) => ({ id: `n${i}`, vector: [1, i], metadata: { section, tags: [section] } })))
  await store.addEmbeddings([{ id: 'plain', vector: [0, 1], metadata: { section: 'ab', tags: ['ab'] } }])
  for (const [i, section] of nasty.entries()) {
    await expect(store.count({ filter: { section } })).resolves.toBe(1)
    await expect(store.count({ filter: { tags: section } })).resolves.toBe(1)
    const hits = await store.search([1, i], { filter: { section: { $in: [section] } } })
    expect(hits.map((h) => h.id)).toEqual([`n${i}`])
  }
  await expect(store.count({ filter: { section: { $nin: nasty } } })).resolves.toBe(1)
  await expect(store.count()).resolves.toBe(nasty.length + 1) // nothing was dropped or altered
  const invalid: ErrorCode = 'INVALID_FILTER'
  for (const key of ["section' OR '1'='1", 'section = 1 --', 'sec tion', '"section"']) {
    await expect(store.count({ filter: { [key]: 'x' } })).rejects.toMatchObject({ code: invalid })
  }
  await store.close()
})

test.each<[string, unknown]>([
  ['an unknown operator', { section: { $regex: 'a' } }],
  ['an unknown top-level operator', { $nor: [] }],
  ['an undeclared field', { nope: 1 }],
  ['a string for an int field', { year: '2020' }],
  ['a fraction for an int field', { year: 2020.5 }],
  ['$in without an array', { section: { $in: 'a' } }],
  ['an order on a bool', { published: { $gt: false } }],
  ['$exists with a non-boolean', { year: { $exists: 1 } }],
  ['$or without an array', { $or: { section: 'a' } }],
  ['a non-object filter', 'section = 1'],
])('%s rejects with INVALID_FILTER', async (_name, filter) => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 2, fields })
  await store.addEmbeddings([{ id: 'a', vector: [1, 0], metadata: { section: 's', year: 2020 } }])
  const code: ErrorCode = 'INVALID_FILTER'
  await expect(store.search([1, 0], { filter: filter as Filter })).rejects.toMatchObject({ code })
  await expect(store.count({ filter: filter as Filter })).rejects.toMatchObject({ code })
  await store.close()
})

const full = join(__dirname, '..', '..', 'shared', 'data', 'minilm-384')
const describeFull = existsSync(join(full, 'base.f32')) ? describe : describe.skip
if (!existsSync(join(full, 'base.f32'))) console.warn(`skipping the full-set filter test: ${full} is absent`)

describeFull('on ../shared/data/minilm-384 (20k rows; skipped when absent)', () => {
  test('filtered search by section equals the brute-force filtered top-10', async () => {
    const data = loadSet(full)
    // Exact search throughout (the index's filtered recall is tested in index.spec.ts).
    const store = await EmbeddingStore.open(dir.path, { dimension: data.dim, fields: { section: 'string' }, autoIndex: false })
    await store.addEmbeddings(data.rows.map((row, i) => ({ id: `${i}`, vector: data.row(i), metadata: { section: row.section } })))
    const rows = Array.from({ length: data.nBase }, (_, i) => data.row(i))
    for (const [q, section] of ['libs', 'python', 'games', 'sound', 'x11'].entries()) {
      const allowed = rows.map((v, i) => ({ v, i })).filter(({ i }) => data.rows[i].section === section)
      const query = data.query(q)
      const truth = bruteForce('cosine', query, allowed.map((a) => a.v), 10).map((t) => `${allowed[t.i].i}`)
      const hits = await store.search(query, { limit: 10, filter: { section } })
      expect(hits.map((h) => h.id)).toEqual(truth)
    }
    await store.close()
  })
})
