import t from 'tap'
import { haveKubectl, KUBECTL_120 } from './kubectl-harness.ts'
import { kubectlSuite } from './kubectl-suite.ts'

if (!haveKubectl(KUBECTL_120))
  t.test(
    'kubectl 1.20 suite',
    {
      skip: `kubectl 1.20 not found at ${KUBECTL_120}: extract it with apt-get download kubernetes-client (see shared/reference/kubectl-wire.md)`,
    },
    () => {},
  )
else kubectlSuite(t, KUBECTL_120)
