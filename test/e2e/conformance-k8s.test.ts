import t from 'tap'
import { runConformance } from './conformance/run.ts'

// Its own cluster, so the Kubernetes and Calico halves of the matrix run side by side and each
// stays well inside the per-file time limit; the limit is raised for slow, shared CI machines.
t.setTimeout(480_000)
t.test('network-policy conformance, Kubernetes NetworkPolicy: 9x9 pod matrix over ports', (t) =>
  runConformance(t, { select: (s) => s.name.startsWith('k8s:'), minScenarios: 19, minProbes: 4000 }),
)
