import type { KubeObject } from '@calilab/model'
import { type Command, Option } from 'commander'
import { type ExecCliOpts, execCommand } from '../commands/exec.ts'
import { CliError, err, out } from '../io.ts'
import type { KubeClient } from '../kube.ts'
import { formatTable } from '../table.ts'
import { connect, isNotFound, serverErrorLine } from './client.ts'
import { type ApiResource, Discovery, pluralRef, typeRef } from './discovery.ts'
import { get } from './get.ts'
import { logs } from './logs.ts'
import { readManifests } from './manifests.ts'
import { type ApplyProgress, applyOne, createOne, deleteOne, replaceOne, targetOf } from './ops.ts'
import { rollout } from './rollout.ts'
import { type Deleted, waitDeleted } from './wait.ts'

type Action = (ctx: Ctx, args: string[], opts: Record<string, unknown>) => Promise<number>

interface Ctx {
  client: KubeClient
  namespace: string
  /** -n given explicitly */
  nsFlag: string | undefined
  discovery(): Promise<Discovery>
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v]
}

function wrap(cmd: Command, action: Action): void {
  cmd.action(async (...a: unknown[]) => {
    const self = a[a.length - 1] as Command
    const g = self.optsWithGlobals() as Record<string, unknown>
    const args = self.args
    const conn = connect({
      ...(typeof g['kubeconfig'] === 'string' ? { kubeconfig: g['kubeconfig'] } : {}),
      ...(typeof g['server'] === 'string' ? { server: g['server'] } : {}),
      ...(typeof g['home'] === 'string' ? { home: g['home'] } : {}),
    })
    let disc: Discovery | undefined
    const nsFlag = typeof g['namespace'] === 'string' ? g['namespace'] : undefined
    const ctx: Ctx = {
      client: conn.client,
      namespace: nsFlag ?? conn.namespace,
      nsFlag,
      discovery: async () => (disc ??= await Discovery.load(conn.client)),
    }
    try {
      process.exitCode = await action(ctx, args, g)
    } catch (e) {
      err(serverErrorLine(e))
      process.exitCode = e instanceof CliError ? e.exitCode : 1
    } finally {
      conn.client.close()
    }
  })
}

function resolveOrFail(d: Discovery, t: string): ApiResource {
  const r = d.resolve(t)
  if (!r) throw new CliError(`error: the server doesn't have a resource type "${t}"`)
  return r
}

/** TYPE NAME... or TYPE/NAME... */
function typeAndNames(d: Discovery, args: string[]): { r: ApiResource; name: string }[] {
  if (args.length === 0) throw new CliError('error: you must specify the type of resource and a name')
  if (args[0]?.includes('/')) {
    return args.map((a) => {
      const [t, n] = a.split('/') as [string, string]
      return { r: resolveOrFail(d, t), name: n }
    })
  }
  const r = resolveOrFail(d, args[0] ?? '')
  return args.slice(1).map((name) => ({ r, name }))
}

type FileVerb = 'apply' | 'create' | 'replace' | 'delete'

async function fromFiles(ctx: Ctx, verb: FileVerb, files: string[], wait = false): Promise<number> {
  const manifests = readManifests(files)
  const d = await ctx.discovery()
  const deleted: Deleted[] = []
  let code = 0
  for (const m of manifests) {
    const progress: ApplyProgress = {}
    try {
      const t = targetOf(d, m, ctx.namespace, ctx.nsFlag)
      if (verb === 'apply') out(`${t.ref} ${await applyOne(ctx.client, t, m.object, progress)}`)
      else if (verb === 'create') {
        await createOne(ctx.client, t, m.object)
        out(`${t.ref} created`)
      } else if (verb === 'replace') {
        await replaceOne(ctx.client, t, m.object)
        out(`${t.ref} replaced`)
      } else {
        try {
          const gone = await deleteOne(ctx.client, t)
          out(`${typeRef(t.resource)} "${t.name}" deleted`)
          deleted.push({
            path: Discovery.path(t.resource, t.namespace, t.name),
            uid: gone?.metadata?.uid,
            ref: `${pluralRef(t.resource)}/${t.name}`,
          })
        } catch (e) {
          if (isNotFound(e)) {
            err(
              `Error from server (NotFound): error when deleting "${m.source}": ${pluralRef(t.resource)} "${t.name}" not found`,
            )
            code = 1
          } else throw e
        }
      }
    } catch (e) {
      code = 1
      const what =
        verb === 'apply'
          ? `error when ${progress.step ?? 'applying patch'}`
          : `error when ${verb === 'create' ? 'creating' : verb === 'replace' ? 'replacing' : 'deleting'}`
      const ke = e as { status?: { reason?: string; message?: string } }
      if (ke.status)
        err(`Error from server (${ke.status.reason || 'Unknown'}): ${what} "${m.source}": ${ke.status.message}`)
      else err(serverErrorLine(e))
    }
  }
  return finishDeletes(ctx, wait ? deleted : [], code)
}

/** Waits for what was deleted to be gone (kubectl's --wait, on by default); 1 on timeout. */
async function finishDeletes(ctx: Ctx, deleted: Deleted[], code: number): Promise<number> {
  const timedOut = await waitDeleted(ctx.client, deleted)
  if (timedOut === undefined) return code
  err(timedOut)
  return 1
}

function fileOption(cmd: Command, what: string): Command {
  return cmd.option(
    '-f, --filename <path>',
    `file, directory or - (stdin) with the objects to ${what}; repeatable`,
    collect,
  )
}

/** Adds `kubectl` and its subcommands. */
export function addKubectl(program: Command): Command {
  const k = program
    .command('kubectl')
    .description('a built-in kubectl (subset) talking to the calilab API server')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: <home>/kubeconfig)')
    .option('-s, --server <url>', 'API server URL (overrides the kubeconfig)')
    .option('-n, --namespace <ns>', 'namespace (default: the kubeconfig context namespace, default)')
    .option('--home <dir>', 'calilab home (default: $CALILAB_HOME or ./.calilab)')
    .addHelpText(
      'after',
      `
Examples:
  calilab kubectl get nodes
  calilab kubectl get pods -n yaobank -o wide
  calilab kubectl apply -f yaobank.yaml
  calilab kubectl rollout status -n yaobank deployment/customer
  calilab kubectl label serviceaccount -n yaobank customer internet-egress=allowed

Real kubectl works too: kubectl --kubeconfig .calilab/kubeconfig get nodes`,
    )

  const getCmd = k
    .command('get')
    .description('list resources as tables (or yaml/json/name)')
    .argument('<type>', 'type[,type] or type/name')
    .argument('[names...]')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-l, --selector <selector>', 'label selector, e.g. app=customer')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json', 'wide', 'name']))
    .option('--show-labels', 'add a LABELS column')
    .addHelpText(
      'after',
      '\nExamples:\n  calilab kubectl get pods,svc -n yaobank\n  calilab kubectl get pod/customer-abc -o yaml\n  calilab kubectl get nodes --show-labels',
    )
  wrap(getCmd, async (ctx, args, o) =>
    get(ctx.client, await ctx.discovery(), args, {
      namespace: ctx.namespace,
      ...(o['allNamespaces'] ? { allNamespaces: true } : {}),
      ...(typeof o['selector'] === 'string' ? { selector: o['selector'] } : {}),
      ...(typeof o['output'] === 'string' ? { output: o['output'] } : {}),
      ...(o['showLabels'] ? { showLabels: true } : {}),
    }),
  )

  for (const verb of ['apply', 'create', 'replace'] as const) {
    const c = fileOption(
      k
        .command(verb)
        .description(
          verb === 'apply'
            ? 'create or update objects from files (client-side apply: last-applied-configuration)'
            : verb === 'create'
              ? 'create objects from files'
              : 'replace objects from files',
        ),
      verb,
    )
      .option('--validate <bool>', "accepted for compatibility (validation is the server's)")
      .addHelpText(
        'after',
        `\nExample:\n  calilab kubectl ${verb} -f yaobank.yaml\n  cat x.yaml | calilab kubectl ${verb} -f -`,
      )
    wrap(c, async (ctx, _a, o) => fromFiles(ctx, verb, (o['filename'] as string[] | undefined) ?? []))
  }

  const del = fileOption(
    k.command('delete').description('delete objects by file, by type and name, or by label'),
    'delete',
  )
    .argument('[type]', 'resource type (or type/name)')
    .argument('[names...]')
    .option('-l, --selector <selector>', 'delete what matches this label selector')
    .option('--all', 'delete every object of the type in the namespace')
    .option('--wait <bool>', 'wait until the objects are gone (default true, as kubectl)')
    .addHelpText(
      'after',
      '\nExamples:\n  calilab kubectl delete -f nginx.yaml\n  calilab kubectl delete pod -n yaobank -l app=customer\n  calilab kubectl delete ns external-ns',
    )
  wrap(del, async (ctx, args, o) => {
    const files = o['filename'] as string[] | undefined
    const wait = o['wait'] !== 'false'
    if (files?.length) return fromFiles(ctx, 'delete', files, wait)
    const d = await ctx.discovery()
    let targets: { r: ApiResource; name: string }[]
    if ((typeof o['selector'] === 'string' || o['all']) && args.length >= 1) {
      const r = resolveOrFail(d, args[0] ?? '')
      const list = await ctx.client.list<KubeObject>(
        Discovery.path(r, ctx.namespace),
        typeof o['selector'] === 'string' ? { labelSelector: o['selector'] } : {},
      )
      if (list.items.length === 0) {
        err(r.namespaced ? `No resources found in ${ctx.namespace} namespace.` : 'No resources found')
        return 0
      }
      targets = list.items.map((i) => ({ r, name: i.metadata.name ?? '' }))
    } else {
      targets = typeAndNames(d, args)
      if (targets.length === 0) throw new CliError('error: resource(s) were provided, but no name was specified')
    }
    let code = 0
    const deleted: Deleted[] = []
    for (const t of targets) {
      try {
        const path = Discovery.path(t.r, ctx.namespace, t.name)
        const gone = await ctx.client.delete<KubeObject | undefined>(path, { propagationPolicy: 'Background' })
        out(`${typeRef(t.r)} "${t.name}" deleted`)
        deleted.push({ path, uid: gone?.metadata?.uid, ref: `${pluralRef(t.r)}/${t.name}` })
      } catch (e) {
        code = 1
        if (isNotFound(e)) err(`Error from server (NotFound): ${pluralRef(t.r)} "${t.name}" not found`)
        else err(serverErrorLine(e))
      }
    }
    return finishDeletes(ctx, wait ? deleted : [], code)
  })

  const patch = k
    .command('patch')
    .description('patch one object (strategic merge by default, or --type merge|json)')
    .argument('<type|type/name>')
    .argument('[name]')
    .requiredOption('-p, --patch <json>', 'the patch (JSON or YAML)')
    .addOption(new Option('--type <type>', 'patch type').choices(['strategic', 'merge', 'json']).default('strategic'))
    .addHelpText(
      'after',
      `\nExample:\n  calilab kubectl patch svc -n yaobank customer -p '{"spec":{"externalIPs":["198.19.48.10"]}}'`,
    )
  wrap(patch, async (ctx, args, o) => {
    const d = await ctx.discovery()
    const [t] = typeAndNames(d, args)
    if (!t) throw new CliError('error: you must specify a name to patch')
    let body: unknown
    try {
      body = JSON.parse(String(o['patch']))
    } catch {
      const { parse } = await import('yaml')
      body = parse(String(o['patch']))
    }
    const path = Discovery.path(t.r, ctx.namespace, t.name)
    let before: KubeObject
    try {
      before = await ctx.client.get<KubeObject>(path)
    } catch (e) {
      if (isNotFound(e)) throw new CliError(`Error from server (NotFound): ${pluralRef(t.r)} "${t.name}" not found`)
      throw e
    }
    const after = await ctx.client.patch<KubeObject>(path, body, o['type'] as 'strategic' | 'merge' | 'json')
    const same = after.metadata.resourceVersion === before.metadata.resourceVersion
    out(`${typeRef(t.r)}/${t.name} patched${same ? ' (no change)' : ''}`)
    return 0
  })

  const label = k
    .command('label')
    .description('add, change (--overwrite) or remove (key-) labels')
    .argument('<type|type/name>')
    .argument('[args...]', 'NAME... then key=value or key-')
    .option('--overwrite', 'allow changing an existing label')
    .addHelpText(
      'after',
      '\nExample:\n  calilab kubectl label serviceaccount -n yaobank customer internet-egress=allowed',
    )
  wrap(label, async (ctx, args, o) => {
    const d = await ctx.discovery()
    const changes = args.filter((a) => a.includes('=') || (a.endsWith('-') && !a.includes('/')))
    const rest = args.filter((a) => !changes.includes(a))
    // A bare `name-` is ambiguous; treat trailing `-` entries after the name as removals.
    const targets = typeAndNames(d, rest)
    if (targets.length === 0)
      throw new CliError('error: one or more resources must be specified as <resource> <name> or <resource>/<name>')
    if (changes.length === 0) throw new CliError('error: at least one label update is required')
    const set: Record<string, string | null> = {}
    for (const c of changes) {
      if (c.endsWith('-') && !c.includes('=')) set[c.slice(0, -1)] = null
      else {
        const i = c.indexOf('=')
        set[c.slice(0, i)] = c.slice(i + 1)
      }
    }
    for (const t of targets) {
      const path = Discovery.path(t.r, ctx.namespace, t.name)
      let cur: KubeObject
      try {
        cur = await ctx.client.get<KubeObject>(path)
      } catch (e) {
        if (isNotFound(e)) throw new CliError(`Error from server (NotFound): ${pluralRef(t.r)} "${t.name}" not found`)
        throw e
      }
      const labels = cur.metadata.labels ?? {}
      for (const [key, v] of Object.entries(set)) {
        if (v !== null && labels[key] !== undefined && labels[key] !== v && !o['overwrite']) {
          throw new CliError(`error: '${key}' already has a value (${labels[key]}), and --overwrite is false`)
        }
      }
      const changed = Object.entries(set).some(([key, v]) => (v === null ? key in labels : labels[key] !== v))
      if (!changed) {
        out(`${typeRef(t.r)}/${t.name} not labeled`)
        continue
      }
      await ctx.client.patch(path, { metadata: { labels: set } }, 'merge')
      const onlyRemovals = Object.values(set).every((v) => v === null)
      out(`${typeRef(t.r)}/${t.name} ${onlyRemovals ? 'unlabeled' : 'labeled'}`)
    }
    return 0
  })

  const ro = k.command('rollout').description('rollout status of a deployment or daemon set')
  const roStatus = ro
    .command('status')
    .description("wait until the rollout completes (kubectl's completion rule and messages)")
    .argument('<type/name|type>')
    .argument('[name]')
    .option('--timeout <seconds>', 'give up after this many seconds', (v) => Number.parseInt(v, 10))
    .option('-w, --watch <bool>', 'keep watching (default true)', 'true')
    .addHelpText('after', '\nExample:\n  calilab kubectl rollout status -n yaobank deployment/customer')
  wrap(roStatus, async (ctx, args, o) =>
    rollout(ctx.client, await ctx.discovery(), args, {
      namespace: ctx.namespace,
      ...(typeof o['timeout'] === 'number' ? { timeoutSec: o['timeout'] } : {}),
      watch: o['watch'] !== 'false',
    }),
  )

  const lg = k
    .command('logs')
    .description("print a pod's container logs")
    .argument('[pod]')
    .option('-l, --selector <selector>', 'all pods matching (10 lines each unless --tail)')
    .option('-c, --container <name>', 'container name')
    .option('-f, --follow', 'stream new lines')
    .option('--tail <n>', 'last n lines', (v) => Number.parseInt(v, 10))
    .addHelpText('after', '\nExample:\n  calilab kubectl logs -n yaobank -l app=customer --follow')
  wrap(lg, async (ctx, args, o) =>
    logs(ctx.client, args, {
      namespace: ctx.namespace,
      ...(typeof o['selector'] === 'string' ? { selector: o['selector'] } : {}),
      ...(typeof o['container'] === 'string' ? { container: o['container'] } : {}),
      ...(o['follow'] ? { follow: true } : {}),
      ...(typeof o['tail'] === 'number' ? { tail: o['tail'] } : {}),
    }),
  )

  const ex = k
    .command('exec')
    .description("run a command in a pod's container (POD or deploy/NAME; the command after --)")
    .argument('<pod>', 'POD or deploy/NAME')
    .argument('[command...]', 'the command, after --')
    .option('-c, --container <name>', 'container')
    .option('-t, --tty', 'stdin is a TTY')
    .option('-i, --stdin', 'pass stdin to the container')
    .addHelpText(
      'after',
      '\nExamples:\n  calilab kubectl exec -n yaobank deploy/customer -- curl http://database:2379/v2/keys?recursive=true\n  calilab kubectl exec -ti -n yaobank customer-xxx -c customer -- /bin/bash',
    )
  ex.action(async (pod: string, command: string[], _o: unknown, self: Command) => {
    const g = self.optsWithGlobals() as Record<string, unknown>
    const str = (k: string) => (typeof g[k] === 'string' ? (g[k] as string) : undefined)
    const opts: ExecCliOpts = {}
    for (const k of ['kubeconfig', 'server', 'home', 'namespace', 'container'] as const) {
      const v = str(k)
      if (v !== undefined) opts[k] = v
    }
    if (g['stdin']) opts.stdin = true
    if (g['tty']) opts.tty = true
    try {
      process.exitCode = await execCommand(pod, command, opts)
    } catch (e) {
      err(serverErrorLine(e))
      process.exitCode = e instanceof CliError ? e.exitCode : 1
    }
  })

  const ar = k.command('api-resources').description('list the resource types the server serves')
  wrap(ar, async (ctx) => {
    const d = await ctx.discovery()
    out(
      formatTable(
        ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND'],
        d.resources.map((r) => [
          r.name,
          r.shortNames.join(','),
          r.group ? `${r.group}/${r.version}` : r.version,
          String(r.namespaced),
          r.kind,
        ]),
      ),
    )
    return 0
  })
  return k
}
