#!/usr/bin/env bash
# Installs what the tests use from the operating system, if it is missing:
#   dnsmasq   - the real DNS server the DNS resolver tests run against (tests start it on 127.0.0.1, free port)
#   chromium  - the browser the diagnostics page test drives through Playwright
# Idempotent: does nothing when both are present. Needs root (or sudo) and apt-get when something is missing.
set -euo pipefail

missing=()
command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "tests/setup.sh: missing ${missing[*]}; install them with your package manager (Debian names: ${missing[*]})." >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "tests/setup.sh: need root to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi

echo "tests/setup.sh: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
