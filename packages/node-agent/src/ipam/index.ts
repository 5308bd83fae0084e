export { type AllocateResult, type IpamPod, IpamShell, type IpamShellInit, podHandleFor } from './shell.ts'
