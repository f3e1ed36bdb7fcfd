#!/bin/sh
# runfleet job hook (ACTIONS_RUNNER_HOOK_JOB_COMPLETED): records when the
# runner's job ended, for the agent's timing. Never fails the job.
d=${RUNFLEET_STATE_DIR:-/runfleet/state}
t=$(date +%s.%N 2>/dev/null)
case $t in *N*|"") t=$(date +%s) ;; esac
[ -d "$d" ] && [ -w "$d" ] && echo "completed $t" >> "$d/events"
exit 0
