#!/usr/bin/env bash
# System packages the tests need. Installed only when missing, and only when we may (root).
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
# The hardening suite watches a live sidecar's system calls (test/hardening/telemetry.test.ts).
command -v strace >/dev/null || need+=(strace)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing system packages (${need[*]}); install them with apt-get as root" >&2
  fi
fi
