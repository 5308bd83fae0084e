import type { IPPool } from '@calilab/model'
import t from 'tap'
import {
  assignIP,
  emptyIpamState,
  goF0,
  goG5,
  type IpamResult,
  type IpamState,
  ipamShow,
  type PoolInfo,
  poolFromResource,
} from '../src/core/ipam/index.ts'

const pool = (name: string, spec: IPPool['spec']): PoolInfo =>
  poolFromResource({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec })
const DEFAULT = pool('default-ipv4-ippool', { cidr: '198.19.16.0/21', blockSize: 26, nodeSelector: 'all()' })
const EXTERNAL = pool('external-pool', { cidr: '198.19.24.0/21', blockSize: 29, nodeSelector: '!all()' })
// given out of name order on purpose: the table lists pools by name
const POOLS = [EXTERNAL, DEFAULT]

function ok<T>(r: IpamResult<T>): IpamState {
  if (!r.ok) throw new Error(r.error.message)
  return r.state
}

/** Three pods on node1 in 198.19.21.0/26, one borrowed by node2, nginx in the external pool. */
function labState(): IpamState {
  let s = emptyIpamState()
  const put = (ip: string, node: string, ns: string, pod: string) => {
    s = ok(
      assignIP(s, { ip, node, handle: `k8s-pod-network.${pod}`, attrs: { namespace: ns, node, pod }, pools: POOLS }),
    )
  }
  put('198.19.21.0', 'node1', 'yaobank', 'customer-7b86b5c5c9-qwxyz')
  put('198.19.21.1', 'node1', 'yaobank', 'summary-1')
  put('198.19.21.2', 'node2', 'yaobank', 'summary-2')
  put('198.19.28.208', 'node1', 'external-ns', 'nginx-1')
  return s
}

t.test('Go number formatting', async (t) => {
  t.equal(goG5(2048), '2048')
  t.equal(goG5(65536), '65536')
  t.equal(goG5(131072), '1.3107e+05')
  t.equal(goG5(100000), '1e+05')
  t.equal(goG5(4294967296), '4.295e+09')
  t.equal(goG5(0), '0')
  t.equal(goF0(12.5), '12', 'ties to even')
  t.equal(goF0(87.5), '88')
  t.equal(goF0(4.6875), '5')
  t.equal(goF0(0.146484375), '0')
})

t.test('calicoctl ipam show', async (t) => {
  t.equal(
    ipamShow(labState(), POOLS),
    [
      '+----------+----------------+-----------+------------+-------------+',
      '| GROUPING |      CIDR      | IPS TOTAL | IPS IN USE |  IPS FREE   |',
      '+----------+----------------+-----------+------------+-------------+',
      '| IP Pool  | 198.19.16.0/21 |      2048 | 3 (0%)     | 2045 (100%) |',
      '| IP Pool  | 198.19.24.0/21 |      2048 | 1 (0%)     | 2047 (100%) |',
      '+----------+----------------+-----------+------------+-------------+',
      '',
    ].join('\n'),
  )
})

t.test('calicoctl ipam show --show-blocks', async (t) => {
  t.equal(
    ipamShow(labState(), POOLS, { showBlocks: true }),
    [
      '+----------+------------------+-----------+------------+-------------+',
      '| GROUPING |       CIDR       | IPS TOTAL | IPS IN USE |  IPS FREE   |',
      '+----------+------------------+-----------+------------+-------------+',
      '| IP Pool  | 198.19.16.0/21   |      2048 | 3 (0%)     | 2045 (100%) |',
      '| Block    | 198.19.21.0/26   |        64 | 3 (5%)     | 61 (95%)    |',
      '| IP Pool  | 198.19.24.0/21   |      2048 | 1 (0%)     | 2047 (100%) |',
      '| Block    | 198.19.28.208/29 |         8 | 1 (12%)    | 7 (88%)     |',
      '+----------+------------------+-----------+------------+-------------+',
      '',
    ].join('\n'),
  )
})

t.test('calicoctl ipam show --ip', async (t) => {
  t.equal(
    ipamShow(labState(), POOLS, { ip: '198.19.21.1' }),
    'IP 198.19.21.1 is in use\nAttributes:\n  namespace: yaobank\n  node: node1\n  pod: summary-1\n',
  )
  t.equal(ipamShow(labState(), POOLS, { ip: '198.19.21.9' }), '198.19.21.9 is not assigned\n')
  t.equal(ipamShow(labState(), POOLS, { ip: '10.0.0.1' }), '10.0.0.1 is not assigned\n')
})

t.test('calicoctl ipam show --show-borrowed and --show-configuration', async (t) => {
  t.equal(
    ipamShow(labState(), POOLS, { showBorrowed: true }),
    [
      '+-------------+----------------+----------------+-------------+------+-------------------+',
      '|     IP      | BORROWING-NODE |     BLOCK      | BLOCK OWNER | TYPE |   ALLOCATED-TO    |',
      '+-------------+----------------+----------------+-------------+------+-------------------+',
      '| 198.19.21.2 | node2          | 198.19.21.0/26 | node1       | pod  | yaobank/summary-2 |',
      '+-------------+----------------+----------------+-------------+------+-------------------+',
      '',
    ].join('\n'),
  )
  t.equal(
    ipamShow(emptyIpamState(), POOLS, { showConfiguration: true }),
    [
      '+--------------------+-------+',
      '|      PROPERTY      | VALUE |',
      '+--------------------+-------+',
      '| StrictAffinity     | false |',
      '| AutoAllocateBlocks | true  |',
      '| MaxBlocksPerHost   |     0 |',
      '+--------------------+-------+',
      '',
    ].join('\n'),
  )
})
