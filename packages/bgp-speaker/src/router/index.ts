export { ACCEPT_ALL, type FilterRule, filterAccepts, host1Filter, type ImportFilter, parseFilter } from './filter.ts'
export { BgpRouter, type RouterInit, type RouterPath, type RouterRoute, type RouterSpeaker } from './router.ts'
export { formatIpRoute, type RouteSink, RouteTable, type RouteTableInit, type TableRoute } from './table.ts'
