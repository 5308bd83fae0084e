import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { KubeClient } from '../kube.ts'
import { Discovery } from '../kubectl/discovery.ts'
import { parseManifests } from '../kubectl/manifests.ts'
import { applyOne, type Target, targetOf } from '../kubectl/ops.ts'

/** The manifests `calilab up` installs Calico with (the lab's, Apache-2.0; see assets/README.md). */
export const OPERATOR_ASSETS = ['tigera-operator.yaml', 'installation.yaml'] as const

export function assetPath(name: string): string {
  return fileURLToPath(new URL(`../../assets/${name}`, import.meta.url))
}

/**
 * Installs Calico the operator way: the tigera-operator namespace, RBAC and Deployment, then the
 * Installation `default`. The API server's operator controller does the rest (calico-system,
 * IP pool, calico-node/typha/kube-controllers, tigerastatus). Returns one line per object.
 */
export async function installOperator(client: KubeClient): Promise<string[]> {
  return applyAssets(client, OPERATOR_ASSETS)
}

/** What every cluster has from the start, as k3s deploys it: CoreDNS behind kube-dns (198.19.32.10). */
export const ADDON_ASSETS = ['coredns.yaml'] as const

export async function installAddons(client: KubeClient): Promise<string[]> {
  return applyAssets(client, ADDON_ASSETS)
}

async function applyAssets(client: KubeClient, files: readonly string[]): Promise<string[]> {
  const lines: string[] = []
  let discovery = await Discovery.load(client)
  for (const file of files) {
    const manifests = parseManifests(readFileSync(assetPath(file), 'utf8'), file)
    for (const m of manifests) {
      let t: Target
      try {
        t = targetOf(discovery, m, 'default')
      } catch {
        // A kind served only once something earlier registered it: refresh discovery once.
        discovery = await Discovery.load(client)
        t = targetOf(discovery, m, 'default')
      }
      const outcome = await applyOne(client, t, m.object)
      lines.push(`${t.ref} ${outcome}`)
    }
  }
  return lines
}
