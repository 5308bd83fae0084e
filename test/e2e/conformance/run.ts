import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { eventually, startCluster, tempDir } from '@calilab/testkit'
import type { Test } from 'tap'
import { stringify } from 'yaml'
import { clusterManifests, type Pod, type Port, pods } from './model.ts'
import { EXTENDED, type Scenario, scenarios } from './scenarios.ts'

/**
 * A conformance suite in the style of the upstream Kubernetes network-policy tests: one 3-node
 * cluster, namespaces x, y, z with pods a, b, c each (spread over the nodes), and for every
 * scenario in conformance/scenarios.ts the policies applied (kubectl for Kubernetes, calicoctl
 * for Calico), the 9x9 matrix probed with one `calilab probe -f` over the scenario's ports, and
 * the truth table compared with the scenario's model. A scenario's probe is repeated until it
 * matches (policy reaches every node through Typha) or 15 s pass; then it fails with the table,
 * the differing cells marked `!`. The previous scenario's policies are deleted as the next
 * scenario's are applied.
 *
 * Ports: 80/TCP (nginx), 81/TCP (nothing listens: a refusal is reachable at the network level),
 * ICMP (ping); UDP in some scenarios (probe's UDP cells come from a trace that follows the packet
 * from the source node into the destination's, so both egress and ingress policy decide them).
 */

const DEFAULT_PORTS: Port[] = ['80/TCP', '81/TCP', 'ICMP']
const PROBE_TIMEOUT_MS = 800

const isCalico = (o: object) => String((o as { apiVersion?: string }).apiVersion).startsWith('projectcalico.org/')
// YAML 1.1 quoting: kubectl would read a bare y as a boolean.
const yamlDocs = (docs: object[]) => docs.map((d) => stringify(d, { version: '1.1' })).join('---\n')

/** The expected truth table for one port, as probe's `expected:` text. */
function table(all: Pod[], s: Scenario, port: Port): string {
  const w = Math.max(...all.map((p) => p.id.length))
  const rows = [`${'-'.padEnd(w)} ${all.map((p) => p.id).join(' ')}`]
  for (const src of all)
    rows.push(
      `${src.id.padEnd(w)} ${all.map((dst) => (src.id === dst.id || s.allow(src, dst, port) ? '.' : 'X').padEnd(dst.id.length)).join(' ')}`,
    )
  return `${rows.join('\n')}\n`
}

export interface ConformanceRun {
  /** Which scenarios this file runs (the default run leaves out EXTENDED ones unless CONFORMANCE_EXTENDED=1). */
  select: (s: Scenario) => boolean
  /** The least number of scenarios and probes the run must reach, so a filter that selects nothing fails. */
  minScenarios: number
  minProbes: number
}

/** Runs the selected scenarios against one fresh 3-node cluster, as a subtest of `t`. */
export async function runConformance(t: Test, o: ConformanceRun): Promise<void> {
  const started = Date.now()
  const c = await startCluster({ nodes: 3 })
  t.teardown(() => c.stop())
  const dir = tempDir('calilab-conformance-')
  const all = pods()

  const setup = path.join(dir, 'matrix.yaml')
  writeFileSync(setup, yamlDocs(clusterManifests(all)))
  const r = await c.kubectl(['apply', '-f', setup])
  t.equal(r.code, 0, 'kubectl apply the matrix: namespaces x, y, z; service accounts; pods a, b, c', {
    stderr: r.stderr,
  })
  const ips = await eventually(
    async () => {
      const g = await c.kubectl(['get', 'pods', '-A', '-l', 'pod', '-o', 'json'])
      const items = (
        JSON.parse(g.stdout) as {
          items: { metadata: { namespace: string; name: string }; status?: { phase?: string; podIP?: string } }[]
        }
      ).items
      const m = new Map<string, string>()
      for (const p of items)
        if (p.status?.phase === 'Running' && p.status.podIP)
          m.set(`${p.metadata.namespace}/${p.metadata.name}`, p.status.podIP)
      if (all.some((p) => !m.has(p.id))) throw new Error(`not all running: ${[...m.keys()].join(' ')}`)
      return m
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  )
  for (const p of all) p.ip = ips.get(p.id)!
  t.pass(`9 pods running: ${all.map((p) => `${p.id}@${p.node}=${p.ip}`).join(' ')}`)
  const ip = (id: string) => {
    const v = ips.get(id)
    if (!v) throw new Error(`no pod ${id}`)
    return v
  }

  let probes = 0
  let prev: { k8s?: string; calico?: string } = {}
  // The default run stays inside the suite's time budget; CONFORMANCE_EXTENDED=1 runs every scenario.
  const run = scenarios.filter((s) => o.select(s) && (process.env['CONFORMANCE_EXTENDED'] || !EXTENDED.has(s.name)))
  for (const [i, s] of run.entries()) {
    const ports = s.ports ?? DEFAULT_PORTS
    // Unique names per scenario, so deleting the previous ones cannot race with these.
    const docs = s.resources(ip).map((d) => {
      const o = structuredClone(d) as { metadata: { name: string } }
      o.metadata.name = `s${i}-${o.metadata.name}`
      return o
    })
    const k8s = docs.filter((d) => !isCalico(d))
    const calico = docs.filter(isCalico)
    const files: { k8s?: string; calico?: string } = {}
    if (k8s.length > 0) writeFileSync((files.k8s = path.join(dir, `s${i}-k8s.yaml`)), yamlDocs(k8s))
    if (calico.length > 0) writeFileSync((files.calico = path.join(dir, `s${i}-calico.yaml`)), yamlDocs(calico))
    const steps = await Promise.all([
      prev.k8s ? c.kubectl(['delete', '-f', prev.k8s, '--wait=false']) : undefined,
      prev.calico ? c.cli(['calicoctl', 'delete', '-f', prev.calico]) : undefined,
      files.k8s ? c.kubectl(['apply', '-f', files.k8s]) : undefined,
      files.calico ? c.cli(['calicoctl', 'apply', '-f', files.calico]) : undefined,
    ])
    const failed = steps.filter((x) => x && x.code !== 0)
    if (failed.length > 0) {
      t.fail(`${s.name}: apply/delete failed`, { stderr: failed.map((x) => x?.stderr).join('\n') })
      prev = files
      continue
    }
    prev = files

    const probeFile = path.join(dir, `s${i}-probe.yaml`)
    writeFileSync(
      probeFile,
      stringify({
        from: all.map((p) => p.id),
        ports,
        timeoutMs: PROBE_TIMEOUT_MS,
        expected: Object.fromEntries(ports.map((p) => [p, table(all, s, p)])),
      }),
    )
    probes += all.length * all.length * ports.length
    const t0 = Date.now()
    let last = await c.cli(['probe', '-f', probeFile])
    let tries = 1
    while (last.code !== 0 && Date.now() - t0 < 15_000) {
      await new Promise((res) => setTimeout(res, 200))
      last = await c.cli(['probe', '-f', probeFile])
      tries++
    }
    const name = `${String(i + 1).padStart(2, '0')} ${s.name} (${ports.join(', ')})`
    const opts = s.todo ? { todo: s.todo } : {}
    if (last.code === 0) t.pass(`${name}: ${tries} probe run(s), ${Date.now() - t0} ms`, opts)
    else {
      t.fail(name, { ...opts, exit: last.code, stderr: last.stderr })
      t.comment(`${name}: probe output\n${last.stdout}`)
    }
  }
  t.comment(
    `${run.length} of ${scenarios.length} scenarios, ${probes} probes, ${Math.round((Date.now() - started) / 1000)} s`,
  )
  t.ok(run.length >= o.minScenarios, `at least ${o.minScenarios} scenarios (${run.length})`)
  t.ok(probes >= o.minProbes, `at least ${o.minProbes} probes (${probes})`)
}
