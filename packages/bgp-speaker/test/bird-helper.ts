/**
 * Runs real BIRD 2 on loopback with its own config, socket and pid file (test and bench helper),
 * and the speaker-side pieces the tests share: a listening speaker, `eventually`.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger, systemClock } from '@calilab/kit'
import type { Test } from 'tap'
import { createSpeaker, type Speaker } from '../src/index.ts'

export const BIRD = '/usr/sbin/bird'
export const BIRDC = '/usr/sbin/birdc'
export const haveBird = () => existsSync(BIRD) && existsSync(BIRDC)

export interface BirdOpts {
  localAddr: string
  localPort: number
  localAs: number
  peerAddr: string
  peerPort: number
  peerAs: number
  routes: string[]
  hold?: number
  passive?: boolean
}

export interface BirdHandle {
  dir: string
  pid: number
  birdc(cmd: string): string
  log(): string
  stop(): Promise<void>
}

/** A free TCP port on `host` (bound then released). */
export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen({ host, port: 0 }, () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}

export async function startBird(o: BirdOpts): Promise<BirdHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'calilab-bird-'))
  const hold = o.hold ?? 90
  const conf = `router id ${o.localAddr};
log "${dir}/bird.log" all;
protocol device { scan time 10; }
protocol static out4 {
  ipv4;
${o.routes.map((r) => `  route ${r} blackhole;`).join('\n')}
}
protocol bgp peer1 {
  local ${o.localAddr} port ${o.localPort} as ${o.localAs};
  neighbor ${o.peerAddr} port ${o.peerPort} as ${o.peerAs};
  strict bind yes;
  multihop;
  passive ${o.passive ? 'on' : 'off'};
  hold time ${hold};
  keepalive time ${Math.floor(hold / 3)};
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 10;
  ipv4 { import all; export where proto = "out4"; next hop self; };
}
`
  writeFileSync(join(dir, 'bird.conf'), conf)
  execFileSync(BIRD, ['-p', '-c', join(dir, 'bird.conf')])
  const ctl = join(dir, 'bird.ctl')
  const child = spawn(BIRD, ['-f', '-c', join(dir, 'bird.conf'), '-s', ctl, '-P', join(dir, 'bird.pid')], {
    stdio: 'ignore',
  })
  const pid = child.pid ?? 0
  for (let i = 0; i < 100 && !existsSync(ctl); i++) await new Promise((r) => setTimeout(r, 50))
  if (!existsSync(ctl)) {
    child.kill('SIGKILL')
    throw new Error(`bird did not start in ${dir}`)
  }
  return {
    dir,
    pid,
    birdc: (cmd) => {
      try {
        return execFileSync(BIRDC, ['-s', ctl, ...cmd.split(' ')], { encoding: 'utf8' })
      } catch (e) {
        return String(e)
      }
    },
    log: () => {
      try {
        return readFileSync(join(dir, 'bird.log'), 'utf8')
      } catch {
        return ''
      }
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        process.kill(pid, 'SIGTERM')
        const t = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 3000)
        await exited
        clearTimeout(t)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export async function eventually(fn: () => boolean, ms = 10_000, every = 50): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (fn()) return true
    await new Promise((r) => setTimeout(r, every))
  }
  return fn()
}

/** A speaker listening on `host`, port 0, with no peers yet; stopped at the test's teardown. */
export async function listeningSpeaker(
  t: Test,
  o: { routerId: string; asNumber: number; host: string },
): Promise<{ speaker: Speaker; port: number }> {
  const speaker = createSpeaker({
    routerId: o.routerId,
    asNumber: o.asNumber,
    listen: { host: o.host, port: 0 },
    clock: systemClock(),
    log: silentLogger(),
    peers: [],
  })
  t.teardown(() => speaker.stop())
  const port = (await speaker.start())?.port ?? 0
  return { speaker, port }
}
