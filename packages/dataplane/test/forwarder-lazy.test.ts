import { createRequire } from 'node:module'
import { sep } from 'node:path'
import t from 'tap'
import { InlineForwarder, WorkerForwarder } from '../src/forwarder/index.ts'

/** Whether piscina is in the module cache (an ESM import of it lands there too). */
const piscinaLoaded = (): boolean =>
  Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes(`${sep}piscina${sep}`))

t.test('piscina loads only when a WorkerForwarder is made, and the pool then works', async (t) => {
  const inline = new InlineForwarder()
  await inline.close()
  t.notOk(piscinaLoaded(), 'importing the forwarder and using the inline one loads no piscina')
  const workers = new WorkerForwarder({ threads: 1 })
  t.teardown(() => workers.close())
  t.ok(piscinaLoaded(), 'a worker forwarder loads it')
  t.equal(workers.threads, 1)
  t.same(await workers.process([new Uint8Array(20)]), [{ action: 'slow' }], 'no snapshot yet: slow path')
})
