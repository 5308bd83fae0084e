/** Server-side printing: a list of objects as a meta.k8s.io/v1 Table (what `kubectl get` shows). */
import type { KubeObject } from '@calilab/model'
import { deepClone } from './json.ts'
import { evalJsonPath } from './jsonpath.ts'
import { AGE_COL, NAME_COL, PRINTERS, type PrintedRow, type Printer, since } from './printers.ts'
import type { PrinterColumn, Table, TableColumnDefinition, TableOptions, TableRow } from './table-types.ts'

function crdCell(obj: KubeObject, c: PrinterColumn, now: number): unknown {
  const found = evalJsonPath(obj, c.jsonPath)
  if (found.length === 0) return null
  if (c.type === 'date') return since(found[0], now)
  if (found.length === 1) {
    const v = found[0]
    if (c.type === 'string' && typeof v !== 'string') return typeof v === 'object' ? JSON.stringify(v) : String(v)
    return v
  }
  return found.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',')
}

/** The printer for custom resources: Name, then the CRD's additionalPrinterColumns (or Age). */
function crdPrinter(cols: PrinterColumn[]): Printer {
  const columns: TableColumnDefinition[] = [
    NAME_COL,
    ...cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description ?? '',
      priority: c.priority ?? 0,
    })),
  ]
  return {
    columns,
    row: (o, now) => ({ cells: [o.metadata.name ?? '', ...cols.map((c) => crdCell(o, c, now))] }),
  }
}

const defaultPrinter: Printer = {
  columns: [NAME_COL, AGE_COL],
  row: (o, now) => ({ cells: [o.metadata.name ?? '', since(o.metadata.creationTimestamp, now)] }),
}

/** The printer kube-apiserver would use for a kind. */
/**
 * Kinds served built-in whose real definition is a CRD: the printer columns that CRD declares
 * (operator.tigera.io's, from the operator's manifests), used even when the CRD was never created.
 */
const OPERATOR_COLUMNS: Readonly<Record<string, PrinterColumn[]>> = {
  'operator.tigera.io/TigeraStatus': [
    { name: 'Available', type: 'string', jsonPath: ".status.conditions[?(@.type=='Available')].status" },
    { name: 'Progressing', type: 'string', jsonPath: ".status.conditions[?(@.type=='Progressing')].status" },
    { name: 'Degraded', type: 'string', jsonPath: ".status.conditions[?(@.type=='Degraded')].status" },
    { name: 'Since', type: 'date', jsonPath: ".status.conditions[?(@.type=='Available')].lastTransitionTime" },
    { name: 'Message', type: 'string', jsonPath: ".status.conditions[?(@.type=='Degraded')].message" },
  ],
}

export function printerFor(kind: { group: string; kind: string }, crdColumns?: PrinterColumn[]): Printer {
  const builtin = PRINTERS[`${kind.group}/${kind.kind}`]
  if (builtin) return builtin
  if (crdColumns && crdColumns.length > 0) return crdPrinter(crdColumns)
  const known = OPERATOR_COLUMNS[`${kind.group}/${kind.kind}`]
  if (known) return crdPrinter(known)
  return defaultPrinter
}

function rowObject(obj: KubeObject, mode: TableOptions['includeObject']): unknown {
  switch (mode) {
    case 'None':
      return undefined
    case 'Object':
      return deepClone(obj)
    default:
      return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: deepClone(obj.metadata) }
  }
}

/** Renders objects of one kind as a Table with kube-apiserver's columns for that kind. */
export function toTable(kind: { group: string; kind: string }, objects: KubeObject[], opts: TableOptions): Table {
  const printer = printerFor(kind, opts.crdColumns)
  const rows: TableRow[] = objects.map((o) => {
    const printed: PrintedRow = printer.row(o, opts.now)
    const row: TableRow = { cells: printed.cells }
    if (printed.conditions) row.conditions = printed.conditions
    const object = rowObject(o, opts.includeObject)
    if (object !== undefined) row.object = object
    return row
  })
  const metadata: Table['metadata'] = { resourceVersion: opts.resourceVersion }
  if (opts.continue) metadata.continue = opts.continue
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: printer.columns.map((c) => ({ ...c })),
    rows,
  }
}
