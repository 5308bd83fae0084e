import { Command, InvalidArgumentError, Option } from 'commander'
import { CliError } from '../io.ts'

/** What one `calilab run <component>` invocation parsed to (used by the dry-run parse too). */
export interface RunInvocation {
  component: 'apiserver' | 'typha' | 'node' | 'bgp-speaker'
  options: Record<string, unknown>
  /** The argv handed to the component's own entry (its flags, unchanged). */
  forward: string[]
}

export type RunHandler = (inv: RunInvocation) => Promise<void>

function portArg(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535')
  return n
}

function ipArg(v: string): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(v) || v.split('.').some((o) => Number(o) > 255)) {
    throw new InvalidArgumentError('must be an IPv4 address')
  }
  return v
}

function urlArg(v: string): string {
  try {
    const u = new URL(v)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme')
    return v
  } catch {
    throw new InvalidArgumentError('must be an http(s) URL, e.g. http://127.0.0.1:6443')
  }
}

function cidrArg(v: string): string {
  const [ip, len] = v.split('/')
  if (ip === undefined || len === undefined || !/^\d{1,2}$/.test(len) || Number(len) > 32) {
    throw new InvalidArgumentError('must be a CIDR, e.g. 198.19.16.0/26')
  }
  ipArg(ip)
  return v
}

function asArg(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 4294967295)
    throw new InvalidArgumentError('must be an AS number 1-4294967295')
  return n
}

/** Flags passed through to the component entry, in the order given. */
function forwardOf(cmd: Command): string[] {
  const out: string[] = []
  const opts = cmd.opts() as Record<string, unknown>
  for (const o of cmd.options) {
    const key = o.attributeName()
    const v = opts[key]
    if (v === undefined || o.long === undefined) continue
    if (typeof v === 'boolean') {
      if (v) out.push(o.long)
    } else out.push(o.long, String(v))
  }
  return out
}

/**
 * The packages a `run` may start, each behind a literal `import()` so a bundler sees (and splits)
 * them: a node process loads the node agent, not the API server.
 */
const ENTRIES = {
  '@calilab/apiserver': () => import('@calilab/apiserver'),
  '@calilab/typha': () => import('@calilab/typha'),
  '@calilab/bgp-speaker': () => import('@calilab/bgp-speaker'),
  '@calilab/node-agent': () => import('@calilab/node-agent'),
} as const

async function loadEntry<T>(pkg: keyof typeof ENTRIES, name: string): Promise<T> {
  let mod: Record<string, unknown>
  try {
    mod = (await ENTRIES[pkg]()) as Record<string, unknown>
  } catch (e) {
    throw new CliError(`cannot load ${pkg}: ${(e as Error).message}`)
  }
  const fn = mod[name]
  if (typeof fn !== 'function') throw new CliError(`${pkg} does not export ${name}(); this component cannot run`)
  return fn as T
}

interface ApiServerRunConfig {
  host?: string
  port?: number
  dataDir?: string
  logLevel?: string
  serviceCidr?: string
}

/** The default handler: starts the real component in this process. */
export const runComponent: RunHandler = async (inv) => {
  switch (inv.component) {
    case 'apiserver': {
      const run = await loadEntry<(c: ApiServerRunConfig) => Promise<unknown>>('@calilab/apiserver', 'runApiServer')
      const o = inv.options
      const config: ApiServerRunConfig = {
        host: String(o['host']),
        port: Number(o['port']),
        dataDir: String(o['dataDir']),
      }
      if (typeof o['logLevel'] === 'string') config.logLevel = o['logLevel']
      if (typeof o['serviceCidr'] === 'string') config.serviceCidr = o['serviceCidr']
      await run(config)
      return
    }
    case 'node': {
      const run = await loadEntry<(argv: string[]) => Promise<{ close(): Promise<void> }>>(
        '@calilab/node-agent',
        'runNode',
      )
      const node = await run(inv.forward)
      const stop = () => {
        node.close().then(
          () => process.exit(0),
          () => process.exit(1),
        )
      }
      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
      return
    }
    case 'typha': {
      const run = await loadEntry<(argv: string[]) => Promise<{ close(): Promise<void> }>>('@calilab/typha', 'runTypha')
      const typha = await run(inv.forward)
      const stop = () => {
        typha.close().then(
          () => process.exit(0),
          () => process.exit(1),
        )
      }
      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
      return
    }
    case 'bgp-speaker': {
      // --kernel: host1 as an emulated host (kernel, underlay, internet, exec) around the speaker.
      const run = inv.options['kernel']
        ? await loadEntry<(argv: string[]) => Promise<{ close(): Promise<void> }>>(
            '@calilab/node-agent',
            'runRouterHost',
          )
        : await loadEntry<(argv: string[]) => Promise<{ close(): Promise<void> }>>('@calilab/bgp-speaker', 'runSpeaker')
      const speaker = await run(inv.forward)
      const stop = () => {
        speaker.close().then(
          () => process.exit(0),
          () => process.exit(1),
        )
      }
      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
      return
    }
  }
}

/** Adds `run <component>` to a program; `handler` decides what a parsed invocation does. */
export function addRunCommand(program: Command, handler: RunHandler): Command {
  const run = program
    .command('run')
    .description('run one calilab process in the foreground (what `calilab up` and docker compose start)')
    .addHelpText(
      'after',
      `
Examples:
  calilab run apiserver --host 127.0.0.1 --port 6443 --data-dir .calilab/data
  calilab run node --name control --ip 198.19.0.1 --endpoint 127.0.1.1 --role control \\
      --calico operator --pod-block 198.19.16.0/26 --apiserver http://127.0.0.1:6443
  calilab run typha --apiserver http://127.0.0.1:6443 --port 5473
  calilab run bgp-speaker --name host1 --ip 198.19.15.254 --endpoint 127.0.1.254 --as 64512

Each process prints one line CALILAB_READY {...} on stdout when it is serving.`,
    )

  const apiserver = run
    .command('apiserver')
    .description('the Kubernetes/Calico API server with its controllers and durable store')
    .option('--host <ip>', 'address to listen on', ipArg, '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = ephemeral)', portArg, 6443)
    .requiredOption('--data-dir <dir>', 'directory for the durable store (write-ahead log + snapshot)')
    .option('--service-cidr <cidr>', 'service cluster IP range', cidrArg)
    .option('--log-level <level>', 'pino log level')
  apiserver.action(async () => {
    await handler({ component: 'apiserver', options: apiserver.opts(), forward: forwardOf(apiserver) })
  })

  const typha = run
    .command('typha')
    .description('a Typha replica: one watch on the API server, fanned out to the node agents')
    .requiredOption('--apiserver <url>', 'API server URL', urlArg)
    .option('--host <ip>', 'address to listen on', ipArg, '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = ephemeral)', portArg, 5473)
    .option('--metrics-port <port>', 'port of /metrics, /status and /healthz (0 = ephemeral)', portArg, 0)
    .option('--index <n>', 'replica index', (v) => Number(v), 0)
    .option('--max-queue-bytes <n>', 'cut a client whose unsent data exceeds this', (v) => Number(v))
    .option('--max-lag-revisions <n>', 'cut a client this many revisions behind', (v) => Number(v))
    .option('--server-cert <file>', 'TLS: server certificate (PEM); with --server-key and --ca enables mutual TLS')
    .option('--server-key <file>', 'TLS: server key (PEM)')
    .option('--ca <file>', 'TLS: CA that signs client certificates')
    .option('--client-cn <name>', 'TLS: the common name client certificates must carry')
    .option('--log-level <level>', 'pino log level')
  typha.action(async () => {
    await handler({ component: 'typha', options: typha.opts(), forward: forwardOf(typha) })
  })

  const node = run
    .command('node')
    .description('one emulated node (calico-node: Felix-like agent, CNI/kubelet roles, kernel, BGP)')
    .requiredOption('--name <name>', 'node name (control, node1, ...)')
    .requiredOption('--ip <ip>', 'emulated node IP', ipArg)
    .requiredOption('--endpoint <ip>', 'real loopback address its sockets bind to', ipArg)
    .addOption(new Option('--role <role>', 'node role').choices(['control', 'worker']).makeOptionMandatory())
    .addOption(
      new Option('--calico <mode>', 'how Calico reaches the node: installed, or by the operator')
        .choices(['installed', 'operator'])
        .default('operator'),
    )
    .requiredOption('--pod-block <cidr>', "the node's pod block", cidrArg)
    .requiredOption('--apiserver <url>', 'API server URL', urlArg)
    .option('--typha <addrs>', 'Typha replicas, HOST:PORT[,HOST:PORT...] (the agent picks one, moves on failure)')
    .addOption(
      new Option(
        '--syncer <source>',
        'where the agent reads the datastore: typha (default when --typha is given) or direct',
      ).choices(['typha', 'direct']),
    )
    .option('--underlay-port <port>', 'underlay UDP port on the endpoint (0 = ephemeral)', portArg)
    .option('--gateway <ip>', 'default gateway on eth0 (the external router, host1)', ipArg)
    .option('--gateway-endpoint <host:port>', "the gateway's real underlay endpoint")
    .addOption(
      new Option(
        '--routing <mode>',
        'routes to other nodes: learned over BGP (bgp) or static from IPAM blocks',
      ).choices(['bgp', 'static']),
    )
    .option('--bgp-port <port>', "the node's BGP port on the endpoint (0 = ephemeral; default 1790)", portArg)
    .option('--bgp-endpoints <list>', 'real BGP endpoints of peers that are no node, IP=HOST:PORT[,...] (host1)')
  node.action(async () => {
    await handler({ component: 'node', options: node.opts(), forward: forwardOf(node) })
  })

  const speaker = run
    .command('bgp-speaker')
    .description('a standalone BGP speaker in router mode, e.g. the external router host1')
    .requiredOption('--name <name>', 'host name')
    .requiredOption('--ip <ip>', 'emulated IP', ipArg)
    .requiredOption('--endpoint <ip>', 'real loopback address', ipArg)
    .option('--as <asn>', 'AS number', asArg, 64512)
    .option('--port <port>', 'BGP port on the endpoint', portArg, 1790)
    .option('--apiserver <url>', 'API server URL (peers = the nodes it lists, when --peers is not given)', urlArg)
    .option('--peers <list>', 'peers, [NAME=][NODEIP@]HOST:PORT[,...] (HOST:PORT = real endpoint)')
    .option('--control-port <port>', 'HTTP control port for /ip-route, /birdc, /status (0 = ephemeral)', portArg, 0)
    .option('--filter <rules>', "import filter, CIDR (exact) / CIDR+ (or longer) / !CIDR, comma separated, or 'all'")
    .option('--originate <cidrs>', 'prefixes to announce (comma separated; a router exports none by default)')
    .option('--subnet <cidr>', 'connected subnet shown in ip route (default: --ip/20)', cidrArg)
    .option('--connect-retry <s>', 'BGP connect retry time in seconds')
    .option('--hold-time <s>', 'BGP hold time in seconds (default 240)')
    .option('--log-level <level>', 'pino log level')
    .option('--passive', 'never dial peers; wait for them to connect')
    .option('--kernel', 'also run an emulated kernel for this host (underlay, routes in ip route, the internet, ssh)')
    .option('--underlay-port <port>', 'with --kernel: underlay UDP port on the endpoint', portArg)
    .option('--exec-port <port>', 'with --kernel: port of the exec endpoint (calilab ssh)', portArg)
  speaker.action(async () => {
    await handler({ component: 'bgp-speaker', options: speaker.opts(), forward: forwardOf(speaker) })
  })
  return run
}

/**
 * Parses `run ...` argv without running anything (docker-compose checks, tests). Throws a
 * CliError with commander's message when the invocation is invalid.
 */
export async function parseRunInvocation(argv: readonly string[]): Promise<RunInvocation> {
  let got: RunInvocation | undefined
  const program = new Command('calilab').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} })
  addRunCommand(program, async (inv) => {
    got = inv
  })
  for (const c of program.commands) {
    c.exitOverride()
    for (const s of c.commands) s.exitOverride()
  }
  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (e) {
    throw new CliError(`invalid calilab invocation: ${(e as Error).message}`)
  }
  if (!got) throw new CliError('invalid calilab invocation: not a `run <component>` command')
  return got
}
