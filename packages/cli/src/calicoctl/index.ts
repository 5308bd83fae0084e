import type { KubeObject } from '@calilab/model'
import { type IpamShowOptions, ipamShow, ipamStateFromResources, poolFromResource } from '@calilab/node-agent'
import { type Command, Option } from 'commander'
import { stringify } from 'yaml'
import { CliError, err, out } from '../io.ts'
import { type KubeClient, KubeClientError, resourcePath } from '../kube.ts'
import { connect } from '../kubectl/client.ts'
import { readManifests } from '../kubectl/manifests.ts'
import { formatTable } from '../table.ts'
import { type CalicoKind, calicoKindOf, cell, resolveCalicoKind } from './kinds.ts'

export const CALICOCTL_VERSION = 'v3.21.4'
const GROUP = 'projectcalico.org'
const VERSION = 'v3'

function path(k: CalicoKind, ns: string | undefined, name?: string): string {
  return resourcePath({
    group: GROUP,
    version: VERSION,
    plural: k.plural,
    namespace: k.namespaced ? ns : undefined,
    name,
  })
}

function kindOrFail(t: string): CalicoKind {
  const k = resolveCalicoKind(t)
  if (!k) throw new CliError(`Failed to get resources: resource type '${t}' is not supported`)
  return k
}

function v3(o: KubeObject, k: CalicoKind): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = o
  const meta = { ...o.metadata }
  delete meta.managedFields
  return { apiVersion: `${GROUP}/${VERSION}`, kind: k.kind, ...rest, metadata: meta } as KubeObject
}

function withConn<T extends unknown[]>(
  fn: (client: KubeClient, g: Record<string, unknown>, ...a: T) => Promise<number>,
) {
  return async (...a: unknown[]) => {
    const self = a[a.length - 1] as Command
    const g = self.optsWithGlobals() as Record<string, unknown>
    try {
      const conn = connect({
        ...(typeof g['kubeconfig'] === 'string' ? { kubeconfig: g['kubeconfig'] } : {}),
        ...(typeof g['server'] === 'string' ? { server: g['server'] } : {}),
        ...(typeof g['home'] === 'string' ? { home: g['home'] } : {}),
      })
      try {
        process.exitCode = await fn(conn.client, g, ...(self.args as T))
      } finally {
        conn.client.close()
      }
    } catch (e) {
      err(e instanceof KubeClientError ? e.status.message : (e as Error).message)
      process.exitCode = 1
    }
  }
}

async function getCmd(
  client: KubeClient,
  g: Record<string, unknown>,
  type: string,
  ...names: string[]
): Promise<number> {
  const k = kindOrFail(type)
  const all = g['allNamespaces'] === true
  const ns = all ? undefined : typeof g['namespace'] === 'string' ? g['namespace'] : 'default'
  const output = typeof g['output'] === 'string' ? g['output'] : 'ps'
  let objs: KubeObject[] = []
  let rv = ''
  if (names.length > 0) {
    for (const n of names) {
      try {
        objs.push(await client.get<KubeObject>(path(k, ns ?? 'default', n)))
      } catch (e) {
        if (e instanceof KubeClientError && e.code === 404) {
          err(
            `Failed to get resources: resource does not exist: ${k.kind}(${k.namespaced ? `${ns}/` : ''}${n}) with error: ${e.status.message}`,
          )
          return 1
        }
        throw e
      }
    }
  } else {
    const l = await client.list<KubeObject>(path(k, ns))
    objs = l.items
    rv = l.metadata.resourceVersion ?? ''
  }
  objs = objs.map((o) => v3(o, k))
  if (output === 'yaml' || output === 'json') {
    const doc =
      names.length === 1
        ? objs[0]
        : { apiVersion: `${GROUP}/${VERSION}`, items: objs, kind: `${k.kind}List`, metadata: { resourceVersion: rv } }
    out(output === 'json' ? JSON.stringify(doc, null, 2) : stringify(doc).trimEnd())
    return 0
  }
  if (output !== 'ps' && output !== 'wide') throw new CliError(`unrecognized output format '${output}'`)
  const cols = [...(output === 'wide' ? k.wide : k.columns)]
  if (k.namespaced && all) cols.unshift('NAMESPACE')
  out(
    formatTable(
      cols,
      objs.map((o) => cols.map((c) => cell(k, c, o))),
    ),
  )
  return 0
}

type FileVerb = 'apply' | 'create' | 'replace' | 'delete'
const PAST: Record<FileVerb, string> = { apply: 'applied', create: 'created', replace: 'replaced', delete: 'deleted' }

async function fileCmd(client: KubeClient, g: Record<string, unknown>, verb: FileVerb): Promise<number> {
  const files = (g['filename'] as string[] | undefined) ?? []
  if (files.length === 0) throw new CliError(`calicoctl ${verb}: -f FILENAME is required (a file, or - for stdin)`)
  const manifests = readManifests(files)
  const defNs = typeof g['namespace'] === 'string' ? g['namespace'] : 'default'
  let ok = 0
  const kinds = new Set<string>()
  for (const m of manifests) {
    const o = structuredClone(m.object)
    const k = calicoKindOf(o.kind)
    if (!k || !o.apiVersion.startsWith(GROUP)) {
      err(`Failed to ${verb} resources: resource type '${o.kind}' (${o.apiVersion}) is not supported by calicoctl`)
      return 1
    }
    const ns = k.namespaced ? (o.metadata.namespace ?? defNs) : undefined
    if (ns) o.metadata.namespace = ns
    const name = o.metadata.name ?? ''
    try {
      if (verb === 'create') await client.create(path(k, ns), o)
      else if (verb === 'delete') await client.delete(path(k, ns, name))
      else {
        let cur: KubeObject | undefined
        try {
          cur = await client.get<KubeObject>(path(k, ns, name))
        } catch (e) {
          if (!(e instanceof KubeClientError && e.code === 404)) throw e
          if (verb === 'replace') throw e
        }
        if (cur) {
          if (cur.metadata.resourceVersion && !o.metadata.resourceVersion)
            o.metadata.resourceVersion = cur.metadata.resourceVersion
          await client.update(path(k, ns, name), o)
        } else await client.create(path(k, ns), o)
      }
      ok++
      kinds.add(k.kind)
    } catch (e) {
      const msg = e instanceof KubeClientError ? e.status.message : (e as Error).message
      if (ok > 0) out(`Partial success: ${PAST[verb]} the first ${ok} out of ${manifests.length} resources:`)
      err(
        e instanceof KubeClientError && e.code === 404
          ? `Failed to ${verb} '${k.kind}' resource: resource does not exist: ${k.kind}(${name}) with error: ${msg}`
          : e instanceof KubeClientError && e.code === 409 && verb === 'create'
            ? `Failed to create '${k.kind}' resource: resource already exists: ${k.kind}(${name})`
            : `Failed to ${verb} '${k.kind}' resource: ${msg}`,
      )
      return 1
    }
  }
  const kindText = kinds.size === 1 ? ` '${[...kinds][0]}'` : ''
  out(`Successfully ${PAST[verb]} ${ok}${kindText} resource(s)`)
  return 0
}

function common(c: Command): Command {
  return c
    .option('--kubeconfig <file>', 'kubeconfig to use (default: <home>/kubeconfig)')
    .option('-s, --server <url>', 'API server URL')
    .option('--home <dir>', 'calilab home')
    .option('--allow-version-mismatch', 'accepted (no version check here)')
}

export function addCalicoctl(program: Command): Command {
  const c = program
    .command('calicoctl')
    .description('a built-in calicoctl (v3.21 subset) over the calilab API server')
    .addHelpText(
      'after',
      `
Examples:
  calilab calicoctl get ippools -o wide
  calilab calicoctl apply -f default-app-policy.yaml
  calilab calicoctl get heps
  calilab calicoctl patch felixconfiguration default --patch '{"spec":{"wireguardEnabled":true}}'
  calilab calicoctl get bgpconfig default -o yaml`,
    )
  common(c)
  const get = c
    .command('get')
    .description('list Calico resources (tables with calicoctl columns, or yaml/json)')
    .argument('<type>', 'ippools, heps, bgppeers, bgpconfig, nodes, gnp, np, felixconfiguration, ...')
    .argument('[names...]')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['ps', 'wide', 'yaml', 'json']))
    .option('-n, --namespace <ns>', 'namespace (namespaced kinds)')
    .option('-A, --all-namespaces', 'all namespaces')
  common(get).action(withConn((cl, g, type: string, ...names: string[]) => getCmd(cl, g, type, ...names)))

  for (const verb of ['apply', 'create', 'replace', 'delete'] as const) {
    const cmd = c
      .command(verb)
      .description(
        `${verb} Calico resources from a file (-f FILE or -f -)${verb === 'delete' ? ', or one by KIND NAME' : ''}`,
      )
      .option('-f, --filename <path>', 'file, directory or - (stdin)', (v: string, p: string[] = []) => [...p, v])
      .option('-n, --namespace <ns>', 'namespace for namespaced kinds without one')
    if (verb === 'delete') {
      cmd.argument('[type]').argument('[name]')
      common(cmd).action(
        withConn(async (cl, g, type?: string, name?: string) => {
          if (type && name) {
            const k = kindOrFail(type)
            const ns = typeof g['namespace'] === 'string' ? g['namespace'] : 'default'
            try {
              await cl.delete(path(k, ns, name))
            } catch (e) {
              if (e instanceof KubeClientError && e.code === 404) {
                err(
                  `Failed to delete '${k.kind}' resource: resource does not exist: ${k.kind}(${name}) with error: ${e.status.message}`,
                )
                return 1
              }
              throw e
            }
            out(`Successfully deleted 1 '${k.kind}' resource(s)`)
            return 0
          }
          return fileCmd(cl, g, 'delete')
        }),
      )
    } else common(cmd).action(withConn((cl, g) => fileCmd(cl, g, verb)))
  }

  const patch = c
    .command('patch')
    .description('merge-patch one Calico resource')
    .argument('<type>')
    .argument('<name>')
    .requiredOption('-p, --patch <json>', 'JSON merge patch')
    .addOption(new Option('-t, --type <type>', 'patch type').choices(['merge', 'strategic', 'json']).default('merge'))
    .option('-n, --namespace <ns>', 'namespace')
  common(patch).action(
    withConn(async (cl, g, type: string, name: string) => {
      const k = kindOrFail(type)
      let body: unknown
      try {
        body = JSON.parse(String(g['patch']))
      } catch (e) {
        throw new CliError(`Failed to patch '${k.kind}' resource: the patch is not valid JSON: ${(e as Error).message}`)
      }
      const ns = typeof g['namespace'] === 'string' ? g['namespace'] : 'default'
      try {
        await cl.patch(path(k, ns, name), body, g['type'] === 'json' ? 'json' : 'merge')
      } catch (e) {
        if (e instanceof KubeClientError && e.code === 404) {
          err(
            `Failed to patch '${k.kind}' resource: resource does not exist: ${k.kind}(${name}) with error: ${e.status.message}`,
          )
          return 1
        }
        throw e
      }
      out(`Successfully patched 1 '${k.kind}' resource`)
      return 0
    }),
  )

  const version = c.command('version').description('client and cluster versions')
  common(version).action(
    withConn(async (cl) => {
      out(`Client Version:    ${CALICOCTL_VERSION}`)
      out('Git commit:        calilab')
      try {
        const ci = await cl.get<KubeObject>(path(calicoKindOf('ClusterInformation')!, undefined, 'default'))
        const s = (ci.spec ?? {}) as Record<string, unknown>
        out(`Cluster Version:   ${String(s['calicoVersion'] ?? 'unknown')}`)
        out(`Cluster Type:      ${String(s['clusterType'] ?? 'unknown')}`)
      } catch {
        out('Cluster Version:   unknown')
        out('Cluster Type:      unknown')
      }
      return 0
    }),
  )

  const node = c.command('node').description('node commands')
  node
    .command('status')
    .description('BGP peer status of a node (runs on the node: calilab ssh NODE -- calicoctl node status)')
    .action(() => {
      err(
        'calicoctl node status reads the BGP speaker of the node it runs on; run it there: calilab ssh NODE -- calicoctl node status',
      )
      process.exitCode = 1
    })
  const ipam = c.command('ipam').description('IPAM commands')
  ipam
    .command('show')
    .description('IP usage per pool (and per block, borrowed IPs, one IP, or the IPAM configuration)')
    .option('--show-blocks', 'a row per allocated block after its pool')
    .option('--show-borrowed', "IPs used outside their block's host")
    .option('--show-configuration', 'StrictAffinity and AutoAllocateBlocks')
    .option('--ip <ip>', 'whether one IP is in use, and by what')
    .addHelpText('after', '\nExamples:\n  calilab calicoctl ipam show\n  calilab calicoctl ipam show --show-blocks')
    .action(withConn(ipamShowCmd))
  return c
}

/** `calicoctl ipam show`: computed from the IP pools and IPAM records in the datastore. */
async function ipamShowCmd(client: KubeClient, g: Record<string, unknown>): Promise<number> {
  const base = `/apis/${GROUP}/${VERSION}`
  const [pools, blocks, affinities, handles] = await Promise.all(
    ['ippools', 'ipamblocks', 'blockaffinities', 'ipamhandles'].map((r) => client.list<KubeObject>(`${base}/${r}`)),
  )
  const state = ipamStateFromResources({
    blocks: blocks?.items ?? [],
    affinities: affinities?.items ?? [],
    handles: handles?.items ?? [],
  })
  const infos = (pools?.items ?? []).map((p) => poolFromResource(p as never))
  const opts: IpamShowOptions = {
    ...(g['showBlocks'] ? { showBlocks: true } : {}),
    ...(g['showBorrowed'] ? { showBorrowed: true } : {}),
    ...(g['showConfiguration'] ? { showConfiguration: true } : {}),
    ...(typeof g['ip'] === 'string' ? { ip: g['ip'] } : {}),
  }
  out(ipamShow(state, infos, opts).replace(/\n$/, ''))
  return 0
}
