import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseReadyLine } from '@calilab/kit'
import t from 'tap'

const MAIN = resolve(import.meta.dirname, '../src/main.ts')

/** Starts `runApiServer` as its own process and waits for its ready line. */
function start(dataDir: string): Promise<{ child: ChildProcess; url: string; pid: number }> {
  const code = `import(${JSON.stringify(MAIN)}).then((m) => m.runApiServer({ port: 0, dataDir: ${JSON.stringify(dataDir)}, fsync: false, logLevel: 'warn' }))`
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((done, fail) => {
    let out = ''
    const timer = setTimeout(() => fail(new Error(`no ready line: ${out}`)), 20_000)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString('utf8')
      for (const line of out.split('\n')) {
        const ready = parseReadyLine(line)
        if (ready) {
          clearTimeout(timer)
          done({ child, url: String(ready['url']), pid: Number(ready['pid']) })
        }
      }
    })
    child.on('exit', (c) => fail(new Error(`exited ${c}: ${out}`)))
  })
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => child.once('exit', (c) => r(c)))
}

t.test('runApiServer: ready line, durable data dir, clean SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'calilab-apiserver-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const a = await start(dir)
  t.teardown(() => a.child.kill('SIGKILL'))
  t.equal(a.pid, a.child.pid)
  t.match(a.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const created = await fetch(`${a.url}/api/v1/namespaces/default/configmaps`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ metadata: { name: 'kept' }, data: { k: 'v' } }),
  })
  t.equal(created.status, 201)
  const gone = exited(a.child)
  a.child.kill('SIGTERM')
  t.equal(await gone, 0, 'exits 0 on SIGTERM')

  const b = await start(dir)
  t.teardown(() => b.child.kill('SIGKILL'))
  const got = await fetch(`${b.url}/api/v1/namespaces/default/configmaps/kept`)
  t.equal(got.status, 200)
  t.same(((await got.json()) as { data: unknown }).data, { k: 'v' })
  const ns = (await (await fetch(`${b.url}/api/v1/namespaces`)).json()) as { items: unknown[] }
  t.equal(ns.items.length, 4, 'bootstrap does not duplicate built-ins on restart')
  const stop = exited(b.child)
  b.child.kill('SIGTERM')
  t.equal(await stop, 0)
})
