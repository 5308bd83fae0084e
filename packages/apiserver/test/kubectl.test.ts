import t from 'tap'
import { haveKubectl, KUBECTL_132 } from './kubectl-harness.ts'
import { kubectlSuite } from './kubectl-suite.ts'

if (!haveKubectl(KUBECTL_132))
  t.test('kubectl 1.32 suite', { skip: `kubectl 1.32 not found at ${KUBECTL_132}` }, () => {})
else kubectlSuite(t, KUBECTL_132)
