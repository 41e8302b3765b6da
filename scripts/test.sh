#!/usr/bin/env bash
# The project's test command (`npm test`): lint, typecheck, then unit, integration and replay tests
# against the local stack, which it brings up (or reuses). Ends with `tests: N passed, M failed`,
# where lint and typecheck count as one check each.
set -uo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

step() { printf '\n== %s\n' "$*"; }
checks_passed=0
checks_failed=0
check() {
  local name=$1; shift
  step "$name"
  if "$@"; then checks_passed=$((checks_passed + 1)); else checks_failed=$((checks_failed + 1)); echo "$name: FAILED"; fi
}

check lint npx eslint .
check typecheck npx tsc --noEmit -p .

step "stack (starts what is missing; the first run builds the Temporal CLI and may take minutes)"
if ! npx tsx scripts/stack.ts up; then
  echo "tests: ${checks_passed} passed, $((checks_failed + 1)) failed"
  exit 1
fi

# Counts of a vitest JSON report: "passed failed"; a missing or empty report is one failure.
report_counts() {
  node -e '
    const fs = require("node:fs");
    const file = process.argv[1];
    if (!fs.existsSync(file)) { console.log("0 1"); process.exit(0); }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    console.log(`${r.numPassedTests} ${r.numFailedTests + (r.numTotalTests === 0 ? 1 : 0)}`);
  ' "$1"
}

passed=$checks_passed
failed=$checks_failed
mkdir -p .stack
# The build's platform and the fault suite each start a control API of their own, so each runs alone,
# after the others; the fault suite also restarts shared services.
for pass in "unit, integration and replay tests:--project unit --project sandbox --project integration:test-report.json" \
            "the platform from the build (npm run build, then the processes on plain node):--project production:production-report.json" \
            "fault injection (restarts Temporal, PostgreSQL and a gateway under running syncs):--project faults:fault-report.json"; do
  IFS=: read -r title projects file <<<"$pass"
  step "$title"
  report=".stack/$file"
  rm -f "$report"
  # shellcheck disable=SC2086
  npx vitest run $projects --reporter=default --reporter=json --outputFile.json="$report"
  vitest_rc=$?
  read -r p f <<<"$(report_counts "$report")"
  if [ "$vitest_rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
done
echo "tests: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
