/** Workload printers (apps/v1), following kube-apiserver's printers. */
import type { KubeObject } from '@calilab/model'
import { formatLabelSelector, formatLabels, type LabelSelectorSpec, labelSelectorFromSpec } from './label-selector.ts'
import { AGE_COL, age, arr, col, get, map, NAME_COL, num, orNone, type Printer, str, wide } from './printer-kit.ts'

// ---- workloads ----

function containerCells(obj: KubeObject): [string, string] {
  const cs = arr(get(obj.spec, 'template', 'spec', 'containers'))
  return [cs.map((c) => str(get(c, 'name'))).join(','), cs.map((c) => str(get(c, 'image'))).join(',')]
}

/** metav1.FormatLabelSelector: `<none>` when empty. */
export function formatSpecSelector(spec: unknown): string {
  try {
    return orNone(formatLabelSelector(labelSelectorFromSpec(spec as LabelSelectorSpec | undefined)))
  } catch {
    return '<error>'
  }
}

function selectorString(spec: unknown): string {
  try {
    return formatLabelSelector(labelSelectorFromSpec(spec as LabelSelectorSpec | undefined))
  } catch {
    return '<invalid>'
  }
}

const CONTAINERS_COL = wide('Containers', 'Names of each container in the template.')
const IMAGES_COL = wide('Images', 'Images referenced by each container in the template.')
const SELECTOR_COL = wide('Selector', 'Label selector for pods.')

export const deploymentPrinter: Printer = {
  columns: [
    NAME_COL,
    col('Ready', 'string', 'Number of the pod with ready state'),
    col(
      'Up-to-date',
      'integer',
      'Total number of non-terminated pods targeted by this deployment that have the desired template spec.',
    ),
    col(
      'Available',
      'integer',
      'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.',
    ),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
    SELECTOR_COL,
  ],
  row(d, now) {
    const [names, images] = containerCells(d)
    return {
      cells: [
        d.metadata.name ?? '',
        `${num(get(d.status, 'readyReplicas'))}/${num(get(d.spec, 'replicas'), 1)}`,
        num(get(d.status, 'updatedReplicas')),
        num(get(d.status, 'availableReplicas')),
        age(d, now),
        names,
        images,
        selectorString(get(d.spec, 'selector')),
      ],
    }
  },
}

export const replicaSetPrinter: Printer = {
  columns: [
    NAME_COL,
    col('Desired', 'integer', 'Replicas is the number of desired replicas.'),
    col('Current', 'integer', 'Replicas is the most recently observed number of replicas.'),
    col('Ready', 'integer', 'The number of ready replicas for this replica set.'),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
    SELECTOR_COL,
  ],
  row(rs, now) {
    const [names, images] = containerCells(rs)
    return {
      cells: [
        rs.metadata.name ?? '',
        num(get(rs.spec, 'replicas'), 1),
        num(get(rs.status, 'replicas')),
        num(get(rs.status, 'readyReplicas')),
        age(rs, now),
        names,
        images,
        formatSpecSelector(get(rs.spec, 'selector')),
      ],
    }
  },
}

export const daemonSetPrinter: Printer = {
  columns: [
    NAME_COL,
    col('Desired', 'integer', 'The total number of nodes that should be running the daemon pod.'),
    col(
      'Current',
      'integer',
      'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.',
    ),
    col(
      'Ready',
      'integer',
      'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.',
    ),
    col('Up-to-date', 'integer', 'The total number of nodes that are running updated daemon pod'),
    col(
      'Available',
      'integer',
      'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.',
    ),
    col('Node Selector', 'string', 'NodeSelector is a selector which must be true for the pod to fit on a node.'),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
    SELECTOR_COL,
  ],
  row(ds, now) {
    const [names, images] = containerCells(ds)
    const s = ds.status
    return {
      cells: [
        ds.metadata.name ?? '',
        num(get(s, 'desiredNumberScheduled')),
        num(get(s, 'currentNumberScheduled')),
        num(get(s, 'numberReady')),
        num(get(s, 'updatedNumberScheduled')),
        num(get(s, 'numberAvailable')),
        formatLabels(map(get(ds.spec, 'template', 'spec', 'nodeSelector'))),
        age(ds, now),
        names,
        images,
        formatSpecSelector(get(ds.spec, 'selector')),
      ],
    }
  },
}

export const statefulSetPrinter: Printer = {
  columns: [
    NAME_COL,
    col('Ready', 'string', 'Number of the pod with ready state'),
    AGE_COL,
    CONTAINERS_COL,
    IMAGES_COL,
  ],
  row(ss, now) {
    const [names, images] = containerCells(ss)
    return {
      cells: [
        ss.metadata.name ?? '',
        `${num(get(ss.status, 'readyReplicas'))}/${num(get(ss.spec, 'replicas'), 1)}`,
        age(ss, now),
        names,
        images,
      ],
    }
  },
}
