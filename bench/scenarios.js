// The benchmark scenarios, full and --quick sizes.
'use strict'

const full = [
  { name: 'synthetic-10k-768', kind: 'synthetic', n: 10_000, dim: 768, queries: 200 },
  { name: 'real-minilm-384', kind: 'real', folder: 'minilm-384', queries: 500 },
  { name: 'real-mpnet-768', kind: 'real', folder: 'mpnet-768', queries: 500, oneCall: true },
  { name: 'synthetic-100k-768', kind: 'synthetic', n: 100_000, dim: 768, queries: 200, big: true },
]

const quick = [
  { name: 'synthetic-10k-768', kind: 'synthetic', n: 2_000, dim: 768, queries: 50 },
  { name: 'real-minilm-384', kind: 'real', folder: 'minilm-384', n: 2_000, queries: 50 },
  { name: 'real-mpnet-768', kind: 'real', folder: 'mpnet-768', n: 2_000, queries: 50, oneCall: true },
  { name: 'synthetic-100k-768', kind: 'synthetic', n: 10_000, dim: 768, queries: 50, big: true },
]

module.exports = { full, quick }
