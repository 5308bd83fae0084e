/**
 * Conformance scenarios in the style of the upstream Kubernetes network-policy tests: each applies
 * Kubernetes and/or Calico policy and states the expected reachability of every (source,
 * destination, port) cell of the 9x9 pod matrix as a small predicate. A pod always reaches itself
 * (the packet never leaves its namespace), as upstream's AllowLoopback.
 */
import type { Pod, Port } from './model.ts'
import { tcp } from './model.ts'

export interface Scenario {
  name: string
  /** Default: 80/TCP, 81/TCP, ICMP. */
  ports?: Port[]
  resources: (ip: (id: string) => string) => object[]
  allow: (s: Pod, d: Pod, port: Port) => boolean
  /** A reason: the scenario runs but is reported as todo. */
  todo?: string
}

type Spec = Record<string, unknown>
const knp = (name: string, namespace: string, spec: Spec) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
})
const cnp = (name: string, namespace: string, spec: Spec) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
})
const gnp = (name: string, spec: Spec) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec,
})
const nsSel = (ns: string) => ({ matchLabels: { ns } })
const podSel = (pod: string) => ({ matchLabels: { pod } })
const inNs = (ns: string) => `projectcalico.org/namespace == '${ns}'`
const is = (p: Pod, id: string) => p.id === id
const UDP: Port[] = ['80/TCP', '81/TCP', 'ICMP', '53/UDP']

export const scenarios: Scenario[] = [
  // ---- Kubernetes NetworkPolicy ----
  { name: 'k8s: no policy, everything reachable', resources: () => [], allow: () => true },
  {
    name: 'k8s: default deny ingress in x (policyTypes [Ingress])',
    resources: () => [knp('deny-ingress', 'x', { podSelector: {}, policyTypes: ['Ingress'] })],
    ports: UDP,
    allow: (_s, d) => d.ns !== 'x',
  },
  {
    name: 'k8s: default deny ingress in x (policyTypes inferred)',
    resources: () => [knp('deny-ingress', 'x', { podSelector: {} })],
    allow: (_s, d) => d.ns !== 'x',
  },
  {
    name: 'k8s: default deny egress in x',
    ports: UDP,
    resources: () => [knp('deny-egress', 'x', { podSelector: {}, policyTypes: ['Egress'] })],
    allow: (s) => s.ns !== 'x',
  },
  {
    name: 'k8s: default deny ingress and egress in x',
    resources: () => [knp('deny-all', 'x', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    allow: (s, d) => s.ns !== 'x' && d.ns !== 'x',
  },
  {
    name: 'k8s: allow all ingress in x (ingress: [{}])',
    resources: () => [knp('allow-all', 'x', { podSelector: {}, ingress: [{}] })],
    allow: () => true,
  },
  {
    name: 'k8s: deny all plus allow all in x: policies are a union',
    resources: () => [
      knp('deny-ingress', 'x', { podSelector: {} }),
      knp('allow-all', 'x', { podSelector: {}, ingress: [{}] }),
    ],
    allow: () => true,
  },
  {
    name: 'k8s: allow ingress from the same namespace',
    resources: () => [knp('same-ns', 'x', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })],
    allow: (s, d) => d.ns !== 'x' || s.ns === 'x',
  },
  {
    name: 'k8s: namespaceSelector ns=y into x',
    resources: () => [
      knp('from-y', 'x', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsSel('y') }] }] }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.ns === 'y',
  },
  {
    name: 'k8s: namespaceSelector matchExpressions ns NotIn [y] into x',
    resources: () => [
      knp('not-y', 'x', {
        podSelector: {},
        ingress: [
          { from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['y'] }] } }] },
        ],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.ns !== 'y',
  },
  {
    name: 'k8s: podSelector pod=b into x/a (same namespace only)',
    resources: () => [
      knp('b-to-a', 'x', { podSelector: podSel('a'), ingress: [{ from: [{ podSelector: podSel('b') }] }] }),
    ],
    allow: (s, d) => !is(d, 'x/a') || is(s, 'x/b'),
  },
  {
    name: 'k8s: podSelector and namespaceSelector in one peer (y/b into x/a)',
    resources: () => [
      knp('yb-to-a', 'x', {
        podSelector: podSel('a'),
        ingress: [{ from: [{ namespaceSelector: nsSel('y'), podSelector: podSel('b') }] }],
      }),
    ],
    allow: (s, d) => !is(d, 'x/a') || is(s, 'y/b'),
  },
  {
    name: 'k8s: two peers are ORed (ns=y, or pod=b in x)',
    resources: () => [
      knp('y-or-b', 'x', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: nsSel('y') }, { podSelector: podSel('b') }] }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.ns === 'y' || is(s, 'x/b'),
  },
  {
    name: 'k8s: namespaceSelector {} with podSelector pod=c (pod c of every namespace)',
    resources: () => [
      knp('any-c', 'x', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: {}, podSelector: podSel('c') }] }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.pod === 'c',
  },
  {
    name: 'k8s: ports: ingress into x on TCP 80 only',
    resources: () => [knp('port-80', 'x', { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] })],
    allow: (_s, d, p) => d.ns !== 'x' || p === '80/TCP',
  },
  {
    name: 'k8s: ports and peers: TCP 81 from ns=y into x',
    resources: () => [
      knp('y-81', 'x', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: nsSel('y') }], ports: [{ protocol: 'TCP', port: 81 }] }],
      }),
    ],
    allow: (s, d, p) => d.ns !== 'x' || (s.ns === 'y' && p === '81/TCP'),
  },
  {
    name: 'k8s: endPort: TCP 75-80 into x',
    resources: () => [knp('range', 'x', { podSelector: {}, ingress: [{ ports: [{ port: 75, endPort: 80 }] }] })],
    allow: (_s, d, p) => d.ns !== 'x' || p === '80/TCP',
  },
  {
    name: 'k8s: endPort: TCP 81-90 into y',
    resources: () => [knp('range', 'y', { podSelector: {}, ingress: [{ ports: [{ port: 81, endPort: 90 }] }] })],
    allow: (_s, d, p) => d.ns !== 'y' || p === '81/TCP',
  },
  {
    name: 'k8s: named port "web" into x (80 on a, b; 81 on c)',
    resources: () => [knp('web', 'x', { podSelector: {}, ingress: [{ ports: [{ port: 'web' }] }] })],
    allow: (_s, d, p) => d.ns !== 'x' || (tcp(p) && Number(p.split('/')[0]) === d.web),
  },
  {
    name: 'k8s: named port "alt" egress from x (81 on a, b; 80 on c)',
    resources: () => [
      knp('alt', 'x', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'alt' }] }] }),
    ],
    allow: (s, d, p) => s.ns !== 'x' || (tcp(p) && Number(p.split('/')[0]) !== d.web),
  },
  {
    name: 'k8s: egress from x to ns=z only',
    ports: UDP,
    resources: () => [
      knp('to-z', 'x', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: nsSel('z') }] }],
      }),
    ],
    allow: (s, d) => s.ns !== 'x' || d.ns === 'z',
  },
  {
    name: 'k8s: egress from x to x/a on TCP 80 only',
    resources: () => [
      knp('to-a', 'x', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ podSelector: podSel('a') }], ports: [{ port: 80, protocol: 'TCP' }] }],
      }),
    ],
    allow: (s, d, p) => s.ns !== 'x' || (is(d, 'x/a') && p === '80/TCP'),
  },
  {
    name: 'k8s: ipBlock 0.0.0.0/0 except y/b into x',
    resources: (ip) => [
      knp('cidr', 'x', {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: [`${ip('y/b')}/32`] } }] }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || !is(s, 'y/b'),
  },
  {
    name: 'k8s: ipBlock /32 of x/c into x/a',
    resources: (ip) => [
      knp('cidr', 'x', { podSelector: podSel('a'), ingress: [{ from: [{ ipBlock: { cidr: `${ip('x/c')}/32` } }] }] }),
    ],
    allow: (s, d) => !is(d, 'x/a') || is(s, 'x/c'),
  },
  {
    name: 'k8s: ipBlock egress from x to z/a only',
    resources: (ip) => [
      knp('cidr', 'x', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: `${ip('z/a')}/32` } }] }],
      }),
    ],
    allow: (s, d) => s.ns !== 'x' || is(d, 'z/a'),
  },
  {
    name: 'k8s: ipBlock egress from y to 0.0.0.0/0 except x/b and x/c',
    resources: (ip) => [
      knp('cidr', 'y', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: [`${ip('x/b')}/32`, `${ip('x/c')}/32`] } }] }],
      }),
    ],
    allow: (s, d) => s.ns !== 'y' || !(is(d, 'x/b') || is(d, 'x/c')),
  },
  {
    name: 'k8s: UDP-only port rule into x blocks TCP and ICMP',
    resources: () => [knp('udp', 'x', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 80 }] }] })],
    ports: ['80/TCP', '81/TCP', 'ICMP', '80/UDP'],
    allow: (_s, d, p) => d.ns !== 'x' || p === '80/UDP',
  },
  {
    name: 'k8s: from: [] with port 80 and to: [] in x',
    resources: () => [
      knp('empty-peers', 'x', {
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [], ports: [{ port: 80 }] }],
        egress: [{ to: [] }],
      }),
    ],
    allow: (_s, d, p) => d.ns !== 'x' || p === '80/TCP',
  },
  {
    name: 'k8s: two policies on x/a are a union (ns=y, x/c)',
    resources: () => [
      knp('from-y', 'x', { podSelector: podSel('a'), ingress: [{ from: [{ namespaceSelector: nsSel('y') }] }] }),
      knp('from-c', 'x', { podSelector: podSel('a'), ingress: [{ from: [{ podSelector: podSel('c') }] }] }),
    ],
    allow: (s, d) => !is(d, 'x/a') || s.ns === 'y' || is(s, 'x/c'),
  },
  {
    name: 'k8s: deny ingress in x and y, allow z into y',
    resources: () => [
      knp('deny', 'x', { podSelector: {} }),
      knp('deny', 'y', { podSelector: {} }),
      knp('from-z', 'y', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsSel('z') }] }] }),
    ],
    allow: (s, d) => d.ns === 'z' || (d.ns === 'y' && s.ns === 'z'),
  },
  {
    name: 'k8s: deny egress in x and deny ingress in z',
    resources: () => [
      knp('deny-egress', 'x', { podSelector: {}, policyTypes: ['Egress'] }),
      knp('deny-ingress', 'z', { podSelector: {}, policyTypes: ['Ingress'] }),
    ],
    allow: (s, d) => s.ns !== 'x' && d.ns !== 'z',
  },

  // ---- Calico NetworkPolicy / GlobalNetworkPolicy ----
  {
    name: 'calico: GlobalNetworkPolicy deny all ingress to every matrix pod',
    resources: () => [gnp('deny-all', { selector: 'has(pod)', types: ['Ingress'] })],
    allow: () => false,
  },
  {
    name: 'calico: NetworkPolicy Deny from ns y, then Allow, in x',
    resources: () => [
      cnp('deny-y', 'x', {
        selector: 'all()',
        ingress: [{ action: 'Deny', source: { namespaceSelector: "ns == 'y'" } }, { action: 'Allow' }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.ns !== 'y',
  },
  {
    name: 'calico: order: Allow pod=a (order 10) before Deny all (order 20)',
    resources: () => [
      gnp('allow-a', {
        order: 10,
        selector: inNs('x'),
        ingress: [{ action: 'Allow', source: { selector: "pod == 'a'" } }],
      }),
      gnp('deny', { order: 20, selector: inNs('x'), ingress: [{ action: 'Deny' }] }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.pod === 'a',
  },
  {
    name: 'calico: order: Deny pod=a (order 10) before Allow all (order 20)',
    resources: () => [
      gnp('deny-a', {
        order: 10,
        selector: inNs('x'),
        ingress: [{ action: 'Deny', source: { selector: "pod == 'a'" } }],
      }),
      gnp('allow', { order: 20, selector: inNs('x'), ingress: [{ action: 'Allow' }] }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.pod !== 'a',
  },
  {
    name: 'calico: Pass from ns y skips the k8s deny to the namespace profile',
    resources: () => [
      gnp('pass-y', {
        order: 10,
        selector: inNs('x'),
        ingress: [{ action: 'Pass', source: { namespaceSelector: "ns == 'y'" } }],
      }),
      knp('deny', 'x', { podSelector: {} }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.ns === 'y',
  },
  {
    name: 'calico: Log does not end evaluation (Log, Deny from z, Allow)',
    resources: () => [
      cnp('log', 'x', {
        selector: 'all()',
        ingress: [
          { action: 'Log' },
          { action: 'Deny', source: { namespaceSelector: "ns == 'z'" } },
          { action: 'Allow' },
        ],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.ns !== 'z',
  },
  {
    // As libcalico-go: a notSelector alone still gets the policy's namespace clause.
    name: 'calico: notSelector alone is scoped to the policy namespace (x except pod a)',
    resources: () => [
      cnp('not-a', 'x', { selector: 'all()', ingress: [{ action: 'Allow', source: { notSelector: "pod == 'a'" } }] }),
    ],
    allow: (s, d) => d.ns !== 'x' || (s.ns === 'x' && s.pod !== 'a'),
  },
  {
    name: 'calico: selector and notSelector together (pod in {a,b} but not b, in x)',
    resources: () => [
      cnp('a-only', 'x', {
        selector: 'all()',
        ingress: [{ action: 'Allow', source: { selector: "pod in {'a', 'b'}", notSelector: "pod == 'b'" } }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || is(s, 'x/a'),
  },
  {
    name: 'calico: rule namespaceSelector with selector (pod c of y and z)',
    resources: () => [
      cnp('yz-c', 'x', {
        selector: 'all()',
        ingress: [{ action: 'Allow', source: { namespaceSelector: "ns in {'y', 'z'}", selector: "pod == 'c'" } }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || (s.ns !== 'x' && s.pod === 'c'),
  },
  {
    name: 'calico: GlobalNetworkSet through global() (deny y/a and z/b into x)',
    resources: (ip) => [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkSet',
        metadata: { name: 'blocked', labels: { role: 'blocked' } },
        spec: { nets: [`${ip('y/a')}/32`, `${ip('z/b')}/32`] },
      },
      cnp('deny-set', 'x', {
        selector: 'all()',
        ingress: [
          { action: 'Deny', source: { namespaceSelector: 'global()', selector: "role == 'blocked'" } },
          { action: 'Allow' },
        ],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || !(is(s, 'y/a') || is(s, 'z/b')),
  },
  {
    name: 'calico: NetworkSet in the namespace (allow z/c into x)',
    resources: (ip) => [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkSet',
        metadata: { name: 'friends', namespace: 'x', labels: { role: 'friend' } },
        spec: { nets: [`${ip('z/c')}/32`] },
      },
      cnp('friends', 'x', {
        selector: 'all()',
        ingress: [{ action: 'Allow', source: { selector: "role == 'friend'" } }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || is(s, 'z/c'),
  },
  {
    name: 'calico: notNets (everything but x/a into y)',
    resources: (ip) => [
      cnp('not-xa', 'y', {
        selector: 'all()',
        ingress: [{ action: 'Allow', source: { notNets: [`${ip('x/a')}/32`] } }],
      }),
    ],
    allow: (s, d) => d.ns !== 'y' || !is(s, 'x/a'),
  },
  {
    name: 'calico: nets (only x/b and z/c into y/a)',
    resources: (ip) => [
      cnp('nets', 'y', {
        selector: "pod == 'a'",
        ingress: [{ action: 'Allow', source: { nets: [`${ip('x/b')}/32`, `${ip('z/c')}/32`] } }],
      }),
    ],
    allow: (s, d) => !is(d, 'y/a') || is(s, 'x/b') || is(s, 'z/c'),
  },
  {
    name: 'calico: TCP notPorts [81] into x',
    resources: () => [
      cnp('not-81', 'x', {
        selector: 'all()',
        ingress: [{ action: 'Allow', protocol: 'TCP', destination: { notPorts: [81] } }],
      }),
    ],
    allow: (_s, d, p) => d.ns !== 'x' || p === '80/TCP',
  },
  {
    name: 'calico: ICMP plus a TCP port range 81:85 into x',
    resources: () => [
      cnp('icmp-81', 'x', {
        selector: 'all()',
        ingress: [
          { action: 'Allow', protocol: 'ICMP' },
          { action: 'Allow', protocol: 'TCP', destination: { ports: ['81:85'] } },
        ],
      }),
    ],
    allow: (_s, d, p) => d.ns !== 'x' || p === 'ICMP' || p === '81/TCP',
  },
  {
    name: 'calico: notProtocol TCP into x',
    resources: () => [cnp('not-tcp', 'x', { selector: 'all()', ingress: [{ action: 'Allow', notProtocol: 'TCP' }] })],
    allow: (_s, d, p) => d.ns !== 'x' || !tcp(p),
  },
  {
    name: 'calico: ICMP type 8 (echo request) into x',
    resources: () => [
      cnp('echo', 'x', { selector: 'all()', ingress: [{ action: 'Allow', protocol: 'ICMP', icmp: { type: 8 } }] }),
    ],
    allow: (_s, d, p) => d.ns !== 'x' || p === 'ICMP',
  },
  {
    name: 'calico: ICMP type 13 only into x: ping blocked',
    resources: () => [
      cnp('tstamp', 'x', { selector: 'all()', ingress: [{ action: 'Allow', protocol: 'ICMP', icmp: { type: 13 } }] }),
    ],
    allow: (_s, d) => d.ns !== 'x',
  },
  {
    name: 'calico: named port "web" in a Calico rule into y',
    resources: () => [
      cnp('web', 'y', {
        selector: 'all()',
        ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['web'] } }],
      }),
    ],
    allow: (_s, d, p) => d.ns !== 'y' || (tcp(p) && Number(p.split('/')[0]) === d.web),
  },
  {
    name: 'calico: serviceAccounts names [front] (scoped to the namespace)',
    resources: () => [
      cnp('front', 'x', {
        selector: 'all()',
        ingress: [{ action: 'Allow', source: { serviceAccounts: { names: ['front'] } } }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || (s.ns === 'x' && s.sa === 'front'),
  },
  {
    name: 'calico: serviceAccounts selector role=back in a GlobalNetworkPolicy',
    resources: () => [
      gnp('back', {
        selector: inNs('x'),
        ingress: [{ action: 'Allow', source: { serviceAccounts: { selector: "role == 'back'" } } }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.sa === 'back',
  },
  {
    name: 'calico: policy-level serviceAccountSelector (pods running as back accept only z)',
    resources: () => [
      gnp('back-from-z', {
        selector: 'has(pod)',
        serviceAccountSelector: "role == 'back'",
        ingress: [{ action: 'Allow', source: { namespaceSelector: "ns == 'z'" } }],
      }),
    ],
    allow: (s, d) => d.sa !== 'back' || s.ns === 'z',
  },
  {
    name: 'calico: policy-level namespaceSelector (z denies pod a of any namespace)',
    resources: () => [
      gnp('z-no-a', {
        namespaceSelector: "ns == 'z'",
        ingress: [{ action: 'Deny', source: { selector: "pod == 'a'" } }, { action: 'Allow' }],
      }),
    ],
    allow: (s, d) => d.ns !== 'z' || s.pod !== 'a',
  },
  {
    name: 'calico: egress Deny to pod=b from y, then Allow',
    ports: UDP,
    resources: () => [
      gnp('y-no-b', {
        selector: inNs('y'),
        types: ['Egress'],
        egress: [{ action: 'Deny', destination: { selector: "pod == 'b'" } }, { action: 'Allow' }],
      }),
    ],
    allow: (s, d) => s.ns !== 'y' || d.pod !== 'b',
  },
  {
    name: 'calico: types inferred from egress rules only (ingress untouched)',
    ports: UDP,
    resources: () => [
      gnp('x-to-z', {
        selector: inNs('x'),
        egress: [{ action: 'Allow', destination: { namespaceSelector: "ns == 'z'" } }],
      }),
    ],
    allow: (s, d) => s.ns !== 'x' || d.ns === 'z',
  },
  {
    name: 'calico: ingress and egress in one policy for y',
    resources: () => [
      gnp('y-both', {
        selector: inNs('y'),
        types: ['Ingress', 'Egress'],
        ingress: [{ action: 'Allow', source: { namespaceSelector: "ns == 'x'" } }],
        egress: [{ action: 'Allow', destination: { namespaceSelector: "ns == 'z'" } }],
      }),
    ],
    allow: (s, d) => (s.ns !== 'y' || d.ns === 'z') && (d.ns !== 'y' || s.ns === 'x'),
  },

  // ---- mixed ----
  {
    name: 'mixed: k8s deny in x, Calico Allow from z at order 100',
    resources: () => [
      knp('deny', 'x', { podSelector: {} }),
      gnp('allow-z', {
        order: 100,
        selector: inNs('x'),
        ingress: [{ action: 'Allow', source: { namespaceSelector: "ns == 'z'" } }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.ns === 'z',
  },
  {
    name: 'mixed: k8s allow all in x, Calico Deny from y at order 100',
    resources: () => [
      knp('allow', 'x', { podSelector: {}, ingress: [{}] }),
      gnp('deny-y', {
        order: 100,
        selector: inNs('x'),
        ingress: [{ action: 'Deny', source: { namespaceSelector: "ns == 'y'" } }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.ns !== 'y',
  },
  {
    name: 'mixed: Calico Deny at order 2000 comes after the k8s allow (order 1000)',
    resources: () => [
      knp('from-y', 'x', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsSel('y') }] }] }),
      gnp('deny-late', { order: 2000, selector: inNs('x'), ingress: [{ action: 'Deny' }] }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.ns === 'y',
  },
  {
    name: 'mixed: a policy without order comes last (Deny y at 500, Allow all unordered)',
    resources: () => [
      cnp('allow-all', 'x', { selector: 'all()', ingress: [{ action: 'Allow' }] }),
      cnp('deny-y', 'x', {
        order: 500,
        selector: 'all()',
        ingress: [{ action: 'Deny', source: { namespaceSelector: "ns == 'y'" } }],
      }),
    ],
    allow: (s, d) => d.ns !== 'x' || s.ns !== 'y',
  },
  {
    name: 'mixed: k8s egress deny from z with a Calico egress Allow to x on TCP 80',
    resources: () => [
      knp('deny-egress', 'z', { podSelector: {}, policyTypes: ['Egress'] }),
      gnp('z-to-x-80', {
        order: 100,
        selector: inNs('z'),
        types: ['Egress'],
        egress: [{ action: 'Allow', protocol: 'TCP', destination: { namespaceSelector: "ns == 'x'", ports: [80] } }],
      }),
    ],
    allow: (s, d, p) => s.ns !== 'z' || (d.ns === 'x' && p === '80/TCP'),
  },
]

/** Name prefixes of the scenarios only CONFORMANCE_EXTENDED=1 runs (the default run's time budget). */
const EXTENDED_PREFIXES = [
  'k8s: deny all plus allow all',
  'k8s: endPort: TCP 81-90 into y',
  'k8s: egress from x to x/a on TCP 80 only',
  'k8s: ipBlock /32 of x/c into x/a',
  'k8s: two policies on x/a',
  'k8s: deny egress in x and deny ingress in z',
  'k8s: namespaceSelector {} with podSelector',
  'k8s: allow all ingress in x',
  'calico: ICMP type 13',
  'calico: nets (only',
  'calico: selector and notSelector together',
  'mixed: Calico Deny at order 2000',
  'calico: Log does not end',
  'k8s: namespaceSelector matchExpressions',
  'calico: types inferred',
  'k8s: ipBlock egress from y',
  'calico: notProtocol',
  'k8s: named port "alt" egress',
  'mixed: a policy without order',
]

export const EXTENDED = new Set(
  scenarios.filter((s) => EXTENDED_PREFIXES.some((p) => s.name.startsWith(p))).map((s) => s.name),
)
