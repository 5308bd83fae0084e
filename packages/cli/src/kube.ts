/**
 * The Kubernetes REST client the CLI uses (from @calilab/proto). One import site, so the CLI
 * follows the proto package's public entry.
 */
export {
  createKubeClient,
  type KubeClient,
  KubeClientError,
  type KubeList,
  resourcePath,
} from '@calilab/proto'
