#!/bin/sh
# runfleet job hook (ACTIONS_RUNNER_HOOK_JOB_COMPLETED): records when the
# runner's job ended, for the agent's timing and outcome. Never fails the job.
d=${RUNFLEET_STATE_DIR:-/runfleet/state}
t=$(date +%s.%N 2>/dev/null)
case $t in *N*|"") t=$(date +%s) ;; esac
# The run the job belongs to lets the agent ask GitHub for its conclusion.
[ -d "$d" ] && [ -w "$d" ] && echo "completed $t repo=${GITHUB_REPOSITORY:-} run_id=${GITHUB_RUN_ID:-} run_attempt=${GITHUB_RUN_ATTEMPT:-}" >> "$d/events"
exit 0
