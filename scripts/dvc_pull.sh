#!/usr/bin/env bash
# Get the study's artifacts from the DVC remote into this clone, ready for Snakemake:
#
#     scripts/dvc_pull.sh [snakemake targets]      (or: make pull)
#
# 1. dvc pull: every output recorded in dvc.lock, from the default remote (.dvc/config).
# 2. dvc status: the workspace must now match dvc.lock, else stop (something is stale).
# 3. snakemake --touch: DVC restores files in no particular order (tables before metrics,
#    say), and Snakemake reruns a job whose input is newer than its output whatever
#    --rerun-triggers says. Touching the outputs in DAG order gives the restored files the
#    order they were made in; it changes no content and fails on a missing output.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

"$BIN/dvc" pull
if ! "$BIN/dvc" status --quiet; then
  echo "dvc_pull: the workspace differs from dvc.lock (see: $BIN/dvc status)" >&2
  exit 1
fi
"$BIN/snakemake" --touch "$@"
