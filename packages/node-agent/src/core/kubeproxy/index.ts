export * from './names.ts'
export * from './render.ts'
export {
  comment,
  kubeProxyProbability,
  probabilityText,
  type RuleSpec,
  renderRule,
  saveString,
  toCidr,
} from './rule.ts'
