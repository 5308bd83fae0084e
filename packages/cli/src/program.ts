import { Command, InvalidArgumentError, Option } from 'commander'
import { addCalicoctl } from './calicoctl/index.ts'
import { down } from './commands/down.ts'
import { execCommand } from './commands/exec.ts'
import { logs } from './commands/logs.ts'
import { probeCommand } from './commands/probe.ts'
import { sshCommand } from './commands/ssh.ts'
import { status } from './commands/status.ts'
import { traceCommand } from './commands/trace.ts'
import { typhaStatus } from './commands/typha.ts'
import { supervise, up } from './commands/up.ts'
import { CliError, err } from './io.ts'
import { addKubectl } from './kubectl/index.ts'
import { addRunCommand, runComponent } from './run/index.ts'

function intArg(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

function secondsArg(v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0 || n > 60) throw new InvalidArgumentError('must be a number of seconds (0-60)')
  return n
}

async function guard(fn: () => Promise<number> | number): Promise<void> {
  try {
    process.exitCode = await fn()
  } catch (e) {
    if (e instanceof CliError) {
      err(e.message)
      process.exitCode = e.exitCode
    } else {
      err(`error: ${(e as Error).stack ?? String(e)}`)
      process.exitCode = 1
    }
  }
}

/** The `calilab` command tree. */
export function buildProgram(): Command {
  const program = new Command('calilab')
    .description('An emulated Kubernetes cluster networked the way Project Calico networks a real one')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  calilab up                      start the lab (control, node1, node2, host1) with Calico installed
  calilab up --bare --detach      start without Calico, in the background (lab week 1)
  calilab status                  processes, PIDs, restarts, health
  calilab kubectl get nodes       the built-in kubectl (or: kubectl --kubeconfig .calilab/kubeconfig ...)
  calilab calicoctl get ippools   the built-in calicoctl
  calilab logs node --node node1  a process's log
  calilab down                    stop everything

State lives in $CALILAB_HOME or ./.calilab (data/, logs/, run/, kubeconfig).`,
    )

  program
    .command('up')
    .description('start a calilab cluster (supervisor + apiserver, typha, nodes, routers)')
    .option('--topology <file>', 'topology YAML (hosts, addresses, ports, pools)')
    .option('--nodes <n>', 'generate a topology with n nodes (control + node1..n-1, plus host1)', intArg)
    .option('--bare', 'install nothing: nodes stay NotReady until Calico is installed by hand')
    .option('-d, --detach', 'run the supervisor in the background and return once ready')
    .option('--home <dir>', 'state directory (default: $CALILAB_HOME or ./.calilab)')
    .option('--timeout <seconds>', 'how long to wait for the cluster to be ready', intArg, 60)
    .addOption(new Option('--calico <mode>', 'node --calico mode').choices(['installed', 'operator']).hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  calilab up                         the lab topology, Calico installed by the operator, foreground
  calilab up --detach                same, in the background
  calilab up --bare --detach         no Calico (follow lab step 1 to install it)
  calilab up --nodes 10 --detach     control + node1..node9 + host1
  calilab up --topology my-lab.yaml  addresses and ports from a file
  CALILAB_HOME=/tmp/lab2 calilab up --detach   a second instance elsewhere (use another topology/ports)

Running "up" again while a healthy instance runs for that home prints that and exits 0.`,
    )
    .action(
      (o: {
        topology?: string
        nodes?: number
        bare?: boolean
        detach?: boolean
        home?: string
        timeout?: number
        calico?: 'installed' | 'operator'
      }) => guard(() => up(o)),
    )

  program
    .command('supervise', { hidden: true })
    .description('the background supervisor a detached `up` starts (internal)')
    .option('--home <dir>')
    .option('--bare')
    .option('--timeout <seconds>', 'ready timeout', intArg)
    .addOption(new Option('--calico <mode>').choices(['installed', 'operator']))
    .action((o: { home?: string; bare?: boolean; timeout?: number; calico?: 'installed' | 'operator' }) =>
      guard(() => supervise(o)),
    )

  program
    .command('down')
    .description('stop the supervisor and every process it started (SIGTERM, then SIGKILL after a grace period)')
    .option('--home <dir>', 'state directory')
    .option('--grace <seconds>', 'seconds to wait before SIGKILL', intArg, 8)
    .addHelpText('after', '\nExample:\n  calilab down   (data in .calilab/data is kept; the next up starts from it)')
    .action((o: { home?: string; grace?: number }) => guard(() => down(o)))

  program
    .command('status')
    .description('the processes of this instance: COMPONENT NODE PID UPTIME RESTARTS HEALTH')
    .option('--home <dir>', 'state directory')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']))
    .addHelpText('after', '\nExample:\n  calilab status')
    .action((o: { home?: string; output?: string }) => guard(() => status(o)))

  program
    .command('logs')
    .description("print a process's log (.calilab/logs/<component>[-<node>].log)")
    .argument('<component>', 'supervisor, apiserver, typha-0, node, bgp-speaker')
    .option('--node <name>', 'which node (for node and bgp-speaker)')
    .option('-f, --follow', 'keep printing new lines')
    .option('--tail <n>', 'only the last n lines', (v) => Number.parseInt(v, 10))
    .option('--home <dir>', 'state directory')
    .addHelpText('after', '\nExamples:\n  calilab logs apiserver\n  calilab logs node --node node1 -f')
    .action((component: string, o: { home?: string; node?: string; follow?: boolean; tail?: number }) =>
      guard(() => logs(component, o)),
    )

  program
    .command('typha')
    .description('Typha fan-out: replicas, caches, clients')
    .command('status')
    .description('every Typha replica (IN-SYNC REVISION ENTRIES CLIENTS ... LAG-DISCONNECTS), then its clients')
    .option('--home <dir>', 'state directory')
    .option('--interval <seconds>', 'window over which DELTAS/S is measured', secondsArg, 1)
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']))
    .addHelpText('after', '\nExamples:\n  calilab typha status\n  calilab typha status -o json')
    .action((o: { home?: string; output?: string; interval?: number }) => guard(() => typhaStatus(o)))

  program
    .command('trace')
    .description(
      'walk a packet through the policy path (source node, then the destination node) and say why it is allowed or denied',
    )
    .argument('<from>', "pod, deploy/NAME, node or IP (outside the cluster: starts on eth0 of TO's node)")
    .argument('<to>', 'TO:PORT[/tcp|udp] or TO/icmp')
    .option('-n, --namespace <ns>', 'namespace')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']))
    .option('--home <dir>', 'state directory')
    .option('--kubeconfig <file>', 'kubeconfig (default: the calilab home one)')
    .option('-s, --server <url>', 'API server URL')
    .addHelpText(
      'after',
      '\nExit status 0 when the packet is allowed, 1 when denied or dropped; -o json gives one entry per node crossed.\n\nExamples:\n  calilab trace -n yaobank deploy/customer database:2379\n  calilab trace node1 198.19.0.1/icmp\n  calilab trace 198.19.15.254 control:30180   (host1 -> a NodePort)',
    )
    .action((from: string, to: string, o: Parameters<typeof traceCommand>[2]) => guard(() => traceCommand(from, to, o)))

  program
    .command('probe')
    .description('run a pods x pods x ports matrix of connections and print the truth table')
    .option('-n, --namespace <ns>', 'namespace')
    .option('-f, --file <yaml>', 'probe file (from, to, ports, expected)')
    .option('--from <pods>', 'comma-separated pods')
    .option('--to <pods>', 'comma-separated pods (default: --from)')
    .option('--ports <list>', 'e.g. 2379,53/udp,icmp')
    .option('--timeout <ms>', 'per probe', Number)
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']))
    .option('--home <dir>', 'state directory')
    .option('--kubeconfig <file>', 'kubeconfig (default: the calilab home one)')
    .option('-s, --server <url>', 'API server URL')
    .addHelpText(
      'after',
      '\nExamples:\n  calilab probe -n yaobank --from deploy/customer,deploy/summary --to deploy/database --ports 2379\n  calilab probe -f matrix.yaml',
    )
    .action((o: Parameters<typeof probeCommand>[0]) => guard(() => probeCommand(o)))

  program
    .command('ssh')
    .description("run a command (or a shell) on a node's host, like ssh NODE")
    .argument('<node>', 'control, node1, node2, host1...')
    .argument('[command...]', 'the command, after --')
    .option('--home <dir>', 'state directory')
    .option('--kubeconfig <file>', 'kubeconfig (default: the calilab home one)')
    .option('-s, --server <url>', 'API server URL')
    .addHelpText(
      'after',
      '\nExamples:\n  calilab ssh node1 -- ip route\n  calilab ssh host1 -- curl 198.19.0.1:30180\n  calilab ssh control',
    )
    .action((node: string, command: string[], o: { home?: string; kubeconfig?: string; server?: string }) =>
      guard(() => sshCommand(node, command, o)),
    )

  program
    .command('exec')
    .description("run a command in a pod's container (kubectl exec over the same WebSocket protocol)")
    .argument('<pod>', 'POD or deploy/NAME')
    .argument('[command...]', 'the command, after --')
    .option('-n, --namespace <ns>', 'namespace')
    .option('-c, --container <name>', 'container')
    .option('-i, --stdin', 'pass stdin to the container')
    .option('-t, --tty', 'stdin is a TTY')
    .option('--home <dir>', 'state directory')
    .option('--kubeconfig <file>', 'kubeconfig (default: the calilab home one)')
    .option('-s, --server <url>', 'API server URL')
    .addHelpText(
      'after',
      '\nExamples:\n  calilab exec -n yaobank deploy/customer -- curl http://database:2379/v2/keys?recursive=true\n  calilab exec -ti -n yaobank customer-xxx -- /bin/bash',
    )
    .action(
      (
        pod: string,
        command: string[],
        o: {
          namespace?: string
          container?: string
          stdin?: boolean
          tty?: boolean
          home?: string
          kubeconfig?: string
          server?: string
        },
      ) => guard(() => execCommand(pod, command, o)),
    )

  addRunCommand(program, runComponent)
  addKubectl(program)
  addCalicoctl(program)
  return program
}

export async function runCli(argv: readonly string[]): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (e) {
    if (e instanceof CliError) {
      err(e.message)
      process.exitCode = e.exitCode
    } else throw e
  }
}
