export * from './core/conntrack/index.ts'
export * from './core/netfilter/index.ts'
export * from './core/packet/index.ts'
