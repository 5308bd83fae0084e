import { CodedError } from '@calilab/kit'

/** Error codes of the netfilter model (iptables, iptables-restore, ipset). */
export type NetfilterErrorCode =
  | 'NF_BAD_ARGUMENT'
  | 'NF_UNKNOWN_OPTION'
  | 'NF_NO_CHAIN'
  | 'NF_CHAIN_EXISTS'
  | 'NF_CHAIN_IN_USE'
  | 'NF_CHAIN_NOT_EMPTY'
  | 'NF_BUILTIN_CHAIN'
  | 'NF_BAD_TABLE'
  | 'NF_BAD_RULE_INDEX'
  | 'NF_NO_SUCH_RULE'
  | 'NF_BAD_TARGET'
  | 'NF_RESTORE'
  | 'IPSET_NO_SET'
  | 'IPSET_EXISTS'
  | 'IPSET_BAD_TYPE'
  | 'IPSET_BAD_ENTRY'
  | 'IPSET_IN_USE'
  | 'IPSET_TYPE_MISMATCH'

/**
 * A failure the real tool would report. `message` is the line iptables/ipset prints
 * (e.g. `iptables: No chain/target/match by that name.`); `exitCode` is its exit status.
 */
export class NetfilterError extends CodedError {
  readonly exitCode: number
  constructor(
    code: NetfilterErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    exitCode = code === 'NF_BAD_ARGUMENT' || code === 'NF_UNKNOWN_OPTION' ? 2 : 1,
  ) {
    super({ ...details, code, message })
    this.name = 'NetfilterError'
    this.exitCode = exitCode
  }
}
