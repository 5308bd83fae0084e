/**
 * The yaobank fixture the policy-manager and trace tests share: one node's kernel with the three
 * yaobank pods wired as Calico's CNI plugin wires them, and the syncer updates that describe them.
 */

import { readFileSync } from 'node:fs'
import path from 'node:path'
import { createHost, type Host, type Netns } from '@calilab/dataplane'
import { FakeClock, seededRng } from '@calilab/kit'
import { type KubeObject, parseIPv4 } from '@calilab/model'
import { LAB_DIR } from '@calilab/testkit'
import { parse as parseYaml } from 'yaml'
import { vethName } from '../../src/core/cni/names.ts'
import type { SyncerUpdate } from '../../src/io/syncer/types.ts'

const ip = parseIPv4
export const NODE = 'node1'

function addPod(h: Host, ns: string, name: string, podIp: string): Netns {
  const veth = vethName(ns, name)
  const pns = h.createPodNetns(`${ns}/${name}`)
  h.addVethPair(h.root, veth, pns, 'eth0')
  pns.addAddr('eth0', ip(podIp), 32)
  pns.routes.add({ dst: ip('169.254.1.1'), prefix: 32, dev: 'eth0', scope: 'link' })
  pns.routes.add({ dst: 0, prefix: 0, via: ip('169.254.1.1'), dev: 'eth0' })
  h.root.routes.add({ dst: ip(podIp), prefix: 32, dev: veth, scope: 'link' })
  return pns
}

export const podObj = (ns: string, name: string, podIp: string, labels: Record<string, string>, node = NODE) => ({
  key: `/core/pods/${ns}/${name}`,
  value: {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels },
    spec: { nodeName: node, serviceAccountName: name, containers: [{ name: 'c', image: 'x' }] },
    status: { phase: 'Running', podIP: podIp },
  } as unknown as KubeObject,
})
export const nsObj = (name: string): SyncerUpdate => ({
  key: `/core/namespaces/_/${name}`,
  value: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } as KubeObject,
})
const saObj = (ns: string, name: string): SyncerUpdate => ({
  key: `/core/serviceaccounts/${ns}/${name}`,
  value: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns } } as KubeObject,
})
export const dbPolicy = (): SyncerUpdate => {
  const doc = parseYaml(
    readFileSync(path.join(LAB_DIR, 'database-policy.yaml'), 'utf8').replace(/^---\n/, ''),
  ) as KubeObject
  return { key: '/networking.k8s.io/networkpolicies/yaobank/database-policy', value: doc }
}

export function yaobank(seed = 1) {
  const clock = new FakeClock()
  const host = createHost({ name: NODE, nodeIp: ip('198.19.0.2'), clock, rng: seededRng(seed) })
  const customer = addPod(host, 'yaobank', 'customer', '198.19.21.1')
  const summary = addPod(host, 'yaobank', 'summary', '198.19.21.2')
  const database = addPod(host, 'yaobank', 'database', '198.19.21.3')
  database.tcpListen(2379, (c) => c.onData((d) => c.write(d)))
  const base: SyncerUpdate[] = [
    nsObj('yaobank'),
    saObj('yaobank', 'customer'),
    saObj('yaobank', 'summary'),
    saObj('yaobank', 'database'),
    podObj('yaobank', 'customer', '198.19.21.1', { app: 'customer' }),
    podObj('yaobank', 'summary', '198.19.21.2', { app: 'summary' }),
    podObj('yaobank', 'database', '198.19.21.3', { app: 'database' }),
    // A pod elsewhere: only an IP-set member here.
    podObj('yaobank', 'remote', '198.19.22.9', { app: 'summary' }, 'node2'),
  ]
  return { clock, host, customer, summary, database, base }
}
