import t from 'tap'
import { runConformance } from './conformance/run.ts'

// Calico policy and Kubernetes/Calico mixes; the Kubernetes-only half is conformance-k8s.test.ts.
t.setTimeout(480_000)
t.test('network-policy conformance, Calico and mixed policy: 9x9 pod matrix over ports', (t) =>
  runConformance(t, { select: (s) => !s.name.startsWith('k8s:'), minScenarios: 22, minProbes: 4500 }),
)
