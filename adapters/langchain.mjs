// `lancestore/langchain` for ES modules: the LangChain.js vector store over `@langchain/core`'s ES module build.
import { VectorStore } from '@langchain/core/vectorstores'
import { Document } from '@langchain/core/documents'
import { EmbeddingStore } from '../index.mjs'
import adapter from './langchain-store.js'

export const LancestoreVectorStore = adapter.defineLangChainStore({ VectorStore, Document, EmbeddingStore })
export default LancestoreVectorStore
