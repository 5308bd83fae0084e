import { seededRng, silentLogger, systemClock } from '@calilab/kit'
import t from 'tap'
import { namespaces } from '../src/controllers/defs.ts'
import { startControllers } from '../src/controllers/index.ts'
import { haveKubectl, KUBECTL_120, KUBECTL_132, LAB, type Lab, startLab } from './kubectl-harness.ts'

/** Real kubectl against namespace deletion: Terminating, then gone once the namespace controller ran. */

const YAOBANK = `${LAB}/yaobank.yaml`

for (const [name, bin] of [
  ['kubectl 1.32', KUBECTL_132],
  ['kubectl 1.20', KUBECTL_120],
] as const) {
  t.test(
    `${name}: delete a namespace and its contents`,
    { skip: haveKubectl(bin) ? false : `${bin} not found` },
    async (t) => {
      const lab: Lab = await startLab(bin)
      t.teardown(() => lab.close())
      const k = (...args: string[]) => lab.kubectl(args)
      let controllers: { stop(): Promise<void> } | undefined
      t.teardown(() => controllers?.stop())

      // No namespace controller yet: the namespace stays Terminating.
      t.equal((await k('apply', '-f', YAOBANK)).code, 0, 'apply')
      const marked = await k('delete', 'ns', 'yaobank', '--wait=false')
      t.equal(marked.stdout, 'namespace "yaobank" deleted\n', marked.stderr)
      const get = await k('get', 'ns', 'yaobank')
      t.match(get.stdout, /^yaobank\s+Terminating\s+\S+$/m, 'STATUS Terminating')
      // (create -f: `kubectl create configmap` would send protobuf, which this server does not speak.)
      const late = await lab.kubectl(['create', '-f', '-'], {
        input: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: yaobank}\ndata: {a: b}\n',
      })
      t.equal(late.code, 1)
      t.match(
        late.stderr,
        /configmaps "late" is forbidden: unable to create new content in namespace yaobank because it is being terminated/,
      )
      const recreate = await lab.kubectl(['create', '-f', '-'], {
        input: 'apiVersion: v1\nkind: Namespace\nmetadata: {name: yaobank}\n',
      })
      t.match(recreate.stderr, /\(AlreadyExists\)/, 're-creating a Terminating namespace conflicts')

      controllers = startControllers({
        api: lab.server.api,
        log: silentLogger(),
        clock: systemClock(),
        rng: seededRng(3),
        controllers: [namespaces],
      })
      for (let i = 0; ; i++) {
        const gone = await k('get', 'ns', 'yaobank')
        if (gone.code !== 0) {
          t.match(gone.stderr, /\(NotFound\): namespaces "yaobank" not found/, 'finalized by the controller')
          break
        }
        if (i > 100) throw new Error(`namespace still there: ${gone.stdout}`)
        await new Promise((r) => setTimeout(r, 200))
      }

      // kubectl waits for the deletion by default: it returns once the namespace is gone.
      t.equal((await k('apply', '-f', YAOBANK)).code, 0, 're-created once gone')
      const waited = await k('delete', 'ns', 'yaobank')
      t.equal(waited.code, 0, waited.stderr)
      t.equal(waited.stdout, 'namespace "yaobank" deleted\n')
      const gone = await k('get', 'ns', 'yaobank')
      t.match(gone.stderr, /\(NotFound\): namespaces "yaobank" not found/, 'gone when delete returns')

      // The lab's round trip: apply, then delete -f with the Namespace first in the file.
      t.equal((await k('apply', '-f', YAOBANK)).code, 0, 'apply again')
      const del = await k('delete', '-f', YAOBANK)
      t.equal(del.code, 0, `delete -f exits 0: ${del.stderr}`)
      t.equal(del.stderr, '')
      const lines = del.stdout.trim().split('\n')
      t.equal(lines[0], 'namespace "yaobank" deleted')
      t.equal(lines.length, 10, 'one line per object')
      t.ok(
        lines.every((l) => / deleted$/.test(l)),
        'every object deleted',
      )
      t.ok(lines.includes('deployment.apps "customer" deleted'))
      const after = await k('get', 'ns', 'yaobank')
      t.match(after.stderr, /\(NotFound\)/, 'the namespace is gone once delete returns')
      const left = await k('get', 'deploy,svc,sa', '-n', 'yaobank', '-o', 'name')
      t.equal(left.stdout, '', 'nothing left in it')
    },
  )
}
