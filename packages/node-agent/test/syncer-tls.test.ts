import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { seededRng, silentLogger } from '@calilab/kit'
import { startTyphaServer } from '@calilab/typha'
import t from 'tap'
import { connectTypha } from '../src/io/syncer/index.ts'

/** A CA and three leaf certs (typha-server, typha-client, intruder) made with openssl. */
function makeCerts(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=calilab-test-ca',
  )
  for (const cn of ['typha-server', 'typha-client', 'intruder']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${cn}.key`, '-out', `${cn}.csr`, '-subj', `/CN=${cn}`)
    ssl(
      'x509',
      '-req',
      '-in',
      `${cn}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${cn}.crt`,
      '-days',
      '1',
    )
  }
  const f = (n: string) => readFileSync(join(dir, n))
  return {
    ca: f('ca.crt'),
    server: { cert: f('typha-server.crt'), key: f('typha-server.key') },
    client: { cert: f('typha-client.crt'), key: f('typha-client.key') },
    intruder: { cert: f('intruder.crt'), key: f('intruder.key') },
  }
}

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

t.test('mutual TLS: the right client CN syncs, a wrong CN is refused, the server CN is checked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'calilab-typha-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const certs = makeCerts(dir)
  const server = await startTyphaServer({
    log: silentLogger(),
    tls: { ...certs.server, ca: certs.ca, clientCN: 'typha-client' },
    upstream: (h) => {
      h.onSnapshot(
        [
          {
            key: '/core/nodes/_/node1',
            object: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node1', resourceVersion: '1' } },
          },
        ],
        1,
      )
      h.onSynced?.(1)
      return { close() {} }
    },
  })
  t.teardown(() => server.close())
  const mk = (id: { cert: Buffer; key: Buffer }, serverCN: string) => {
    const c = connectTypha({
      addresses: [`127.0.0.1:${server.port}`],
      nodeName: 'node1',
      syncerType: 'bgp',
      log: silentLogger(),
      rng: seededRng(1),
      reconnectMs: 2000,
      tls: { ...id, ca: certs.ca, serverCN },
      callbacks: { onUpdates: () => {}, onInSync: () => {} },
    })
    t.teardown(() => c.close())
    return c
  }
  const good = mk(certs.client, 'typha-server')
  await waitFor(() => good.status === 'in-sync', 10_000, 'good client in sync')
  t.ok(good.cache.has('/core/nodes/_/node1'))
  const intruder = mk(certs.intruder, 'typha-server')
  await waitFor(() => intruder.stats.failures >= 1, 10_000, 'intruder refused')
  t.equal(intruder.cache.size, 0)
  const picky = mk(certs.client, 'some-other-server')
  await waitFor(() => picky.stats.failures >= 1, 10_000, 'server CN mismatch refused')
  t.equal(picky.cache.size, 0)
})
