#!/usr/bin/env bash
# Runs molecule scenarios one after another (each boots and removes its own lab),
# prints each one's wall time and result, and fails when any scenario failed.
#   tools/run-molecule.sh SCENARIO...
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
mkdir -p .build/molecule
failed=()
summary=()
for scenario in "$@"; do
  log=.build/molecule/$scenario.log
  start=$(date +%s)
  echo "molecule: $scenario (log: $log)"
  if molecule test -s "$scenario" >"$log" 2>&1; then result=passed; else result=FAILED; failed+=("$scenario"); fi
  seconds=$(( $(date +%s) - start ))
  summary+=("$(printf '%-22s %-7s %5d s' "$scenario" "$result" "$seconds")")
  [[ $result == passed ]] || tail -n 60 "$log"
done
echo
echo "molecule scenarios:"
printf '  %s\n' "${summary[@]}"
passed=$(( $# - ${#failed[@]} ))
for scenario in "${failed[@]}"; do
  # CI shows only the end of the output: repeat why each scenario failed, last.
  echo "--- $scenario: first failure in .build/molecule/$scenario.log"
  grep -m1 -B3 -A12 -E '^fatal:|FAILED!|^ERROR|Error:' ".build/molecule/$scenario.log" | cut -c1-400
done
echo "${passed} passed, ${#failed[@]} failed"
((${#failed[@]} == 0))
