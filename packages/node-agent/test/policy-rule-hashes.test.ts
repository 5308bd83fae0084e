import { createHash } from 'node:crypto'
import t from 'tap'
import { clearRuleHashCache, ruleHashes } from '../src/core/policy/index.ts'

/** Felix's rule-hash chain written the plain way: SHA-224(chain), then SHA-224(prev ‖ "-A chain rule"). */
function reference(chain: string, rules: readonly string[]): string[] {
  let h = createHash('sha224').update(chain).digest()
  return rules.map((r) => {
    h = createHash('sha224').update(h).update(`-A ${chain} ${r}`).digest()
    return h.toString('base64url').slice(0, 16)
  })
}

t.test('rule hashes equal the plain SHA-224 chain (ASCII, UTF-8, long rules, empty rule)', async (t) => {
  const rules = [
    '-m comment --comment "cali:abc" -j ACCEPT',
    '-m set --match-set cali40s:Xx src -j MARK --set-xmark 0x10000/0x10000',
    'é ünïcødé 名前',
    'x'.repeat(9000),
    '',
    '-j DROP',
  ]
  for (const chain of ['cali-pi-default.allow-dns', 'cali-tw-cali12345678901', 'cali-po-é']) {
    clearRuleHashCache()
    t.same(ruleHashes(chain, rules), reference(chain, rules), chain)
    t.same(ruleHashes(chain, rules), reference(chain, rules), `${chain} (cached)`)
  }
  // A rule changed in the middle changes that hash and every one after it, not the ones before.
  const changed = [...rules]
  changed[2] = '-j RETURN'
  const a = ruleHashes('cali-fw-x', rules)
  const b = ruleHashes('cali-fw-x', changed)
  t.same(b.slice(0, 2), a.slice(0, 2))
  t.ok(b.slice(2).every((h, i) => h !== a[i + 2]))
  t.same(b, reference('cali-fw-x', changed))
})
