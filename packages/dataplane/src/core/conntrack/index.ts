export * from './conntrack.ts'
