import type { KubeObject, ResourceInfo } from '@calilab/model'
import type { Api, PatchType, WriteOptions } from '../../api.ts'
import { jsonMergePatch, jsonPatch } from '../../core/index.ts'
import { apiErrors } from '../../core/status.ts'
import { isRecord } from '../service/objects.ts'

/** autoscaling/v1 Scale view of a deployment/replicaset/statefulset. */
export function getScale(o: KubeObject): KubeObject {
  const spec = isRecord(o.spec) ? o.spec : {}
  const status = isRecord(o.status) ? o.status : {}
  const sel =
    isRecord(spec['selector']) && isRecord(spec['selector']['matchLabels']) ? spec['selector']['matchLabels'] : {}
  const md: KubeObject['metadata'] = {}
  for (const k of ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp'] as const) {
    const v = o.metadata[k]
    if (v !== undefined) md[k] = v
  }
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: md,
    spec: { replicas: typeof spec['replicas'] === 'number' ? spec['replicas'] : 1 },
    status: {
      replicas: typeof status['replicas'] === 'number' ? status['replicas'] : 0,
      selector: Object.entries(sel)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(','),
    },
  }
}

export async function updateScale(
  api: Api,
  info: ResourceInfo,
  ns: string | undefined,
  name: string,
  how: PatchType | 'put',
  body: unknown,
  opts: WriteOptions,
): Promise<KubeObject> {
  const cur = api.get(info, ns, name)
  let next: unknown
  if (how === 'put') next = body
  else if (how === 'json') next = jsonPatch(getScale(cur), body)
  else if (how === 'merge' || how === 'strategic') next = jsonMergePatch(getScale(cur), body)
  else throw apiErrors.unsupportedMediaType('apply patches are not supported')
  const spec = isRecord(next) && isRecord(next['spec']) ? next['spec'] : {}
  const replicas = spec['replicas']
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw apiErrors.invalid({ group: 'autoscaling', kind: 'Scale' }, name, [
      {
        type: 'FieldValueInvalid',
        field: 'spec.replicas',
        value: replicas,
        detail: 'must be greater than or equal to 0',
      },
    ])
  }
  const out = await api.patch(info, ns, name, 'merge', { spec: { replicas } }, opts)
  return getScale(out.object)
}
