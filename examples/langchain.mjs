#!/usr/bin/env node
// LangChain.js with lancestore (`lancestore/langchain`): 300 Debian package descriptions stored as LangChain
// Documents, then a retriever, a filtered search, maximal marginal relevance and a delete. Embeddings come
// from the committed MiniLM sample (see sample-embeddings.mjs); swap in any LangChain `Embeddings`.
// Run: node examples/langchain.mjs
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Embeddings } from '@langchain/core/embeddings'
import { Document } from '@langchain/core/documents'
import { LancestoreVectorStore } from 'lancestore/langchain'
import { embed, packages, queries } from './sample-embeddings.mjs'

class SampleEmbeddings extends Embeddings {
  async embedDocuments(texts) {
    return texts.map(embed)
  }
  async embedQuery(text) {
    return embed(text)
  }
}

const short = (text) => (text.length > 70 ? `${text.slice(0, 69)}…` : text)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-langchain-'))
try {
  const docs = packages.slice(0, 300).map(
    (p) => new Document({ id: p.key, pageContent: p.text, metadata: { section: p.section } }),
  )
  // `fields` declares what filters may use; every other option of EmbeddingStore.open works here too.
  const store = await LancestoreVectorStore.fromDocuments(docs, new SampleEmbeddings({}), {
    path: dir,
    fields: { section: 'string' },
  })

  const question = queries[0].text
  console.log(`query: ${short(question)}`)
  const retriever = store.asRetriever({ k: 3 })
  for (const doc of await retriever.invoke(question)) console.log(`  retriever  ${doc.id.padEnd(28)} ${short(doc.pageContent)}`)

  for (const [doc, score] of await store.similaritySearchWithScore(question, 3, { section: 'python' })) {
    console.log(`  python     ${doc.id.padEnd(28)} score ${score.toFixed(3)}`)
  }
  const diverse = await store.maxMarginalRelevanceSearch(question, { k: 3, fetchK: 20, lambda: 0.5 })
  console.log(`  mmr        ${diverse.map((d) => d.id).join(', ')}`)

  const first = (await retriever.invoke(question))[0]
  await store.delete({ ids: [first.id] })
  const after = await retriever.invoke(question)
  if (after.some((d) => d.id === first.id)) throw new Error('the deleted document was still returned')
  console.log(`  deleted ${first.id}; the retriever now starts with ${after[0].id}`)
  await store.close()
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
