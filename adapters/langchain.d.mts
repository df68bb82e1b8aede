// Types of `lancestore/langchain` for ES modules: the same declarations as langchain.d.ts, with an ES module default export.
import { LancestoreVectorStore } from './langchain.js'

export * from './langchain.js'
export default LancestoreVectorStore
