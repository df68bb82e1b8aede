// Issue 29: one hot tier per machine. The graph file beside the table is mapped read-only and viewed where it
// lies, so processes serving one table share its pages instead of each reading and copying it. Real
// processes: two readers map the same file (the same inode in /proc/<pid>/maps), answer as the LanceDB path
// does, and see a writer's rows at once.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { EmbeddingStore } from '../index'
import { sample, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const graphFile = () => join(dir.path, '.lancestore-embeddings.hnsw')
const QUERIES = 20

/** A serving process: opens the store, waits for the graph, then answers one JSON line per command line. */
function reader(): { next: (command?: string) => Promise<any>; child: ChildProcessWithoutNullStreams } {
  const script = `
    const { EmbeddingStore } = require(${JSON.stringify(join(__dirname, '..', 'index.js'))});
    const { readFileSync } = require('node:fs');
    const { createInterface } = require('node:readline');
    const dir = ${JSON.stringify(join(__dirname, '..', 'examples', 'data', 'minilm-384-sample'))};
    const b = readFileSync(dir + '/queries.f32');
    const queries = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    const query = (i) => queries.subarray(i * 384, (i + 1) * 384);
    const say = (value) => process.stdout.write(JSON.stringify(value) + '\\n');
    (async () => {
      const store = await EmbeddingStore.open(${JSON.stringify(dir.path)}, { autoIndex: false, performance: { enableQueryCache: false } });
      for (let i = 0; i < 3000; i++) {
        const { index } = await store.stats();
        if (index.kind === 'hnsw' && index.unindexedRows === 0 && !index.building && index.indexedRows > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const maps = readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.endsWith('.lancestore-embeddings.hnsw'));
      say({ graph: (await store.stats()).index.graph, inodes: [...new Set(maps.map((l) => Number(l.trim().split(/\\s+/)[4])))] });
      for await (const line of createInterface({ input: process.stdin })) {
        if (line === 'exit') break;
        const exact = line === 'exact';
        const results = [];
        for (let q = 0; q < ${QUERIES}; q++) results.push((await store.search(query(q), { limit: 10, exact })).map((h) => h.id));
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

  const readers = [reader(), reader()]
  try {
    const opened = await Promise.all(readers.map((r) => r.next()))
    const inode = statSync(graphFile()).ino
    for (const { graph, inodes } of opened) {
      expect(graph).toMatchObject({ source: 'loaded', ignoredFile: null })
      expect(graph.mappedBytes).toBeGreaterThan(set.nBase * set.dim) // f16 vectors and links, viewed in place
      expect(graph.bytes).toBeLessThan(graph.mappedBytes / 2)
      expect(inodes).toEqual([inode]) // both map the very file on disk
    }

    // The same answers as LanceDB's own exact search, from memory.
    const lancedb = await EmbeddingStore.open(dir.path, { performance: { residentMemoryMB: 0 } })
    const truth: string[][] = []
    for (let q = 0; q < QUERIES; q++) truth.push((await lancedb.search(set.query(q), { limit: 10, exact: true })).map((h) => h.id))
    for (const r of readers) {
      const exact = await r.next('exact')
      expect(exact.results).toEqual(truth)
      const graph = await r.next('graph')
      const found = graph.results.flat().filter((id: string, k: number) => truth[Math.floor(k / 10)].includes(id)).length
      expect(found / (QUERIES * 10)).toBeGreaterThanOrEqual(0.95)
      expect(graph.resident).toBeGreaterThanOrEqual(exact.resident + QUERIES) // answered from memory
    }

    // A writer (another process) adds the queries as rows: each reader's next search finds them first.
    const writer = await EmbeddingStore.open(dir.path, {})
    await writer.addEmbeddings(Array.from({ length: QUERIES }, (_, q) => ({ id: `new-${q}`, vector: set.query(q) })))
    for (const r of readers) {
      const after = await r.next('graph')
      expect(after.results.map((ids: string[]) => ids[0])).toEqual(Array.from({ length: QUERIES }, (_, q) => `new-${q}`))
    }
    await writer.close()
    await lancedb.close()
  } finally {
    for (const r of readers) r.child.stdin.end('exit\n')
    await Promise.all(readers.map((r) => new Promise((resolve) => r.child.once('exit', resolve))))
  }
}, 120_000)
