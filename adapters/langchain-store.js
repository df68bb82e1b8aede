// The LangChain.js adapter's class, built over the `VectorStore` and `Document` of whichever
// `@langchain/core` build loads it (CommonJS from `langchain.js`, ES modules from `langchain.mjs`), so
// the class extends the very `VectorStore` the rest of the app's LangChain code uses.
'use strict'

const { LazyStore, invalid, searchDiverse } = require('./shared.js')

function defineLangChainStore({ VectorStore, Document, EmbeddingStore }) {
  /**
   * A LangChain `VectorStore` over one lancestore table. A document's `pageContent` is stored in its
   * metadata under `textKey` (default `'text'`) and its `id` as the row id; `FilterType` is lancestore's
   * filter object (over the fields declared with `fields`); scores are lancestore's (higher is closer).
   */
  class LancestoreVectorStore extends VectorStore {
    _vectorstoreType() {
      return 'lancestore'
    }

    constructor(embeddings, config) {
      super(embeddings, config)
      this.textKey = config?.textKey ?? 'text'
      if (typeof this.textKey !== 'string' || this.textKey === '') throw invalid('`textKey` must be a non-empty string')
      this.lazy = new LazyStore(EmbeddingStore, config)
    }

    /** A store opened now (its table created with `config.dimension` if it does not exist). */
    static async open(embeddings, config) {
      const store = new this(embeddings, config)
      await store.lazy.get()
      return store
    }

    static async fromTexts(texts, metadatas, embeddings, config) {
      if (!Array.isArray(texts)) throw invalid('`texts` must be an array of strings')
      const docs = texts.map(
        (text, i) => new Document({ pageContent: text, metadata: Array.isArray(metadatas) ? (metadatas[i] ?? {}) : (metadatas ?? {}) }),
      )
      return this.fromDocuments(docs, embeddings, config)
    }

    static async fromDocuments(docs, embeddings, config) {
      const store = new this(embeddings, config)
      await store.addDocuments(docs)
      return store
    }

    /** The lancestore `EmbeddingStore` underneath (opened if needed). */
    async client() {
      return this.lazy.get()
    }

    async addDocuments(documents, options) {
      if (!Array.isArray(documents)) throw invalid('`documents` must be an array')
      const vectors = await this.embeddings.embedDocuments(documents.map((doc) => doc.pageContent))
      return this.addVectors(vectors, documents, options)
    }

    /**
     * Stores the documents with their vectors in one atomic commit; an id already stored is replaced
     * (upsert). Ids come from `options.ids`, else each document's `id`, else a random UUID. Resolves the ids.
     */
    async addVectors(vectors, documents, options) {
      if (!Array.isArray(vectors) || !Array.isArray(documents) || vectors.length !== documents.length) {
        throw invalid('`vectors` and `documents` must be arrays of the same length')
      }
      const given = options?.ids
      if (given !== undefined && (!Array.isArray(given) || given.length !== documents.length)) {
        throw invalid('`options.ids` must be an array with one id per document')
      }
      if (documents.length === 0) return []
      const ids = documents.map((doc, i) => given?.[i] ?? doc.id ?? globalThis.crypto.randomUUID())
      const items = documents.map((doc, i) => ({
        id: ids[i],
        vector: vectors[i],
        metadata: { ...(doc.metadata ?? {}), [this.textKey]: doc.pageContent },
      }))
      const store = await this.lazy.get(vectors[0])
      await store.upsertEmbeddings(items)
      return ids
    }

    async similaritySearchVectorWithScore(query, k, filter) {
      const store = await this.lazy.get(query)
      const hits = await store.search(query, { limit: k, filter })
      return hits.map((hit) => [this.toDocument(hit), hit.score])
    }

    /**
     * Maximal marginal relevance: `fetchK` (default 20) nearest documents, of which `k` are picked for
     * relevance (`lambda` 1) against diversity (`lambda` 0; default 0.5).
     */
    async maxMarginalRelevanceSearch(query, options) {
      const vector = await this.embeddings.embedQuery(query)
      const store = await this.lazy.get(vector)
      const hits = await searchDiverse(store, vector, options ?? {})
      return hits.map((hit) => this.toDocument(hit))
    }

    /** Removes documents by `{ ids }` or by `{ filter }` (a lancestore filter), in one commit. */
    async delete(params) {
      const store = await this.lazy.get()
      if (params?.ids !== undefined && params?.filter === undefined) {
        await store.delete(params.ids)
      } else if (params?.filter !== undefined && params?.ids === undefined) {
        await store.delete({ filter: params.filter })
      } else {
        throw invalid('delete takes { ids } or { filter }')
      }
    }

    /** Closes the store underneath; closing twice is harmless. */
    async close() {
      await this.lazy.close()
    }

    async [Symbol.asyncDispose]() {
      await this.close()
    }

    toDocument(hit) {
      const metadata = { ...(hit.metadata ?? {}) }
      const text = metadata[this.textKey]
      delete metadata[this.textKey]
      return new Document({ pageContent: typeof text === 'string' ? text : '', metadata, id: hit.id })
    }
  }
  return LancestoreVectorStore
}

module.exports = { defineLangChainStore }
