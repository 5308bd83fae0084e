import type { KubeObject } from '@calilab/model'
import { stringify } from 'yaml'
import { CliError, err, out } from '../io.ts'
import type { KubeClient } from '../kube.ts'
import { formatTable } from '../table.ts'
import { type ApiResource, Discovery, pluralRef, typeRef } from './discovery.ts'

export const TABLE_ACCEPT =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'

interface TableColumn {
  name: string
  priority?: number
}
interface TableRow {
  cells: unknown[]
  object?: { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } }
}
interface Table {
  kind: 'Table'
  columnDefinitions: TableColumn[]
  rows: TableRow[]
}

export interface GetOptions {
  namespace: string
  allNamespaces?: boolean
  selector?: string
  output?: string
  showLabels?: boolean
}

/** `pods,svc`, `pod/NAME`, `pods NAME...` → requests. */
export function parseGetArgs(d: Discovery, args: readonly string[]): { resource: ApiResource; names: string[] }[] {
  const first = args[0]
  if (first === undefined) {
    throw new CliError(
      'You must specify the type of resource to get. Use "calilab kubectl api-resources" for a complete list of supported resources.\n\nerror: Required resource not specified.',
    )
  }
  const resolve = (t: string): ApiResource => {
    const r = d.resolve(t)
    if (!r) throw new CliError(`error: the server doesn't have a resource type "${t}"`)
    return r
  }
  if (args.every((a) => a.includes('/'))) {
    const out: { resource: ApiResource; names: string[] }[] = []
    for (const a of args) {
      const [t, n] = a.split('/') as [string, string]
      const r = resolve(t)
      const prev = out.find((x) => x.resource === r)
      if (prev) prev.names.push(n)
      else out.push({ resource: r, names: [n] })
    }
    return out
  }
  if (args.slice(1).some((a) => a.includes('/'))) {
    throw new CliError(
      'error: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form',
    )
  }
  const types = first.split(',').filter(Boolean).map(resolve)
  const names = args.slice(1)
  if (names.length > 0 && types.length > 1)
    throw new CliError('error: you must specify only one resource when naming objects')
  return types.map((r) => ({ resource: r, names }))
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return '<none>'
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return JSON.stringify(v)
}

function labelsText(l: Record<string, string> | undefined): string {
  const e = Object.entries(l ?? {})
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(',') : '<none>'
}

function age(ts: string | undefined): string {
  if (!ts) return '<unknown>'
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000))
  if (s < 120) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h`
  return `${Math.floor(h / 24)}d`
}

/** A NAME/AGE Table built from a plain object/list (when the server sends no Table). */
function tableOf(items: KubeObject[]): Table {
  return {
    kind: 'Table',
    columnDefinitions: [{ name: 'Name' }, { name: 'Age' }],
    rows: items.map((o) => ({
      cells: [o.metadata.name, age(o.metadata.creationTimestamp)],
      object: { metadata: o.metadata },
    })),
  }
}

async function fetchTable(
  client: KubeClient,
  r: ApiResource,
  ns: string | undefined,
  name: string | undefined,
  selector?: string,
): Promise<Table> {
  const path = Discovery.path(r, ns, name)
  const res = name
    ? await client.get<Table | KubeObject>(path, { accept: TABLE_ACCEPT })
    : await client.list<KubeObject>(path, {
        accept: TABLE_ACCEPT,
        limit: 500,
        ...(selector ? { labelSelector: selector } : {}),
      })
  if ((res as Table).kind === 'Table') return res as Table
  if (name) return tableOf([res as KubeObject])
  return tableOf((res as { items: KubeObject[] }).items)
}

async function fetchObjects(
  client: KubeClient,
  r: ApiResource,
  ns: string | undefined,
  names: string[],
  selector?: string,
): Promise<KubeObject[]> {
  const withKind = (o: KubeObject): KubeObject => ({
    ...o,
    apiVersion: o.apiVersion ?? (r.group ? `${r.group}/${r.version}` : r.version),
    kind: o.kind ?? r.kind,
  })
  if (names.length > 0) {
    const out: KubeObject[] = []
    for (const n of names) out.push(withKind(await client.get<KubeObject>(Discovery.path(r, ns, n))))
    return out
  }
  const list = await client.list<KubeObject>(Discovery.path(r, ns), selector ? { labelSelector: selector } : {})
  return list.items.map(withKind)
}

/** `kubectl get`. Returns the exit code. */
export async function get(client: KubeClient, d: Discovery, args: readonly string[], o: GetOptions): Promise<number> {
  const reqs = parseGetArgs(d, args)
  const output = o.output ?? ''
  const ns = o.allNamespaces ? undefined : o.namespace
  let code = 0
  const fail = (e: unknown, r: ApiResource, name?: string) => {
    code = 1
    const ke = e as { status?: { reason?: string; message?: string }; code?: number }
    if (ke.code === 404 && name) err(`Error from server (NotFound): ${pluralRef(r)} "${name}" not found`)
    else if (ke.status) err(`Error from server (${ke.status.reason ?? 'Unknown'}): ${ke.status.message}`)
    else err(`error: ${(e as Error).message}`)
  }

  if (output === 'yaml' || output === 'json' || output === 'name') {
    const objs: KubeObject[] = []
    for (const q of reqs) {
      if (q.names.length) {
        for (const n of q.names) {
          try {
            objs.push(...(await fetchObjects(client, q.resource, ns, [n])))
          } catch (e) {
            fail(e, q.resource, n)
          }
        }
      } else objs.push(...(await fetchObjects(client, q.resource, ns, [], o.selector)))
    }
    if (output === 'name') {
      for (const obj of objs) {
        const r = d.byKind(obj.apiVersion, obj.kind)
        out(`${r ? typeRef(r) : obj.kind.toLowerCase()}/${obj.metadata.name}`)
      }
    } else if (objs.length > 0 || reqs.every((q) => q.names.length === 0)) {
      const single = reqs.length === 1 && reqs[0]!.names.length === 1
      const doc = single ? objs[0] : { apiVersion: 'v1', items: objs, kind: 'List', metadata: { resourceVersion: '' } }
      if (doc) out(output === 'json' ? JSON.stringify(doc, null, 4) : stringify(doc).trimEnd())
    }
    if (objs.length === 0 && reqs.every((q) => q.names.length === 0)) {
      if (output === 'name') noResources(ns, reqs[0]!.resource)
    }
    return code
  }
  if (output && output !== 'wide') {
    throw new CliError(
      `error: unable to match a printer suitable for the output format "${output}", allowed formats are: json,name,wide,yaml`,
    )
  }
  const multi = reqs.length > 1
  let printed = 0
  let any = false
  for (const q of reqs) {
    const tables: Table[] = []
    if (q.names.length) {
      for (const n of q.names) {
        try {
          tables.push(await fetchTable(client, q.resource, ns, n))
        } catch (e) {
          fail(e, q.resource, n)
        }
      }
    } else {
      try {
        tables.push(await fetchTable(client, q.resource, ns, undefined, o.selector))
      } catch (e) {
        fail(e, q.resource)
      }
    }
    const first = tables[0]
    if (!first) continue
    const rows = tables.flatMap((t) => t.rows)
    if (rows.length === 0) continue
    any = true
    const cols = first.columnDefinitions
      .map((c, i) => ({ c, i }))
      .filter(({ c }) => (c.priority ?? 0) === 0 || output === 'wide')
    const header = cols.map(({ c }) => c.name.toUpperCase())
    const nsCol = o.allNamespaces && q.resource.namespaced
    if (nsCol) header.unshift('NAMESPACE')
    if (o.showLabels) header.push('LABELS')
    const body = rows.map((row) => {
      const cells = cols.map(({ c, i }) => {
        const text = cellText(row.cells[i])
        return multi && c.name.toLowerCase() === 'name' ? `${typeRef(q.resource)}/${text}` : text
      })
      if (nsCol) cells.unshift(row.object?.metadata?.namespace ?? '')
      if (o.showLabels) cells.push(labelsText(row.object?.metadata?.labels))
      return cells
    })
    if (printed > 0) out('')
    out(formatTable(header, body))
    printed++
  }
  if (!any && reqs.every((q) => q.names.length === 0) && code === 0) noResources(ns, reqs[0]!.resource)
  return code
}

function noResources(ns: string | undefined, r: ApiResource): void {
  err(ns && r.namespaced ? `No resources found in ${ns} namespace.` : 'No resources found')
}
