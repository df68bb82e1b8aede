// `lancestore/langchain` for CommonJS: the LangChain.js vector store over `@langchain/core`'s CommonJS build.
'use strict'

const { VectorStore } = require('@langchain/core/vectorstores')
const { Document } = require('@langchain/core/documents')
const { EmbeddingStore } = require('../index.js')
const { defineLangChainStore } = require('./langchain-store.js')

const LancestoreVectorStore = defineLangChainStore({ VectorStore, Document, EmbeddingStore })

module.exports = { LancestoreVectorStore, default: LancestoreVectorStore }
