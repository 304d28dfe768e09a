// Cedar's own engine (@cedar-policy/cedar-wasm, Node.js build) on the
// policy set, entities and requests that gate_compare wrote: checks that
// the policy set parses, decides every request, checks each decision
// against deputy's, and prints both engines' per-decision times.
//
// Usage: node bench/cedar/run.mjs DIR [--passes N]   (see gate_vs_cedar.sh)
//
// Timed calls go through statefulIsAuthorized with the policy set parsed
// once beforehand (preparsePolicySet), the closest Cedar comes to
// deputy's build-once gate; each call still marshals its request, context
// and entities from JavaScript into wasm and the answer back. For
// reference, plain isAuthorized (which parses the policy text on every
// call) is also timed on the first requests.
//
// Agreement: the effect must match (an allow whose satisfied permits all
// carry @approval("required") is needs_approval, the gate's rule); the
// permits Cedar names must be exactly the grants deputy matched; on a
// deny, the forbid or invariant deputy reports must be among those Cedar
// names, and a deny for want of a grant must name none. Any mismatch is
// printed and the exit status is 1.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

const args = process.argv.slice(2);
const dir = args[0];
const passesAt = args.indexOf('--passes');
const passes = passesAt >= 0 ? Number(args[passesAt + 1]) : 3;
if (!dir || !(passes >= 3)) {
  console.error('usage: node run.mjs DIR [--passes N>=3]');
  process.exit(2);
}

const fail = (msg) => {
  console.error(`run.mjs: ${msg}`);
  process.exit(1);
};
const errors = (list) => list.map((e) => e.message).join('; ');

const policyText = readFileSync(join(dir, 'policies.cedar'), 'utf8');
const requests = JSON.parse(readFileSync(join(dir, 'requests.json'), 'utf8'));
const deputy = JSON.parse(readFileSync(join(dir, 'deputy.json'), 'utf8'));

// 1. The policy set parses, and splits into the expected policies, each
// keyed by its @id so that Cedar's answers name deputy's rules.
const parsed = cedar.checkParsePolicySet({ staticPolicies: policyText });
if (parsed.type !== 'success') fail(`policy set: ${errors(parsed.errors)}`);
const parts = cedar.policySetTextToParts(policyText);
if (parts.type !== 'success') fail(`policy set: ${errors(parts.errors)}`);
const policies = {};
const needsApproval = new Set();
for (const text of parts.policies) {
  const json = cedar.policyToJson(text);
  if (json.type !== 'success') fail(`policy: ${errors(json.errors)}`);
  const id = json.json.annotations?.id;
  if (!id || id in policies) fail(`policy without a unique @id: ${text}`);
  policies[id] = text;
  if (json.json.annotations.approval === 'required') needsApproval.add(id);
}
const count = Object.keys(policies).length;
if (count !== deputy.cedar_policies) {
  fail(`${count} Cedar policies, expected ${deputy.cedar_policies}`);
}
const pre = cedar.preparsePolicySet('deputy', { staticPolicies: policies });
if (pre.type !== 'success') fail(`preparse: ${errors(pre.errors)}`);
if (requests.length !== deputy.decisions.length) fail('request count differs');

const call = (r) => ({
  principal: r.principal,
  action: r.action,
  resource: r.resource,
  context: r.context,
  entities: r.entities,
  preparsedPolicySetId: 'deputy',
});

// 2. Decide every request and compare.
const effectOf = (response) => {
  const reasons = response.diagnostics.reason;
  if (response.decision === 'deny') return 'deny';
  return reasons.every((id) => needsApproval.has(id)) ? 'needs_approval' : 'allow';
};
const sameSet = (a, b) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

function compare(i, answer) {
  const want = deputy.decisions[i];
  if (answer.type !== 'success') return `Cedar failed: ${errors(answer.errors)}`;
  const { response } = answer;
  if (response.diagnostics.errors.length > 0) {
    return `Cedar evaluation errors: ${JSON.stringify(response.diagnostics.errors)}`;
  }
  const got = effectOf(response);
  const reasons = response.diagnostics.reason;
  if (got !== want.effect) return `effect: deputy ${want.effect}, Cedar ${got}`;
  if (got !== 'deny' && !sameSet(reasons, want.grants)) {
    return `grants: deputy [${want.grants}], Cedar [${reasons}]`;
  }
  if (got === 'deny' && want.rule !== '' && !reasons.includes(want.rule)) {
    return `deny: deputy ${want.rule}, Cedar [${reasons}]`;
  }
  if (got === 'deny' && want.rule === '' && reasons.length > 0) {
    return `deny: deputy found no grant, Cedar [${reasons}]`;
  }
  return '';
}

let effectAgree = 0;
let fullAgree = 0;
const mismatches = [];
requests.forEach((r, i) => {
  const answer = cedar.statefulIsAuthorized(call(r));
  const why = compare(i, answer);
  const sameEffect =
    answer.type === 'success' && effectOf(answer.response) === deputy.decisions[i].effect;
  if (sameEffect) effectAgree++;
  if (why === '') {
    fullAgree++;
  } else {
    mismatches.push({ i, why, sent: deputy.decisions[i].sent, cedar: r });
  }
});

// 3. Time it: a warm-up pass (the one above), then whole passes, then one
// pass with every call timed on its own.
const now = () => process.hrtime.bigint();
let sink = 0;
const passNs = [];
for (let p = 0; p < passes; p++) {
  const t0 = now();
  for (const r of requests) {
    const answer = cedar.statefulIsAuthorized(call(r));
    sink += answer.response.decision.length;
  }
  passNs.push(Number(now() - t0) / requests.length);
}
const each = [];
for (const r of requests) {
  const t0 = now();
  const answer = cedar.statefulIsAuthorized(call(r));
  const t1 = now();
  sink += answer.response.decision.length;
  each.push(Number(t1 - t0));
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const quantile = (v, q) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

// Cedar's fixed cost per call: the same requests against an empty
// policy set (marshalling, entity store, answer), one pass.
const empty = cedar.preparsePolicySet('empty', { staticPolicies: {} });
if (empty.type !== 'success') fail(`preparse: ${errors(empty.errors)}`);
const emptyCall = (r) => ({ ...call(r), preparsedPolicySetId: 'empty' });
for (const r of requests.slice(0, 256)) cedar.statefulIsAuthorized(emptyCall(r));
const e0 = now();
for (const r of requests) sink += cedar.statefulIsAuthorized(emptyCall(r)).type.length;
const emptyNs = Number(now() - e0) / requests.length;

// Plain isAuthorized re-parses the policy text on every call.
const statelessN = Math.min(50, requests.length);
let statelessAgree = 0;
const statelessCall = (r) => ({
  principal: r.principal,
  action: r.action,
  resource: r.resource,
  context: r.context,
  entities: r.entities,
  policies: { staticPolicies: policies },
});
for (let i = 0; i < 3; i++) cedar.isAuthorized(statelessCall(requests[i]));
const s0 = now();
for (let i = 0; i < statelessN; i++) {
  const answer = cedar.isAuthorized(statelessCall(requests[i]));
  if (compare(i, answer) === '') statelessAgree++;
}
const statelessNs = Number(now() - s0) / statelessN;

// 4. Report.
const t = deputy.timing;
const cedarMean = median(passNs);
const us = (ns) => `${(ns / 1000).toFixed(ns < 10000 ? 2 : 1)} us`;
const n = requests.length;
const mix = Object.entries(deputy.mix)
  .map(([k, v]) => `${k} ${((100 * v) / n).toFixed(1)}%`)
  .join(', ');
console.log(
  `policy set: ${deputy.grants} grants + ${deputy.forbids} forbids ` +
    `(+3 invariants) = ${count} Cedar policies; ${n} requests`,
);
console.log(`  deputy's decisions: ${mix}`);
console.log(
  `deputy gate (C++, decision + Explain): p50 ${us(t.p50_ns)}, ` +
    `p99 ${us(t.p99_ns)} (${t.samples} timed one by one); ` +
    `mean ${us(t.mean_ns)} (median of whole passes)`,
);
console.log(
  `Cedar ${cedar.getCedarVersion()} (cedar-wasm, Node ${process.versions.node}, ` +
    `preparsed policy set): median ${us(cedarMean)} per decision ` +
    `(${passes} passes); one by one p50 ${us(quantile(each, 0.5))}, ` +
    `p99 ${us(quantile(each, 0.99))}`,
);
console.log(
  `ratio (Cedar / deputy): ${(cedarMean / t.mean_ns).toFixed(0)}x per decision ` +
    `(mean vs mean); ${(quantile(each, 0.5) / t.p50_ns).toFixed(0)}x at p50`,
);
console.log(
  `  of which fixed per call (same requests, empty policy set): ${us(emptyNs)}`,
);
console.log(
  `Cedar isAuthorized, policy text parsed per call: ${us(statelessNs)} per ` +
    `decision (first ${statelessN} requests; agree ${statelessAgree}/${statelessN})`,
);
console.log(
  `decisions agree: ${effectAgree}/${n} ` +
    `(grants and deciding rule too: ${fullAgree}/${n})`,
);
if (sink < 0) console.log(sink);

for (const m of mismatches.slice(0, 20)) {
  console.log(`MISMATCH request ${m.i}: ${m.why}`);
  console.log(`  deputy action: ${JSON.stringify(m.sent)}`);
  console.log(`  Cedar request: ${JSON.stringify(m.cedar)}`);
}
if (mismatches.length > 20) console.log(`... ${mismatches.length - 20} more`);
process.exit(mismatches.length === 0 && statelessAgree === statelessN ? 0 : 1);
