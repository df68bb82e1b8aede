// Issue 17: `importFile` (JSONL, NPY, Parquet, Arrow), progress callbacks, and the `lancestore` CLI.
// The repo's real MiniLM sample is exported to each format by the test, imported into a fresh store,
// and checked row by row; bad files of each kind are refused naming the line or row, writing nothing.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { EmbeddingStore, type ErrorCode, type ProgressEvent } from '../index'
import { loadSet, sample, tempDir } from './fixtures'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const files = require('../bench/files') as {
  writeJsonl: (file: string, rows: Row[], flat: Float32Array, dim: number) => void
  writeNpy: (file: string, ids: string, rows: Row[], flat: Float32Array, dim: number) => void
  writeParquet: (file: string, rows: Row[], flat: Float32Array, dim: number) => void
  npyBytes: (flat: Float32Array, dim: number) => Buffer
}

interface Row {
  id: string
  metadata: Record<string, string>
}

const set = sample()
const rows: Row[] = set.rows.map((r) => ({ id: r.key, metadata: { section: r.section } }))
const cli = join(__dirname, '..', 'bin', 'lancestore.js')

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | string> {
  try {
    await p
  } catch (e) {
    return (e as { code: ErrorCode }).code
  }
  return 'resolved'
}

/** Exports the sample to `format` in the temp dir; returns the path and import options. */
function exported(format: 'jsonl' | 'npy' | 'parquet'): { file: string; options: Record<string, string> } {
  const file = join(dir.path, `sample.${format}`)
  if (format === 'jsonl') files.writeJsonl(file, rows, set.base, set.dim)
  if (format === 'parquet') files.writeParquet(file, rows, set.base, set.dim)
  if (format === 'npy') {
    const ids = join(dir.path, 'sample-ids.jsonl')
    files.writeNpy(file, ids, rows, set.base, set.dim)
    return { file, options: { idsPath: ids } }
  }
  return { file, options: {} }
}

describe('importFile round-trips each format', () => {
  for (const format of ['jsonl', 'npy', 'parquet'] as const) {
    test(`${format}: every row stored exactly, with metadata, searchable, progress ends at the total`, async () => {
      const { file, options } = exported(format)
      const store = await EmbeddingStore.open(join(dir.path, 'store'), { dimension: set.dim, autoIndex: false })
      const events: ProgressEvent[] = []
      const result = await store.importFile(file, { ...options, onProgress: (p) => events.push(p) })
      expect(result).toMatchObject({ added: set.nBase, rows: set.nBase, commits: 1 })
      expect(await store.count()).toBe(set.nBase)
      for (const i of [0, 777, set.nBase - 1]) {
        const [got] = await store.get([rows[i].id])
        expect(Array.from(got!.vector)).toEqual(Array.from(set.row(i)))
        expect(got!.metadata).toEqual({ section: rows[i].metadata.section })
        const [hit] = await store.search(set.row(i), { limit: 1 })
        expect(hit.id).toBe(rows[i].id)
      }
      // Progress: arrives (asynchronously, so give the queue a turn), never goes back, ends at the total.
      await new Promise((resolve) => setImmediate(resolve))
      const last = events[events.length - 1]
      expect(last).toMatchObject({ phase: 'done', rows: set.nBase, bytes: statSync(file).size, totalBytes: statSync(file).size })
      const read = events.filter((e) => e.phase === 'read').map((e) => e.rows)
      expect(read).toEqual([...read].sort((a, b) => a - b))
      expect(events.some((e) => e.phase === 'commit')).toBe(true)
      await store.close()
    })
  }

  const shared = join(__dirname, '..', '..', 'shared', 'data', 'minilm-384')
  const run = existsSync(join(shared, 'base.f32')) ? test : test.skip
  if (!existsSync(join(shared, 'base.f32'))) console.log(`skipping the 20k import test: ${shared} is absent`)
  run('MiniLM 20k from ../shared/data: NPY with row-number ids, every vector stored exactly', async () => {
    const big = loadSet(shared)
    const file = join(dir.path, 'minilm.npy')
    writeFileSync(file, files.npyBytes(big.base, big.dim))
    const store = await EmbeddingStore.open(join(dir.path, 'store'), { dimension: big.dim, autoIndex: false })
    expect((await store.importFile(file)).added).toBe(big.nBase)
    const got = await store.get(['0', String(big.nBase - 1)])
    expect(Array.from(got[1]!.vector)).toEqual(Array.from(big.row(big.nBase - 1)))
    await store.close()
  })
})

describe('bad files are refused, naming the place, and write nothing', () => {
  test('JSONL: a bad vector, a repeated id, a cut-off last line', async () => {
    const store = await EmbeddingStore.open(join(dir.path, 'store'), { dimension: set.dim, autoIndex: false })
    await store.addEmbeddings([{ id: 'kept', vector: set.row(0) }])
    const version = await store.version()
    const file = join(dir.path, 'bad.jsonl')
    files.writeJsonl(file, rows, set.base, set.dim)
    const lines = readFileSync(file, 'utf8').trim().split('\n')
    const spoil = async (edit: (l: string[]) => void): Promise<Error & { code: string }> => {
      const copy = [...lines]
      edit(copy)
      writeFileSync(file, copy.join('\n'))
      return store.importFile(file).then(
        () => {
          throw new Error('resolved')
        },
        (e) => e,
      )
    }
    let err = await spoil((l) => (l[1500] = JSON.stringify({ id: 'x', vector: Array(set.dim).fill('a') })))
    expect(err.code).toBe('INVALID_VECTOR')
    expect(err.message).toContain('bad.jsonl line 1501, field "vector"')
    err = await spoil((l) => (l[1999] = l[3]))
    expect(err.code).toBe('DUPLICATE_ID')
    expect(err.message).toContain('line 2000')
    err = await spoil((l) => (l[1999] = l[1999].slice(0, 100)))
    expect(err.code).toBe('INVALID_ARGUMENT')
    expect(err.message).toContain('line 2000')
    err = await spoil((l) => (l[10] = JSON.stringify({ id: 'kept', vector: Array.from(set.row(1)) })))
    expect(err.code).toBe('DUPLICATE_ID')
    expect(await store.version()).toBe(version)
    expect(await store.count()).toBe(1)
    await store.close()
  })

  test('NPY cut short and Parquet cut short', async () => {
    const store = await EmbeddingStore.open(join(dir.path, 'store'), { dimension: set.dim, autoIndex: false })
    const version = await store.version()
    const npy = exported('npy')
    writeFileSync(npy.file, readFileSync(npy.file).subarray(0, 100_000))
    const err = await store.importFile(npy.file, npy.options).catch((e) => e)
    expect(err.code).toBe('INVALID_ARGUMENT')
    expect(err.message).toContain('truncated')
    const parquet = exported('parquet')
    writeFileSync(parquet.file, readFileSync(parquet.file).subarray(0, 200_000))
    expect(await codeOf(store.importFile(parquet.file))).toBe('INVALID_ARGUMENT')
    expect(await store.version()).toBe(version)
    expect(await store.count()).toBe(0)
    await store.close()
  })

  test('options are checked; a throwing onProgress neither crashes nor stops the import', async () => {
    const store = await EmbeddingStore.open(join(dir.path, 'store'), { dimension: set.dim, autoIndex: false })
    const { file } = exported('jsonl')
    expect(await codeOf(store.importFile(file, { idfield: 'x' } as never))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(store.importFile(file, { onProgress: 5 } as never))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(store.importFile(42 as never))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(store.importFile(join(dir.path, 'missing.jsonl')))).toBe('IO')
    let calls = 0
    const result = await store.importFile(file, {
      onProgress: () => {
        calls += 1
        throw new Error('boom')
      },
    })
    expect(result.added).toBe(set.nBase)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(calls).toBeGreaterThanOrEqual(1)
    expect(calls).toBeLessThanOrEqual(2) // an event queued before the throw was seen may still arrive
    await store.close()
  })
})

test('addEmbeddings reports the rows LanceDB has taken, then done', async () => {
  const store = await EmbeddingStore.open(join(dir.path, 'store'), { dimension: 4, autoIndex: false, performance: { batchSize: 1_000 } })
  const items = Array.from({ length: 20_000 }, (_, i) => ({ id: `a${i}`, vector: new Float32Array([1, i % 7, i % 3, 1]) }))
  const events: ProgressEvent[] = []
  expect((await store.addEmbeddings(items, { onProgress: (p) => events.push(p) })).added).toBe(20_000)
  await new Promise((resolve) => setImmediate(resolve))
  expect(events[0]).toMatchObject({ phase: 'write', rows: 0, totalRows: 20_000 })
  expect(events[events.length - 1]).toMatchObject({ phase: 'done', rows: 20_000, totalRows: 20_000 })
  const written = events.filter((e) => e.phase === 'write').map((e) => e.rows)
  expect(written).toEqual([...written].sort((a, b) => a - b))
  expect(await codeOf(store.addEmbeddings([], { onprogress: () => 0 } as never))).toBe('INVALID_ARGUMENT')
  await store.close()
})

test('createIndex and optimize report progress', async () => {
  const store = await EmbeddingStore.open(join(dir.path, 'store'), { dimension: set.dim, autoIndex: false })
  await store.importFile(exported('jsonl').file)
  const index: ProgressEvent[] = []
  const report = await store.createIndex({ kind: 'hnsw', onProgress: (p) => index.push(p) })
  expect(report.kind).toBe('hnsw')
  const optimize: ProgressEvent[] = []
  await store.optimize({ onProgress: (p) => optimize.push(p) })
  await new Promise((resolve) => setImmediate(resolve))
  expect(index[0]).toMatchObject({ phase: 'index', rows: 0, totalRows: set.nBase })
  expect(index[index.length - 1]).toMatchObject({ phase: 'done', rows: set.nBase })
  expect(optimize.map((e) => e.phase)).toEqual(['compact', 'done'])
  await store.close()
})

describe('the lancestore CLI', () => {
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) }
  }

  test('import, stats, search, get, index, optimize with --json; progress lines on a pipe', () => {
    const store = join(dir.path, 'store')
    const { file } = exported('jsonl')
    let r = run('import', store, file, '--dimension', String(set.dim), '--fields', 'section:string', '--json')
    expect(r.status).toBe(0)
    expect(r.json()).toMatchObject({ added: set.nBase, rows: set.nBase, commits: 1 })
    expect(r.stderr).toMatch(/import\s+done\s+\[#+\] 100%\s+2,000\/2,000 rows/)
    expect(run('stats', store, '--json').json()).toMatchObject({ rows: set.nBase, dimension: set.dim, metric: 'cosine' })
    const query = join(dir.path, 'query.json')
    writeFileSync(query, JSON.stringify(Array.from(set.row(5))))
    r = run('search', store, '--vector', query, '--limit', '3', '--json')
    expect(r.status).toBe(0)
    expect(r.json()[0].id).toBe(rows[5].id)
    r = run('search', store, '--vector', query, '--filter', JSON.stringify({ section: 'nope' }), '--json')
    expect(r.json()).toEqual([])
    r = run('search', store, '--vector', query, '--filter', JSON.stringify({ section: rows[5].metadata.section }), '--limit', '50', '--json')
    expect(r.json().every((h: { metadata: { section: string } }) => h.metadata.section === rows[5].metadata.section)).toBe(true)
    r = run('get', store, rows[9].id, 'missing-id', '--json')
    expect(r.json()[0]).toMatchObject({ id: rows[9].id, metadata: { section: rows[9].metadata.section } })
    expect(r.json()[1]).toEqual({ id: 'missing-id', missing: true })
    r = run('index', store, '--kind', 'hnsw', '--json')
    expect(r.status).toBe(0)
    expect(r.json()).toMatchObject({ kind: 'hnsw', rows: set.nBase })
    r = run('optimize', store)
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('compacted')
    r = run('stats', store)
    expect(r.stdout).toContain(`rows ${set.nBase}`)
  })

  test('exit codes: 1 for usage errors, 2 with the code for the store\'s errors', () => {
    const store = join(dir.path, 'store')
    expect(run('nonsense').status).toBe(1)
    expect(run('import', store).status).toBe(1)
    expect(run('stats', join(dir.path, 'nowhere')).status).toBe(1)
    expect(existsSync(join(dir.path, 'nowhere'))).toBe(false)
    expect(run('search', store, '--vector', '[1,2', '--json').status).toBe(1)
    const { file } = exported('jsonl')
    expect(run('import', store, file, '--dimension', String(set.dim), '--commit-every', 'many').status).toBe(1)
    let r = run('import', store, file)
    expect(r.status).toBe(2) // a new store without --dimension
    expect(r.stderr).toContain('INVALID_ARGUMENT')
    expect(run('import', store, file, '--dimension', String(set.dim)).status).toBe(0)
    r = run('import', store, file)
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('DUPLICATE_ID')
    r = run('search', store, '--vector', '[1, 2, 3]')
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('DIMENSION_MISMATCH')
    expect(run('--help').status).toBe(0)
  })
})
