// The framework adapters (`lancestore/langchain`, `lancestore/llamaindex`) against the real framework
// packages: LangChain.js retrievers over deterministic synthetic embeddings, LlamaIndex.TS indexes over a
// deterministic bag-of-words embedding model; real LanceDB in a temp directory.
import { Document } from '@langchain/core/documents'
import { SyntheticEmbeddings } from '@langchain/core/utils/testing'
import { BaseEmbedding } from '@llamaindex/core/embeddings'
import { Document as LlamaDocument, TextNode } from '@llamaindex/core/schema'
import { LancestoreVectorStore as LangChainStore } from '../adapters/langchain'
import { LancestoreVectorStore as LlamaIndexStore } from '../adapters/llamaindex'
import { EmbeddingStore } from '../index'
import { tempDir } from './fixtures'

const embeddings = () => new SyntheticEmbeddings({ vectorSize: 32 })

/** Words hashed into 32 buckets: texts sharing words are close, and nothing is random. */
class BagOfWords extends BaseEmbedding {
  constructor() {
    super()
  }

  async getTextEmbedding(text: string): Promise<number[]> {
    const v = new Array(32).fill(0)
    for (const word of text.toLowerCase().split(/\W+/).filter(Boolean)) {
      let h = 2166136261
      for (const ch of word) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0
      v[h % 32] += 1
    }
    return v
  }
}

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

describe('LangChain.js adapter', () => {
  const texts = ['apple pie recipe', 'banana bread recipe', 'rust borrow checker', 'node event loop']
  const metadatas = [
    { topic: 'food', n: 1 },
    { topic: 'food', n: 2 },
    { topic: 'code', n: 3 },
    { topic: 'code', n: 4 },
  ]
  const config = () => ({ path: dir.path, fields: { topic: 'string' as const } })

  test('fromTexts, a retriever answering invoke(), ids and metadata round-trip, reopen gives the same results', async () => {
    const store = await LangChainStore.fromTexts(texts, metadatas, embeddings(), config())
    expect(store._vectorstoreType()).toBe('lancestore')
    const retriever = store.asRetriever(2)
    const docs = await retriever.invoke('rust borrow checker')
    expect(docs[0].pageContent).toBe('rust borrow checker')
    expect(docs[0].metadata).toEqual({ topic: 'code', n: 3 })
    expect(typeof docs[0].id).toBe('string')
    const scored = await store.similaritySearchWithScore('node event loop', 4)
    expect(scored[0][0].pageContent).toBe('node event loop')
    expect(scored[0][1]).toBeCloseTo(1, 5) // cosine similarity: higher is closer
    for (let i = 1; i < scored.length; i++) expect(scored[i][1]).toBeLessThanOrEqual(scored[i - 1][1])
    await store.close()
    await store.close() // closing twice is harmless

    const reopened = new LangChainStore(embeddings(), config())
    const again = await reopened.similaritySearchWithScore('node event loop', 4)
    expect(again.map(([d]) => [d.id, d.pageContent, d.metadata])).toEqual(scored.map(([d]) => [d.id, d.pageContent, d.metadata]))
    again.forEach(([, s], i) => expect(s).toBeCloseTo(scored[i][1], 5))
    expect(await (await reopened.client()).count()).toBe(4)
    await reopened[Symbol.asyncDispose]()
  })

  test('addDocuments with ids (returned, upserted), Document.id kept, filters, delete by ids and by filter', async () => {
    const store = await LangChainStore.open(embeddings(), { ...config(), dimension: 32 })
    const ids = await store.addDocuments(
      texts.map((t, i) => new Document({ pageContent: t, metadata: metadatas[i] })),
      { ids: ['a', 'b', 'c', 'd'] },
    )
    expect(ids).toEqual(['a', 'b', 'c', 'd'])
    expect(await store.addDocuments([new Document({ pageContent: 'apple pie recipe v2', metadata: { topic: 'food' }, id: 'a' })])).toEqual(['a'])
    const client = await store.client()
    expect(await client.count()).toBe(4) // 'a' replaced, not added
    const [a] = await client.get(['a'])
    expect(a?.metadata).toEqual({ topic: 'food', text: 'apple pie recipe v2' })

    const food = await store.similaritySearch('rust borrow checker', 4, { topic: 'food' })
    expect(food.map((d) => d.id).sort()).toEqual(['a', 'b'])
    const viaRetriever = await store.asRetriever({ k: 4, filter: { topic: { $ne: 'food' } } }).invoke('apple')
    expect(viaRetriever.map((d) => d.id).sort()).toEqual(['c', 'd'])

    await store.delete({ ids: ['a', 'missing'] })
    expect(await client.count()).toBe(3)
    await store.delete({ filter: { topic: 'code' } })
    expect((await store.similaritySearch('anything', 10)).map((d) => d.id)).toEqual(['b'])
    await expect(store.delete({} as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await store.close()
  })

  test('maxMarginalRelevanceSearch trades duplicates for diversity', async () => {
    const store = await LangChainStore.fromTexts(
      ['apple pie recipe', 'apple pie recipe', 'apple pie recipe', 'banana bread recipe'],
      {},
      embeddings(),
      { path: dir.path },
    )
    const plain = await store.similaritySearch('apple pie recipe', 2)
    expect(plain.map((d) => d.pageContent)).toEqual(['apple pie recipe', 'apple pie recipe'])
    const diverse = await store.maxMarginalRelevanceSearch('apple pie recipe', { k: 2, fetchK: 4, lambda: 0.25 })
    expect(diverse.map((d) => d.pageContent)).toEqual(['apple pie recipe', 'banana bread recipe'])
    const relevant = await store.maxMarginalRelevanceSearch('apple pie recipe', { k: 2, fetchK: 4, lambda: 1 })
    expect(relevant.map((d) => d.pageContent)).toEqual(['apple pie recipe', 'apple pie recipe'])
    const viaRetriever = await store
      .asRetriever({ k: 2, searchType: 'mmr', searchKwargs: { fetchK: 4, lambda: 0.25 } })
      .invoke('apple pie recipe')
    expect(viaRetriever.map((d) => d.pageContent)).toEqual(['apple pie recipe', 'banana bread recipe'])
    await expect(store.maxMarginalRelevanceSearch('x', { k: 5, fetchK: 2 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await store.close()
  })

  test("bad input rejects with lancestore's codes through the framework", async () => {
    const store = await LangChainStore.fromTexts(texts, metadatas, embeddings(), config())
    await expect(store.asRetriever({ k: 2, filter: { undeclared: 'x' } }).invoke('apple')).rejects.toMatchObject({
      code: 'INVALID_FILTER',
    })
    await expect(store.similaritySearch('apple', 2, { topic: undefined })).rejects.toMatchObject({ code: 'INVALID_FILTER' })
    await store.close()
    const wrongModel = new LangChainStore(new SyntheticEmbeddings({ vectorSize: 8 }), config())
    await expect(wrongModel.similaritySearch('apple', 2)).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' })
    await expect(wrongModel.addDocuments([new Document({ pageContent: 'x' })])).rejects.toMatchObject({
      code: 'DIMENSION_MISMATCH',
    })
    await wrongModel.close()
    expect(() => new LangChainStore(embeddings(), {} as never)).toThrow(/path/)
    await expect(LangChainStore.fromTexts(texts, {}, embeddings(), { path: dir.path + '/new' })).resolves.toBeDefined()
  })
})

describe('LlamaIndex.TS adapter', () => {
  const docs = () => [
    new LlamaDocument({ id_: 'fruit', text: 'apples and pears are fruit', metadata: { topic: 'food', year: 2020, tags: ['sweet'] } }),
    new LlamaDocument({ id_: 'bread', text: 'bread needs flour and yeast', metadata: { topic: 'food', year: 2023, tags: ['baked', 'salty'] } }),
    new LlamaDocument({ id_: 'rust', text: 'the rust borrow checker', metadata: { topic: 'code', year: 2024, tags: [] } }),
  ]
  const config = () => ({
    path: dir.path,
    embedModel: new BagOfWords(),
    fields: { topic: 'string' as const, year: 'int' as const, tags: 'string[]' as const },
  })
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const llamaindex = () => require('llamaindex') as typeof import('llamaindex')
  // VectorStoreIndex embeds documents with the global model; the store's own `embedModel` embeds queries.
  beforeAll(() => {
    llamaindex().Settings.embedModel = new BagOfWords()
  })

  async function indexed(store: LlamaIndexStore) {
    const { VectorStoreIndex, storageContextFromDefaults } = llamaindex()
    const storageContext = await storageContextFromDefaults({ vectorStore: store })
    return VectorStoreIndex.fromDocuments(docs(), { storageContext })
  }

  test('VectorStoreIndex over the store: retrieve, fromVectorStore after reopening, delete(refDocId)', async () => {
    const store = new LlamaIndexStore(config())
    const index = await indexed(store)
    const hits = await index.asRetriever({ similarityTopK: 1 }).retrieve('rust borrow checker')
    expect(hits[0].node.getContent(llamaindex().MetadataMode.NONE)).toBe('the rust borrow checker')
    expect(hits[0].node.metadata).toMatchObject({ topic: 'code', year: 2024 })
    // VectorStoreIndex embeds each document's text with its metadata, so even the best match is not 1.
    const [best] = await store.query({ queryEmbedding: await new BagOfWords().getTextEmbedding('rust borrow checker'), similarityTopK: 3, mode: 'default' as never }).then((r) => r.similarities)
    expect(hits[0].score).toBeCloseTo(best, 5)
    expect(best).toBeGreaterThan(0.5)
    expect(store.client()).toBeInstanceOf(EmbeddingStore)
    await store.close()

    const reopened = new LlamaIndexStore(config())
    const again = await llamaindex().VectorStoreIndex.fromVectorStore(reopened)
    const hits2 = await again.asRetriever({ similarityTopK: 1 }).retrieve('rust borrow checker')
    expect(hits2[0].node.id_).toBe(hits[0].node.id_)
    await reopened.delete('rust')
    const left = await reopened.query({ queryEmbedding: await new BagOfWords().getTextEmbedding('rust'), similarityTopK: 10, mode: 'default' as never })
    expect(left.ids).toHaveLength(2)
    expect(left.nodes?.map((n) => n.sourceNode?.nodeId).sort()).toEqual(['bread', 'fruit'])
    await reopened[Symbol.asyncDispose]()
  })

  test('metadata filters map to lancestore filters; unsupported ones are refused, never dropped', async () => {
    const store = new LlamaIndexStore(config())
    await indexed(store)
    const q = await new BagOfWords().getTextEmbedding('flour fruit rust')
    const ask = async (filters: unknown, docIds?: string[]) =>
      (await store.query({ queryEmbedding: q, similarityTopK: 10, mode: 'default' as never, filters: filters as never, docIds }))
        .nodes!.map((n) => n.sourceNode?.nodeId)
        .sort()
    expect(await ask({ filters: [{ key: 'topic', value: 'food', operator: '==' }] })).toEqual(['bread', 'fruit'])
    expect(await ask({ filters: [{ key: 'year', value: 2021, operator: '>' }] })).toEqual(['bread', 'rust'])
    expect(await ask({ filters: [{ key: 'topic', value: 'code', operator: '==' }, { key: 'year', value: 2020, operator: '<=' }], condition: 'or' })).toEqual(['fruit', 'rust'])
    expect(await ask({ filters: [{ key: 'tags', value: ['salty', 'sweet'], operator: 'any' }] })).toEqual(['bread', 'fruit'])
    expect(await ask({ filters: [{ key: 'tags', value: ['baked', 'salty'], operator: 'all' }] })).toEqual(['bread'])
    expect(await ask({ filters: [{ key: 'tags', value: 'sweet', operator: 'contains' }] })).toEqual(['fruit'])
    expect(await ask({ filters: [{ key: 'topic', value: ['code'], operator: 'nin' }] })).toEqual(['bread', 'fruit'])
    expect(await ask(undefined, ['rust', 'fruit'])).toEqual(['fruit', 'rust'])
    await expect(ask({ filters: [{ key: 'topic', value: 'foo', operator: 'text_match' }] })).rejects.toMatchObject({ code: 'INVALID_FILTER' })
    await expect(ask({ filters: [{ key: 'undeclared', value: 'x', operator: '==' }] })).rejects.toMatchObject({ code: 'INVALID_FILTER' })
    await expect(ask({ filters: [{ key: 'topic', value: undefined, operator: '==' }] })).rejects.toMatchObject({ code: 'INVALID_FILTER' })
    await store.close()
  })

  test('mmr, hybrid and text_search modes; unsupported modes and wrong dimensions reject with codes', async () => {
    const store = new LlamaIndexStore({ path: dir.path, embedModel: new BagOfWords() })
    const same = await new BagOfWords().getTextEmbedding('apple pie')
    const other = await new BagOfWords().getTextEmbedding('banana bread')
    await store.add([
      new TextNode({ id_: 'p1', text: 'apple pie', embedding: same }),
      new TextNode({ id_: 'p2', text: 'apple pie', embedding: same }),
      new TextNode({ id_: 'b', text: 'banana bread', embedding: other }),
    ])
    const plain = await store.query({ queryEmbedding: same, similarityTopK: 2, mode: 'default' as never })
    expect(plain.ids.sort()).toEqual(['p1', 'p2'])
    const mmr = await store.query({ queryEmbedding: same, similarityTopK: 2, mode: 'mmr' as never, mmrThreshold: 0.25 })
    expect(mmr.ids[1]).toBe('b')
    // hybrid: the words find "banana", the vector "apple pie"; fused by reciprocal rank.
    const hybrid = await store.query({ queryEmbedding: same, queryStr: 'banana', similarityTopK: 3, mode: 'hybrid' as never })
    // b: vector rank 3 and words rank 1 (1/63 + 1/61) beats p1/p2 (vector ranks 1 and 2 only).
    expect(hybrid.ids[0]).toBe('b')
    expect(hybrid.similarities[0]).toBeCloseTo(1 / 63 + 1 / 61, 12)
    expect(hybrid.ids.slice(1).sort()).toEqual(['p1', 'p2'])
    const words = await store.query({ queryStr: 'bread', similarityTopK: 3, mode: 'text_search' as never } as never)
    expect(words.ids).toEqual(['b'])
    expect(words.nodes?.[0].getContent(llamaindex().MetadataMode.NONE)).toBe('banana bread')
    await expect(store.query({ queryEmbedding: same, similarityTopK: 2, mode: 'hybrid' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(store.query({ queryEmbedding: same, similarityTopK: 2, mode: 'svm' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(store.query({ queryEmbedding: [1, 2], similarityTopK: 2, mode: 'default' as never })).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' })
    await expect(store.add([new TextNode({ id_: 'x', text: 'x', embedding: [1, 2] })])).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' })
    await expect(store.add([new TextNode({ id_: 'y', text: 'y' })])).rejects.toMatchObject({ code: 'INVALID_VECTOR' })
    await store.close()
  })
})
