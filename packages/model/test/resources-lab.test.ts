import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { LAB_DIR } from '@calilab/testkit'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import type { KubeObject } from '../src/resources/meta.ts'
import { builtinResources, findResource } from '../src/resources/table.ts'
import { applyDefaults, validateObject } from '../src/resources/validate.ts'

const LAB = LAB_DIR

function labDocs(): { file: string; obj: KubeObject }[] {
  const out: { file: string; obj: KubeObject }[] = []
  for (const file of readdirSync(LAB)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(LAB, file), 'utf8'))) {
      const obj = doc.toJS() as KubeObject | null
      if (obj !== null && typeof obj === 'object') out.push({ file, obj })
    }
  }
  return out
}

t.test('every lab manifest validates with zero errors (unknown fields included)', async (t) => {
  const table = builtinResources()
  const docs = labDocs()
  let checked = 0
  const skipped: string[] = []
  for (const { file, obj } of docs) {
    const info = findResource(table, obj.apiVersion, obj.kind)
    if (info === undefined) {
      skipped.push(`${file}:${obj.apiVersion}/${obj.kind}`)
      continue
    }
    checked++
    const errs = validateObject(info, obj)
    t.same(errs, [], `${file}: ${obj.kind}/${obj.metadata.name}`)
    // defaulted objects still validate
    const defaulted = applyDefaults(info, obj)
    t.same(validateObject(info, defaulted), [], `${file}: defaulted ${obj.kind}/${obj.metadata.name}`)
  }
  t.equal(docs.length, 70, 'all 70 lab documents found')
  t.same(skipped, [], 'every lab kind is in the built-in table')
  t.equal(checked, 70, 'all 70 lab documents checked')
})

t.test('lab JSON merge patches produce valid objects', async (t) => {
  const table = builtinResources()
  const merge = (a: unknown, p: unknown): unknown => {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) return p
    const base = typeof a === 'object' && a !== null && !Array.isArray(a) ? { ...(a as Record<string, unknown>) } : {}
    for (const [k, v] of Object.entries(p)) {
      if (v === null) delete base[k]
      else base[k] = merge(base[k], v)
    }
    return base
  }
  const targets: Record<string, KubeObject> = {
    felixconfig: {
      apiVersion: 'projectcalico.org/v3',
      kind: 'FelixConfiguration',
      metadata: { name: 'default' },
      spec: {},
    },
    bgpconfig: {
      apiVersion: 'projectcalico.org/v3',
      kind: 'BGPConfiguration',
      metadata: { name: 'default' },
      spec: {},
    },
    kubecontrollersconfiguration: {
      apiVersion: 'projectcalico.org/v3',
      kind: 'KubeControllersConfiguration',
      metadata: { name: 'default' },
      spec: { controllers: { node: {} } },
    },
    installation: {
      apiVersion: 'operator.tigera.io/v1',
      kind: 'Installation',
      metadata: { name: 'default' },
      spec: { calicoNetwork: { hostPorts: 'Enabled' } },
    },
    'customer-svc': {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'customer', namespace: 'yaobank' },
      spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 30180 }], selector: { app: 'customer' } },
    },
  }
  let n = 0
  for (const file of readdirSync(LAB).filter((f) => f.endsWith('.json'))) {
    const key = Object.keys(targets).find((k) => file.startsWith(k))
    if (key === undefined) continue
    const target = targets[key] as KubeObject
    const patched = merge(target, JSON.parse(readFileSync(join(LAB, file), 'utf8'))) as KubeObject
    const info = findResource(table, patched.apiVersion, patched.kind)
    if (info === undefined) throw new Error(`no info for ${patched.kind}`)
    t.same(validateObject(info, patched), [], file)
    n++
  }
  t.equal(n, 10, 'all ten lab patches applied')
})
