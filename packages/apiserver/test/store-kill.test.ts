import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { seededRng, silentLogger } from '@calilab/kit'
import t from 'tap'
import { openDurableStore } from '../src/io/store/durable-store.ts'

const WRITER = fileURLToPath(new URL('./fixtures/store-writer.ts', import.meta.url))
const ROUNDS = 12

interface KeyState {
  exists: boolean
  value: string | undefined
  rev: number
}
interface Op {
  op: 'create' | 'update' | 'delete'
  key: string
  value: string
}

/** Runs the writer until SIGKILLed `killAfterMs` after its ready line; returns its complete lines. */
function runWriter(
  dir: string,
  run: number,
  seed: number,
  killAfterMs: number,
): Promise<{ lines: string[]; code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(run), String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    let timer: NodeJS.Timeout | undefined
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (d: string) => (err += d))
    child.stdout.on('data', (d: string) => {
      out += d
      if (!timer && out.includes('READY')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(guard)
      if (timer) clearTimeout(timer)
      if (signal !== 'SIGKILL')
        return reject(new Error(`writer exited ${code}/${signal}: ${out.slice(-500)} ${err.slice(-2000)}`))
      const lines = out.split('\n')
      lines.pop() // possibly partial
      resolve({ lines, code, signal })
    })
  })
}

t.test('kill loop: every acknowledged write survives SIGKILL', async (t) => {
  const seed = Number(process.env.CALILAB_SEED ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed} (replay with CALILAB_SEED=${seed})`)
  const rng = seededRng(seed)
  const dir = mkdtempSync(join(tmpdir(), 'calilab-kill-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  const model = new Map<string, KeyState>()
  let floor = 0 // every new ack must have a revision above this
  let totalAcks = 0
  let inFlightApplied = 0
  let inFlightDropped = 0

  for (let run = 1; run <= ROUNDS; run++) {
    const killAfter = rng.int(5) === 0 ? rng.int(20) : 20 + rng.int(350)
    const { lines } = await runWriter(dir, run, seed + run, killAfter)
    const intents = new Map<string, Op[]>()
    for (const line of lines) {
      const [kind, id, rest] = line.split(' ')
      if (kind === 'READY') {
        t.equal(Number(id), floor, `run ${run}: reopened at the last revision`)
      } else if (kind === 'I') {
        intents.set(
          id as string,
          (rest as string).split(',').map((d) => {
            const [op, key, value] = d.split(':') as [Op['op'], string, string]
            return { op, key, value }
          }),
        )
      } else if (kind === 'A') {
        const ops = intents.get(id as string)
        const rev = Number(rest)
        if (!ops) throw new Error(`ack without intent: ${line}`)
        if (rev <= floor) t.fail(`run ${run}: ack ${id} at revision ${rev} not above ${floor}`)
        floor = rev + ops.length - 1
        for (const [i, o] of ops.entries()) {
          model.set(o.key, { exists: o.op !== 'delete', value: o.op === 'delete' ? undefined : o.value, rev: rev + i })
        }
        intents.delete(id as string)
        totalAcks++
      } else if (kind === 'E') {
        t.fail(`writer error: ${line}`)
      }
    }

    const store = await openDurableStore({ dir, log: silentLogger() })
    let bad = 0
    t.ok(store.revision >= floor, `run ${run}: store revision ${store.revision} >= last ack ${floor}`)
    // Commits in flight at the kill: each is applied whole or not at all.
    const unacked = new Map<string, string>() // key -> commit id
    for (const [id, ops] of intents) {
      const applied = ops.map((o) => {
        const cur = store.get(o.key)
        return o.op === 'delete'
          ? cur === undefined
          : (cur as { data?: { v?: string } } | undefined)?.data?.v === o.value
      })
      const all = applied.every(Boolean)
      const none = applied.every((a) => !a)
      if (!all && !none) {
        bad++
        t.fail(`run ${run}: commit ${id} half-applied: ${JSON.stringify(ops)} -> ${JSON.stringify(applied)}`)
      }
      if (all) inFlightApplied++
      else inFlightDropped++
      for (const o of ops) unacked.set(o.key, id)
    }
    // Every acknowledged write that no in-flight commit touched is there, at its revision.
    for (const [k, want] of model) {
      if (unacked.has(k)) continue
      const cur = store.get(k) as { data?: { v?: string }; metadata: { resourceVersion?: string } } | undefined
      const ok = want.exists
        ? cur?.data?.v === want.value && cur?.metadata.resourceVersion === String(want.rev)
        : cur === undefined
      if (!ok) {
        bad++
        t.fail(`run ${run}: ${k} expected ${JSON.stringify(want)} got ${JSON.stringify(cur)}`)
      }
    }
    // No key the model does not know about.
    const all = store.list('/')
    for (const [i, k] of (all.keys ?? []).entries()) {
      if (!model.has(k) && !unacked.has(k)) {
        bad++
        t.fail(`run ${run}: unexpected key ${k} = ${JSON.stringify(all.items[i])}`)
      }
    }
    t.equal(bad, 0, `run ${run}: ${lines.length} lines, ${intents.size} in flight at the kill, state consistent`)
    // The next run starts from what is on disk.
    for (const k of new Set([...model.keys(), ...unacked.keys()])) {
      const cur = store.get(k) as { data?: { v?: string }; metadata: { resourceVersion?: string } } | undefined
      model.set(k, { exists: cur !== undefined, value: cur?.data?.v, rev: Number(cur?.metadata.resourceVersion ?? 0) })
    }
    floor = store.revision
    await store.close()
  }
  t.ok(totalAcks > ROUNDS * 5, `${totalAcks} acknowledged commits over ${ROUNDS} kills`)
  t.comment(`acks ${totalAcks}, in flight at kill: ${inFlightApplied} landed, ${inFlightDropped} dropped`)
})
