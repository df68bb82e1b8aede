// Issue 29: one hot tier per machine. The graph file and the vector file beside the table are mapped
// read-only and used where they lie, so processes serving one table share their pages instead of each
// holding a copy. Real processes: two readers map the same files (the same inodes in /proc/<pid>/maps),
// answer as the LanceDB path does, and see a writer's rows at once.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { EmbeddingStore } from '../index'
import { randomVectors, sample, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const graphFile = () => join(dir.path, '.lancestore-embeddings.hnsw')
const QUERIES = 20
type Hit = [string, number]

/** LanceDB's own exact top 10 of each query, as [id, score] pairs. */
async function exactTopTen(store: EmbeddingStore, queries: Float32Array[]): Promise<Hit[][]> {
  const all: Hit[][] = []
  for (const q of queries) all.push((await store.search(q, { limit: 10, exact: true })).map((h) => [h.id, h.score] as Hit))
  return all
}

/** The same hits with the same scores (1e-5); two neighbours whose scores tie within that may swap places. */
function expectSameUpToTies(ours: Hit[][], theirs: Hit[][]) {
  expect(ours.length).toBe(theirs.length)
  ours.forEach((hits, q) => {
    expect(hits.length).toBe(theirs[q].length)
    hits.forEach(([id, score], k) => {
      const [theirId, theirScore] = theirs[q][k]
      expect(Math.abs(score - theirScore)).toBeLessThan(1e-5)
      if (id !== theirId) {
        expect(theirs[q].some(([t, s]) => t === id && Math.abs(s - score) < 1e-5)).toBe(true)
      }
    })
  })
}

/**
 * A serving process: opens the store, waits until it answers from memory (and, with `graph`, until the graph
 * covers every row; with `vectors`, until its vectors are read from the vector file), then answers one JSON
 * line per command line ('exact' or 'graph': the queries' top 10 as [id, score] pairs).
 */
function reader(
  queries: Float32Array[],
  wait: { graph?: boolean; vectors?: boolean } = {},
): { next: (command?: string) => Promise<any>; child: ChildProcessWithoutNullStreams } {
  // Too long for a command line: the queries go through a file.
  const queryFile = join(dir.path, `queries-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(queryFile, JSON.stringify(queries.map((q) => Array.from(q))))
  const script = `
    const { EmbeddingStore } = require(${JSON.stringify(join(__dirname, '..', 'index.js'))});
    const { readFileSync } = require('node:fs');
    const { createInterface } = require('node:readline');
    const queries = JSON.parse(readFileSync(${JSON.stringify(queryFile)}, 'utf8')).map((q) => Float32Array.from(q));
    const query = (i) => queries[i];
    const say = (value) => process.stdout.write(JSON.stringify(value) + '\\n');
    (async () => {
      const store = await EmbeddingStore.open(${JSON.stringify(dir.path)}, { autoIndex: false, performance: { enableQueryCache: false } });
      const wait = ${JSON.stringify(wait)};
      for (let i = 0; i < 3000; i++) {
        const { index, resident } = await store.stats();
        const graphed = index.kind === 'hnsw' && index.unindexedRows === 0 && !index.building && index.indexedRows > 0;
        if (resident.state === 'ready' && (graphed || !wait.graph) && (resident.mappedBytes > 0 || !wait.vectors)) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const maps = readFileSync('/proc/self/maps', 'utf8').split('\\n');
      const inodes = (suffix) => [...new Set(maps.filter((l) => l.endsWith(suffix)).map((l) => Number(l.trim().split(/\\s+/)[4])))];
      const stats = await store.stats();
      say({ graph: stats.index.graph, resident: stats.resident, inodes: inodes('.hnsw'), vectorInodes: inodes('.vectors') });
      for await (const line of createInterface({ input: process.stdin })) {
        if (line === 'exit') break;
        const exact = line === 'exact';
        const results = [];
        for (let q = 0; q < ${QUERIES}; q++) results.push((await store.search(query(q), { limit: 10, exact })).map((h) => [h.id, h.score]));
        say({ results, resident: (await store.stats()).resident.searches });
      }
      await store.close();
    })().catch((e) => { console.error(e); process.exit(1) });`
  const child = spawn(process.execPath, ['-e', script])
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return {
    child,
    next: async (command?: string) => {
      if (command) child.stdin.write(`${command}\n`)
      const line = await lines.next()
      if (line.done) throw new Error(`the reader exited: ${stderr}`)
      return JSON.parse(line.value)
    },
  }
}

test('two processes view one graph file, answer as the LanceDB path does, and see a writer’s rows at once', async () => {
  const set = sample()
  const store = await EmbeddingStore.open(dir.path, { dimension: set.dim, autoIndex: false })
  await store.addEmbeddings(Array.from({ length: set.nBase }, (_, i) => ({ id: `${i}`, vector: set.row(i) })))
  await store.createIndex({ kind: 'hnsw' })
  await store.close() // saves the graph file

  const queries = Array.from({ length: QUERIES }, (_, q) => set.query(q))
  const readers = [reader(queries, { graph: true }), reader(queries, { graph: true })]
  try {
    const opened = await Promise.all(readers.map((r) => r.next()))
    const inode = statSync(graphFile()).ino
    for (const { graph, inodes, vectorInodes, resident } of opened) {
      expect(vectorInodes).toEqual([]) // 2,000 rows: too few for a vector file
      expect(resident.mappedBytes).toBe(0)
      expect(graph).toMatchObject({ source: 'loaded', ignoredFile: null })
      expect(graph.mappedBytes).toBeGreaterThan(set.nBase * set.dim) // f16 vectors and links, viewed in place
      expect(graph.bytes).toBeLessThan(graph.mappedBytes / 2)
      expect(inodes).toEqual([inode]) // both map the very file on disk
    }

    // The same answers as LanceDB's own exact search, from memory.
    const lancedb = await EmbeddingStore.open(dir.path, { performance: { residentMemoryMB: 0 } })
    const truth = await exactTopTen(lancedb, queries)
    for (const r of readers) {
      const exact = await r.next('exact')
      expectSameUpToTies(exact.results, truth)
      const graph = await r.next('graph')
      const found = graph.results
        .map((hits: Hit[], q: number) => hits.filter(([id]) => truth[q].some(([t]) => t === id)).length)
        .reduce((a: number, b: number) => a + b, 0)
      expect(found / (QUERIES * 10)).toBeGreaterThanOrEqual(0.95)
      expect(graph.resident).toBeGreaterThanOrEqual(exact.resident + QUERIES) // answered from memory
    }

    // A writer (another process) adds the queries as rows: each reader's next search finds them first.
    const writer = await EmbeddingStore.open(dir.path, {})
    await writer.addEmbeddings(Array.from({ length: QUERIES }, (_, q) => ({ id: `new-${q}`, vector: set.query(q) })))
    for (const r of readers) {
      const after = await r.next('graph')
      expect(after.results.map((hits: Hit[]) => hits[0][0])).toEqual(Array.from({ length: QUERIES }, (_, q) => `new-${q}`))
    }
    await writer.close()
    await lancedb.close()
  } finally {
    for (const r of readers) r.child.stdin.end('exit\n')
    await Promise.all(readers.map((r) => new Promise((resolve) => r.child.once('exit', resolve))))
  }
}, 120_000)

test('processes serving a table of 10,000+ rows read its vectors in place from one vector file', async () => {
  const dim = 32
  const rows = randomVectors(12_000, dim, 29)
  const store = await EmbeddingStore.open(dir.path, { dimension: dim, autoIndex: false })
  for (let from = 0; from < rows.length; from += 4_000) {
    await store.addEmbeddings(rows.slice(from, from + 4_000).map((vector, k) => ({ id: `${from + k}`, vector })))
  }
  await store.close()
  // The first process loads the table whole and writes the vector file; the next two read it in place.
  const queries = randomVectors(QUERIES, dim, 30)
  const first = reader(queries, { vectors: true })
  const written = (await first.next()).resident
  expect(written.mappedBytes).toBeGreaterThanOrEqual(12_000 * dim * 4)
  const vectorFile = join(dir.path, '.lancestore-embeddings.vectors')
  const inode = statSync(vectorFile).ino
  const readers = [first, reader(queries, { vectors: true }), reader(queries, { vectors: true })]
  try {
    const opened = [written, ...(await Promise.all(readers.slice(1).map((r) => r.next())))]
    for (const resident of opened.slice(1)) {
      const { mappedBytes, bytes } = resident.resident
      expect(mappedBytes).toBe(statSync(vectorFile).size)
      expect(bytes).toBeLessThan(12_000 * dim * 4) // the vectors are not in private memory
      expect(resident.vectorInodes).toEqual([inode])
      // The table's fragments are those the file records: their vectors were not read from the table at all.
      expect(resident.resident).toMatchObject({ rowsRead: 12_000, rowsReadWithoutVectors: 12_000 })
    }
    expect(statSync(vectorFile).ino).toBe(inode) // read, not written again
    const lancedb = await EmbeddingStore.open(dir.path, { autoIndex: false, performance: { residentMemoryMB: 0 } })
    const truth = await exactTopTen(lancedb, queries)
    for (const r of readers.slice(1)) expectSameUpToTies((await r.next('exact')).results, truth)
    await lancedb.close()
  } finally {
    for (const r of readers) r.child.stdin.end('exit\n')
    await Promise.all(readers.map((r) => new Promise((resolve) => r.child.once('exit', resolve))))
  }
}, 120_000)
