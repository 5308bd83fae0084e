import { type Cluster, eventually, LAB_DIR, type ProcessResult } from '@calilab/testkit'
import type { Test } from 'tap'

/**
 * Helpers for the lab e2e tests (lab-policy, lab-hosts): commands as the lab types them, and
 * observations that poll until they hold and otherwise fail with `calilab trace` and iptables
 * counters attached.
 */

export type Tap = Pick<Test, 'pass' | 'fail' | 'equal' | 'match' | 'comment'>

export interface Lab {
  c: Cluster
  k: (...args: string[]) => Promise<string>
  ssh: (host: string, ...cmd: string[]) => Promise<ProcessResult>
  inPod: (deploy: string, ...cmd: string[]) => Promise<ProcessResult>
  trace: (...args: string[]) => Promise<string>
  iptables: (node: string, table?: string) => Promise<string>
  /** Polls run until ok holds; passes, or fails with the last result and the diagnostics. */
  observe: (
    t: Tap,
    name: string,
    run: () => Promise<ProcessResult>,
    ok: (r: ProcessResult) => boolean,
    o?: { timeoutMs?: number; diag?: () => Promise<string> },
  ) => Promise<ProcessResult | undefined>
}

export function lab(c: Cluster): Lab {
  const k = async (...args: string[]) => {
    const r = await c.kubectl(args)
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const ssh = (host: string, ...cmd: string[]) => c.cli(['ssh', host, '--', ...cmd])
  const inPod = (deploy: string, ...cmd: string[]) => c.cli(['exec', '-n', 'yaobank', `deploy/${deploy}`, '--', ...cmd])
  const trace = async (...args: string[]) => {
    const r = await c.cli(['trace', ...args])
    return `$ calilab trace ${args.join(' ')}  (exit ${r.code})\n${r.stdout}${r.stderr}`
  }
  const iptables = async (node: string, table = 'filter') => {
    const r = await ssh(node, 'iptables', '-t', table, '-nvL')
    return `$ calilab ssh ${node} -- iptables -t ${table} -nvL\n${r.stdout}${r.stderr}`
  }
  const observe: Lab['observe'] = async (t, name, run, ok, o = {}) => {
    let last: ProcessResult | undefined
    try {
      const r = await eventually(
        async () => {
          last = await run()
          if (!ok(last)) throw new Error('not yet')
          return last
        },
        { timeoutMs: o.timeoutMs ?? 20_000, intervalMs: 250 },
      )
      t.pass(name)
      return r
    } catch {
      const diag = o.diag ? await o.diag().catch((e: Error) => `diagnostics failed: ${e.message}`) : ''
      t.fail(name, { exit: last?.code, stdout: last?.stdout, stderr: last?.stderr })
      // As a comment, line for line (YAML diagnostics would fold the trace).
      if (diag) t.comment(`${name}: diagnostics\n${diag}`)
      return undefined
    }
  }
  return { c, k, ssh, inPod, trace, iptables, observe }
}

/** Applies yaobank.yaml and waits for the three rollouts; returns `kubectl get pods -o wide`. */
export async function yaobank(t: Tap, l: Lab): Promise<string> {
  const apply = await l.c.kubectl(['apply', '-f', `${LAB_DIR}/yaobank.yaml`])
  t.equal(apply.code, 0, 'kubectl apply -f yaobank.yaml', { stderr: apply.stderr })
  for (const d of ['customer', 'summary', 'database']) {
    const r = await l.c.kubectl(['rollout', 'status', '-n', 'yaobank', `deployment/${d}`, '--timeout=60s'])
    t.match(r.stdout, /successfully rolled out/, `kubectl rollout status -n yaobank deployment/${d}`, {
      stderr: r.stderr,
    })
  }
  return eventually(
    async () => {
      const out = await l.k('get', 'pods', '-n', 'yaobank', '-o', 'wide')
      const rows = out.trim().split('\n').slice(1)
      if (rows.length < 4 || !rows.every((r) => /\sRunning\s/.test(r) && /\s198\.19\.\d+\.\d+\s/.test(r)))
        throw new Error(out)
      return out
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  )
}

export const frontEnd = (r: ProcessResult) =>
  r.code === 0 && /Welcome to YAO Bank/.test(r.stdout) && /Name: Spike Curtis/.test(r.stdout)
