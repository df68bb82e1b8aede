// `lancestore/langchain` for CommonJS: the LangChain.js vector store over `@langchain/core`'s CommonJS build.
'use strict'

const { EmbeddingStore } = require('../index.js')
const { requirePeer } = require('./shared.js')
const { defineLangChainStore } = require('./langchain-store.js')

const { VectorStore, Document } = requirePeer('lancestore/langchain', '@langchain/core', () => ({
  VectorStore: require('@langchain/core/vectorstores').VectorStore,
  Document: require('@langchain/core/documents').Document,
}))
const LancestoreVectorStore = defineLangChainStore({ VectorStore, Document, EmbeddingStore })

// `default` too, marked as an ES module's, so TypeScript's and bundlers' default import gives the class.
module.exports = { LancestoreVectorStore, default: LancestoreVectorStore }
Object.defineProperty(module.exports, '__esModule', { value: true })
