#!/usr/bin/env node
// `npm run bench [-- --quick]`: every scenario for lancestore, @lancedb/lancedb and usearch (the
// in-memory anchor), one process each,
// same data and queries; prints a table with targets and ratios, writes bench/results/latest.json and
// latest.svg (quick runs write quick.json / quick.svg so they never overwrite a full run).
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const scenarios = require('./scenarios')
const { renderChart } = require('./chart')

const from = process.argv.find((a) => a.startsWith('--from='))?.split('=')[1]
const quick = process.argv.includes('--quick')
const only = process.argv.find((a) => a.startsWith('--scenario='))?.split('=')[1]
const specs = (quick ? scenarios.quick : scenarios.full).filter((s) => !only || s.name === only)
const systems = ['lancestore', 'lancedb', 'usearch']

function runOne(system, scenario) {
  const args = [path.join(__dirname, 'scenario.js'), system, scenario, ...(quick ? ['--quick'] : [])]
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 })
  if (child.status !== 0) {
    return { system, scenario, error: (child.stderr || `exit ${child.status}`).trim().split('\n').slice(-5).join(' | ') }
  }
  const lines = child.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

const fmt = (x, digits = 2) => (x == null ? '—' : typeof x === 'number' ? (Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toFixed(digits)) : String(x))
const ratio = (a, b) => (a == null || b == null || b === 0 ? '—' : `${(a / b).toFixed(2)}×`)

function table(results, importResult, objectStorage, churnResult, idsResult, callPathResult, memoryResult, textResult, processesResult, millionResult) {
  const lines = []
  const targets = []
  for (const spec of specs) {
    const ours = results.find((r) => r.scenario === spec.name && r.system === 'lancestore') ?? {}
    const peer = results.find((r) => r.scenario === spec.name && r.system === '@lancedb/lancedb') ?? {}
    const anchor = results.find((r) => r.scenario === spec.name && r.system === 'usearch') ?? {}
    lines.push(`\n## ${spec.name}${ours.n ? ` (${ours.n.toLocaleString('en-US')} × ${ours.dim}, ${ours.queries} queries)` : ''}`)
    if (ours.skipped || ours.error || peer.error) {
      lines.push(`  skipped/failed: ${ours.skipped ?? ''} ${ours.error ?? ''} ${peer.error ?? ''}`)
      continue
    }
    lines.push('| metric | lancestore | @lancedb/lancedb | usearch (in memory) | lancestore ÷ lancedb | lancestore ÷ usearch |')
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: |')
    const row = (name, a, b, d, c = null) =>
      lines.push(`| ${name} | ${fmt(a, d)} | ${fmt(b, d)} | ${fmt(c, d)} | ${ratio(a, b)} | ${ratio(a, c)} |`)
    row('insert, batches of 1,000 (vectors/s)', ours.insertPerSecBatch1k, peer.insertPerSecBatch1k, 0)
    row('insert, batches of 10,000 (vectors/s)', ours.insertPerSecBatch10k, peer.insertPerSecBatch10k, 0)
    if (ours.insertPerSecOneCall) row('insert, all rows in one call (vectors/s)', ours.insertPerSecOneCall, peer.insertPerSecOneCall, 0)
    row('exact search p50 (ms), resident copy (default)', ours.exact?.p50, peer.exact?.p50, 2, anchor.exact?.p50)
    row('exact search p95 (ms)', ours.exact?.p95, peer.exact?.p95, 2, anchor.exact?.p95)
    row('exact search p99 (ms)', ours.exact?.p99, peer.exact?.p99, 2, anchor.exact?.p99)
    row('exact search p50 (ms), LanceDB path (residentMemoryMB: 0)', ours.exactLance?.p50, peer.exact?.p50)
    row("filtered search p50 (ms), section = 'libs', resident", ours.filtered?.p50, peer.filtered?.p50)
    row("filtered search p50 (ms), section = 'libs', LanceDB path", ours.filteredLance?.p50, peer.filtered?.p50)
    row('cached repeat p50 (ms)', ours.cached?.p50, null)
    row('cached repeat p99 (ms)', ours.cached?.p99, null)
    row('recall@10 (exact)', ours.recallAt10, peer.recallAt10, 3, anchor.recallAt10)
    row(`index build (ms; lancestore ${ours.indexKind ?? 'createIndex()'}, peer IVF_PQ defaults)`, ours.indexBuildMs, peer.indexBuildMs, 0)
    row('indexed search p50 (ms; usearch: its HNSW)', ours.indexed?.p50, peer.indexed?.p50, 2, anchor.indexed?.p50)
    row('indexed search p99 (ms)', ours.indexed?.p99, peer.indexed?.p99, 2, anchor.indexed?.p99)
    row("indexed filtered search p50 (ms), section = 'libs'", ours.indexedFiltered?.p50, peer.indexedFiltered?.p50)
    row('recall@10 (indexed, default search options)', ours.indexedRecallAt10, peer.indexedRecallAt10, 3, anchor.indexedRecallAt10)
    if (ours.graph) {
      const g = ours.graph
      lines.push(`  graph: ${g.source} ${fmt(ours.openToGraphReadyMs, 0)} ms after a new store opened the table, ${(g.bytes / 2 ** 20).toFixed(1)} MiB, numEdges ${g.numEdges}, efConstruction ${g.efConstruction}`)
    }
    if (ours.indexError || peer.indexError) lines.push(`  index errors: ${ours.indexError ?? '-'} / ${peer.indexError ?? '-'}`)
    row('open (ms)', ours.openMs, peer.openMs)
    row('first search after open (ms)', ours.firstSearchMs, peer.firstSearchMs)
    row('peak RSS (MB)', ours.peakRssBytes / 2 ** 20, peer.peakRssBytes / 2 ** 20, 0, anchor.peakRssBytes / 2 ** 20)
    row('peak RSS ÷ raw vector bytes', ours.peakRssBytes / ours.rawVectorBytes, peer.peakRssBytes / peer.rawVectorBytes, 2, anchor.peakRssBytes / anchor.rawVectorBytes)
    if (ours.resident) lines.push(`  resident copy: ${ours.resident.state}, ${ours.resident.rows} rows, ${(ours.resident.bytes / 2 ** 20).toFixed(1)} MiB`)
    row('cache hit ratio, Zipf over 200 queries', ours.cacheHitRatioZipf, null, 3)
    if (ours.smallCommits) {
      const a = ours.smallCommits
      const b = peer.smallCommits ?? {}
      row(`${a.rows} single-row adds: search p50 (ms)`, a.beforeOptimizeP50, b.beforeOptimizeP50)
      row('… after optimize() (ms)', a.afterOptimizeP50, b.afterOptimizeP50)
      row('… one bulk add, for comparison (ms)', a.bulkP50, b.bulkP50)
    }
    if (spec.name === 'synthetic-10k-768') {
      targets.push(['search < 100 ms @10k (exact p50)', ours.exact?.p50 < 100])
      targets.push(['insert > 1,000/s (batches of 1,000)', ours.insertPerSecBatch1k > 1000])
      targets.push(['cache hit > 80% (Zipf)', ours.cacheHitRatioZipf > 0.8])
    }
    if (spec.name === 'synthetic-100k-768') {
      targets.push(['memory < 2 GB @100k (peak RSS)', ours.peakRssBytes < 2 * 2 ** 30])
      targets.push(['indexed p50 ≤ 1.0 ms @100k × 768', ours.indexed?.p50 <= 1.0])
    }
    if (spec.name.startsWith('real-') && ours.indexedRecallAt10 != null) {
      targets.push([`indexed p50 ≤ 0.5 ms @ recall@10 ≥ 0.95, ${spec.name}`, ours.indexed?.p50 <= 0.5 && ours.indexedRecallAt10 >= 0.95])
    }
  }
  const imp = importResult
  if (imp && !imp.skipped && !imp.error) {
    lines.push(`\n## import (MiniLM ${imp.n.toLocaleString('en-US')} × ${imp.dim}; files: JSONL ${imp.fileMb.jsonl} MB, NPY ${imp.fileMb.npy} MB, Parquet ${imp.fileMb.parquet} MB)`)
    lines.push('| load | vectors/s | ms | ÷ addEmbeddings |')
    lines.push('| --- | ---: | ---: | ---: |')
    for (const [name, r] of [['addEmbeddings, one call (Float32Array)', imp.addEmbeddings], ['importFile JSONL', imp.jsonl], ['importFile NPY + ids JSONL', imp.npy], ['importFile Parquet', imp.parquet]]) {
      lines.push(`| ${name} | ${fmt(r.perSecond, 0)} | ${fmt(r.ms, 0)} | ${ratio(r.perSecond, imp.addEmbeddings.perSecond)} |`)
    }
    if (imp.big) lines.push(`| importFile NPY ${imp.big.n.toLocaleString('en-US')} × ${imp.big.dim} (resident copy off) | ${fmt(imp.big.perSecond, 0)} | ${fmt(imp.big.ms, 0)} | peak RSS ${imp.big.peakRssMb} MB |`)
    for (const name of ['jsonl', 'npy', 'parquet']) targets.push([`importFile ${name} ≥ addEmbeddings rate`, imp[name].perSecond >= imp.addEmbeddings.perSecond])
    for (const name of ['npy', 'parquet']) targets.push([`importFile ${name} ≥ 100k vectors/s`, imp[name].perSecond >= 100_000])
  } else if (imp) {
    lines.push(`\n## import\n  skipped/failed: ${imp.skipped ?? imp.error}`)
  }
  const os3 = objectStorage
  if (os3 && !os3.skipped && !os3.error) {
    lines.push(`\n## object storage (MiniLM ${os3.n.toLocaleString('en-US')} × ${os3.dim}, local S3-compatible server (moto) vs local disk, exact search, ${os3.queries} queries)`)
    lines.push('| metric | s3:// (moto on 127.0.0.1) | local disk | s3 ÷ local |')
    lines.push('| --- | ---: | ---: | ---: |')
    const row = (name, key, d = 2) => lines.push(`| ${name} | ${fmt(os3.s3[key], d)} | ${fmt(os3.local[key], d)} | ${ratio(os3.s3[key], os3.local[key])} |`)
    row('insert, batches of 1,000 (vectors/s)', 'insertPerSec', 0)
    row('open (ms)', 'openMs')
    row('first search after open (ms)', 'firstSearchMs')
    row('search p50 (ms), resident copy, default consistency', 'residentP50')
    row('search p50 (ms), LanceDB path (residentMemoryMB: 0)', 'lanceP50')
    row('search p50 (ms), resident, readConsistencyIntervalMs: 0 (a version check per call)', 'consistentEveryCallP50')
  } else if (os3) {
    lines.push(`\n## object storage\n  skipped/failed: ${os3.skipped ?? os3.error}`)
  }
  const churn = churnResult
  if (churn && !churn.skipped && !churn.error) {
    const a = churn.lancestore
    const u = churn.usearch
    const c = churn.usearchAfterCommits ?? {}
    lines.push(`\n## churn (${churn.source} ${churn.n.toLocaleString('en-US')} × ${churn.dim} with the graph, defaults; ${churn.writes} single-row adds, deletes and upserts, a search after each)`)
    lines.push('| metric | lancestore | usearch (in memory, add/remove) | usearch searched right after the same commits to a lancestore store |')
    lines.push('| --- | ---: | ---: | ---: |')
    lines.push(`| quiet search p50 (ms) | ${fmt(a.quietP50)} | ${fmt(u.quietP50, 3)} | |`)
    lines.push(`| search p50 during the writes (ms) | ${fmt(a.duringP50)} | ${fmt(u.duringP50, 3)} | ${fmt(c.duringP50, 3)} |`)
    lines.push(`| search p99 during the writes (ms) | ${fmt(a.duringP99)} | ${fmt(u.duringP99, 3)} | ${fmt(c.duringP99, 3)} |`)
    lines.push(`| p99 during ÷ quiet p50 | ${ratio(a.duringP99, a.quietP50)} | ${ratio(u.duringP99, u.quietP50)} | ${ratio(c.duringP99, u.quietP50)} |`)
    lines.push(`| graph rebuilds / whole reloads of the copy | ${a.graphRebuilds} / ${a.wholeReloads} | | |`)
    lines.push(`| automatic compactions / followed by re-pointing rows / graph nodes renamed | ${a.compactions} / ${a.compactionsFollowed} / ${a.renamedRows} | | |`)
    targets.push(['churn: 0 graph rebuilds', a.graphRebuilds === 0])
    targets.push(['churn: 0 whole reloads', a.wholeReloads === 0])
    targets.push(['churn: search p99 during writes ≤ 3× quiet p50', a.duringP99 <= 3 * a.quietP50])
    const w = churn.writeAmplification
    if (w) {
      lines.push(`| ${w.commits.toLocaleString('en-US')} single-row commits: data bytes written per row added | ${fmt(w.writtenPerRowAdded, 0)} (${fmt(w.amplification, 1)}× the table written once) | | |`)
    }
  } else if (churn) {
    lines.push(`\n## churn\n  skipped/failed: ${churn.skipped ?? churn.error}`)
  }
  const ids = idsResult
  if (ids && !ids.error) {
    lines.push(`\n## by id (${ids.rows.toLocaleString('en-US')} rows × 384, ${ids.batch} ids per call, medians of ${ids.rounds}; "index": after optimize() built the index on id)`)
    lines.push('| path | get, no index (ms) | get, index (ms) | delete, no index (ms) | delete, index (ms) |')
    lines.push('| --- | ---: | ---: | ---: | ---: |')
    for (const [name, label] of [['resident', 'resident copy'], ['lancedb', 'LanceDB path (residentMemoryMB: 0)']]) {
      const r = ids[name]
      lines.push(`| ${label} | ${fmt(r.before.getMs)} | ${fmt(r.after.getMs)} | ${fmt(r.before.deleteMs)} | ${fmt(r.after.deleteMs)} |`)
    }
  } else if (ids) {
    lines.push(`\n## by id\n  failed: ${ids.error}`)
  }
  const call = callPathResult
  if (call && !call.error) {
    lines.push(`\n## per call (${call.rows.toLocaleString('en-US')} × ${call.dim}, limit 10; p50 at ${call.few.versions} versions and after ${call.commits.toLocaleString('en-US')} single-row commits)`)
    lines.push(`| call | ${call.few.versions} versions (µs) | ${call.many.versions.toLocaleString('en-US')} versions (µs) | ratio |`)
    lines.push('| --- | ---: | ---: | ---: |')
    for (const [key, label] of [['cachedHitUs', 'cached hit, Float32Array query'], ['cachedHitArrayUs', 'cached hit, number[] query'], ['residentSearchUs', 'resident search, cache off']]) {
      lines.push(`| ${label} | ${fmt(call.few[key], 1)} | ${fmt(call.many[key], 1)} | ${ratio(call.many[key], call.few[key])} |`)
    }
    targets.push(['cached hit p50 ≤ 20 µs', call.few.cachedHitUs <= 20])
    targets.push(['cached hit p50 with many versions ÷ with 2 ≤ 1.2×', call.many.cachedHitUs <= 1.2 * call.few.cachedHitUs])
    targets.push(['resident search p50 with many versions ÷ with 2 ≤ 1.2×', call.many.residentSearchUs <= 1.2 * call.few.residentSearchUs])
  } else if (call) {
    lines.push(`\n## per call\n  failed: ${call.error}`)
  }
  const proc = processesResult
  if (proc && !proc.error) {
    lines.push(`\n## several processes (${proc.rows.toLocaleString('en-US')} × ${proc.dim} synthetic, graph saved; ${proc.processes} processes started at once, 200 searches each; memory from /proc/<pid>/smaps_rollup once all serve, settled 12 s later)`)
    lines.push('| system | sum of PSS, settled (MiB) | one process alone (MiB) | private per process (MiB) | open → answered from memory, slowest (ms) |')
    lines.push('| --- | ---: | ---: | ---: | ---: |')
    for (const [key, label] of [['lancestore', 'lancestore'], ['usearch-view', 'usearch view() (shared mmap)'], ['usearch-load', 'usearch load() (private copy)']]) {
      const r = proc[key]
      lines.push(`| ${label} | ${fmt(r.many.settledPssSumMiB, 0)} | ${fmt(r.one.settledPssSumMiB, 0)} | ${fmt(r.many.settledPrivateMiB, 0)} | ${fmt(r.many.hotMs, 0)} |`)
    }
    const ls = proc.lancestore.many
    targets.push([`processes: sum of PSS ≤ 1.3× one process's`, proc.pssRatioToOne <= 1.3])
    targets.push([`processes: sum of PSS ≤ 1.2× usearch view()'s`, proc.pssRatioToUsearchView <= 1.2])
    targets.push(['processes: private memory per process ≤ 60 MiB', ls.settledPrivateMiB <= 60])
    targets.push(['processes: open → first search from memory ≤ 50 ms', ls.hotMs <= 50])
  } else if (proc) {
    lines.push(`\n## several processes\n  skipped/failed: ${proc.skipped ?? proc.error}`)
  }
  const million = millionResult
  if (million && !million.error && !million.skipped) {
    const { first, second } = million
    lines.push(`\n## a million rows (${million.rows.toLocaleString('en-US')} × ${million.dim} synthetic, opened with the defaults by fresh processes)`)
    lines.push('| process | state | ready (s) | graph built (s) | open → first search from memory (ms) | graph p50 (ms) | recall@10 | private (MiB) | vectors mapped (MiB) |')
    lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    const mib = (b) => fmt(b / 2 ** 20, 0)
    lines.push(`| first (writes the vector file, builds the graph) | ${first.state} | ${fmt(first.readyMs / 1000, 1)} | ${fmt(first.graphBuiltMs / 1000, 0)} | | ${fmt(first.graphP50Ms)} | ${fmt(first.recallAt10, 3)} | ${mib(first.privateBytes)} | ${mib(first.mappedBytes)} |`)
    lines.push(`| second (reads both files in place) | ${second.state} | | | ${fmt(second.hotMs, 0)} | ${fmt(second.graphP50Ms)} | ${fmt(second.recallAt10, 3)} | ${mib(second.privateBytes)} | ${mib(second.mappedBytes)} |`)
    targets.push(['1M: served from memory with the defaults', second.state === 'ready'])
    targets.push(['1M: graph p50 ≤ 1.5 ms at recall@10 ≥ 0.95', second.graphP50Ms <= 1.5 && second.recallAt10 >= 0.95])
    targets.push(['1M: open → first search from memory ≤ 200 ms', second.hotMs <= 200])
  } else if (million) {
    lines.push(`\n## a million rows\n  skipped/failed: ${million.skipped ?? million.error}`)
  }
  const mem = memoryResult
  if (mem && !mem.error) {
    lines.push(`\n## memory:// (open + ${mem.adds.toLocaleString('en-US')} single-item adds + ${mem.searches} searches + close, ${mem.dim} dims, median of ${mem.rounds})`)
    lines.push('| memory:// (ms) | temporary directory (ms) | directory ÷ memory |')
    lines.push('| ---: | ---: | ---: |')
    lines.push(`| ${fmt(mem.memoryMs, 0)} | ${fmt(mem.directoryMs, 0)} | ${ratio(mem.directoryMs, mem.memoryMs)} |`)
  } else if (mem) {
    lines.push(`\n## memory://\n  failed: ${mem.error}`)
  }
  const text = textResult
  if (text && !text.error) {
    lines.push(`\n## full-text and hybrid (${text.source}, ${text.n.toLocaleString('en-US')} rows with their descriptions as a 'text' field; ${text.queries} queries: held-out query vectors and their synopses; cache off)`)
    lines.push(`searchText top-10 vs a reference BM25 (same tokenizer settings), ${text.agreement.queries} queries: overlap@10 ${fmt(text.agreement.overlapAt10, 3)}; LanceDB's full-text index ready ${fmt(text.indexBuildMs, 0)} ms after the last add (built in the background); the resident copy's word index used ${fmt(text.wordIndexBuildMs, 0)} ms after the first text search; @lancedb/lancedb's createIndex (FTS) ${fmt(text.lancedb.indexBuildMs, 0)} ms`)
    const lance = text.lancestoreThroughLanceDB
    lines.push('| search | lancestore p50 (ms), from memory | lancestore p50 (ms), through LanceDB (`residentMemoryMB: 0`) | @lancedb/lancedb p50 (ms) | ratio (memory ÷ @lancedb) |')
    lines.push('| --- | ---: | ---: | ---: | ---: |')
    lines.push(`| vector (graph) | ${fmt(text.lancestore.vectorMs.p50)} | | | |`)
    lines.push(`| words only (BM25) | ${fmt(text.lancestore.textMs.p50)} | ${fmt(lance?.textMs.p50)} | ${fmt(text.lancedb.textMs.p50)} | ${ratio(text.lancestore.textMs.p50, text.lancedb.textMs.p50)} |`)
    lines.push(`| hybrid (RRF, k = 60) | ${fmt(text.lancestore.hybridMs.p50)} | ${fmt(lance?.hybridMs.p50)} | ${fmt(text.lancedb.hybridMs.p50)} | ${ratio(text.lancestore.hybridMs.p50, text.lancedb.hybridMs.p50)} |`)
    const u = text.upkeep
    lines.push(`${u.adds.toLocaleString('en-US')} single-row adds, each followed by searchText for its new word: found at once ${u.foundAtOnce}/${u.adds}; that search p50 ${fmt(u.searchMs.p50)} ms, p99 ${fmt(u.searchMs.p99)} ms; add p50 ${fmt(u.addMs.p50)} ms; automatic compactions (which fold new rows into the index) ${u.optimizeRuns}; rows not yet folded at the end ${u.unindexedRowsAtEnd}`)
    targets.push(['text: overlap@10 with a reference BM25 ≥ 0.9', text.agreement.overlapAt10 >= 0.9])
    targets.push(['hybrid p50 ≤ 3 ms', text.lancestore.hybridMs.p50 <= 3])
    targets.push(['text: every new row found by the next search', u.foundAtOnce === u.adds])
  } else if (text) {
    lines.push(`\n## full-text and hybrid\n  failed: ${text.error}`)
  }
  lines.push('\n## targets (lancestore)')
  lines.push('| target | result |')
  lines.push('| --- | --- |')
  for (const [name, ok] of targets) lines.push(`| ${name}${quick ? ' (quick sizes)' : ''} | ${ok ? 'pass' : 'FAIL'} |`)
  return lines.join('\n')
}

function versions() {
  const rustc = spawnSync('rustc', ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? null
  // The package's `exports` hide package.json from require(): read the file itself.
  const peerManifest = path.join(__dirname, '..', 'node_modules', '@lancedb', 'lancedb', 'package.json')
  const peer = JSON.parse(fs.readFileSync(peerManifest, 'utf8')).version
  return { node: process.version, rustc, lancedbSdk: peer, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), platform: `${process.platform}-${process.arch}` }
}

/** Writes the table, JSON, SVG and Markdown of a finished run. */
function report(doc) {
  const text = table(doc.results, doc.import, doc.objectStorage, doc.churn, doc.ids, doc.callPath, doc.memory, doc.text, doc.processes, doc.million)
  console.log(`# lancestore benchmark${doc.quick ? ' (quick)' : ''}, ${doc.date}`)
  console.log('Latencies: median over passes of per-query percentiles, warm-up excluded; ratios are lancestore ÷ @lancedb/lancedb (below 1 is faster for latency, above 1 is faster for throughput).')
  console.log(text)
  const out = path.join(__dirname, 'results')
  fs.mkdirSync(out, { recursive: true })
  const base = doc.quick ? 'quick' : 'latest'
  fs.writeFileSync(path.join(out, `${base}.json`), `${JSON.stringify(doc, null, 2)}\n`)
  fs.writeFileSync(path.join(out, `${base}.svg`), renderChart(doc))
  fs.writeFileSync(path.join(out, `${base}.md`), `${text}\n`)
  console.log(`\nwrote bench/results/${base}.json, ${base}.svg and ${base}.md`)
}

/** Runs bench/<name>.js in its own process; its last stdout line is the JSON result. */
function runScript(name) {
  process.stderr.write(`[bench] ${name} … `)
  const t0 = Date.now()
  const child = spawnSync(process.execPath, [path.join(__dirname, `${name}.js`), ...(quick ? ['--quick'] : [])], { encoding: 'utf8', maxBuffer: 1 << 24 })
  const result = child.status === 0 ? JSON.parse(child.stdout.trim().split('\n').pop()) : { error: (child.stderr || `exit ${child.status}`).trim().split('\n').slice(-5).join(' | ') }
  process.stderr.write(`${result.error ? `failed: ${result.error}` : result.skipped ? `skipped: ${result.skipped}` : 'done'} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`)
  return result
}

function main() {
  if (from) {
    // Re-render a finished run (e.g. after the report format changed) without measuring again.
    report(JSON.parse(fs.readFileSync(from, 'utf8')))
    return
  }
  const started = new Date()
  const results = []
  for (const spec of specs) {
    for (const system of systems) {
      process.stderr.write(`[bench] ${spec.name} / ${system} … `)
      const t0 = Date.now()
      const r = runOne(system, spec.name)
      process.stderr.write(`${r.error ? `failed: ${r.error}` : r.skipped ? `skipped: ${r.skipped}` : 'done'} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`)
      results.push(r)
    }
  }
  const imported = !only || only === 'import' ? runScript('import') : null
  const objectStorage = !only || only === 'object-storage' ? runScript('object-storage') : null
  const churn = !only || only === 'churn' ? runScript('churn') : null
  const ids = !only || only === 'ids' ? runScript('ids') : null
  const callPath = !only || only === 'call-path' ? runScript('call-path') : null
  const memory = !only || only === 'memory' ? runScript('memory') : null
  const text = !only || only === 'text' ? runScript('text') : null
  const processes = !only || only === 'processes' ? runScript('processes') : null
  // Full runs only: storing a million rows and building their graph takes a quarter of an hour here.
  const million = !quick && (!only || only === 'million') ? runScript('million') : null
  report({ date: started.toISOString(), quick, environment: versions(), results, import: imported, objectStorage, churn, ids, callPath, memory, text, processes, million })
  if ([imported, objectStorage, churn, ids, callPath, memory, text, processes, million].some((r) => r?.error) || results.some((r) => r.error)) process.exitCode = 1
}

main()
