#!/usr/bin/env bash
# System packages assay uses when it may install them (as root with apt).
# Without them assay still runs and says loudly what is missing (`assay doctor`).
set -u
want=()
command -v bwrap >/dev/null 2>&1 || want+=(bubblewrap)
command -v valgrind >/dev/null 2>&1 || want+=(valgrind)
# the report's browser test and load-time bench (headless, driven by playwright; skipped without it)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${want[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}") >/dev/null 2>&1 \
    || echo "warning: could not install ${want[*]}; assay will run with weaker isolation (and the report's browser test is skipped without chromium)" >&2
else
  echo "warning: missing ${want[*]} (install them for full isolation and the report's browser test: apt-get install ${want[*]})" >&2
fi
exit 0
