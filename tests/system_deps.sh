#!/usr/bin/env bash
# Installs what the PostgreSQL and browser tests need from Debian's packages, when it is
# missing and this user may install (root). Otherwise says what is missing: outside CI
# those tests then skip with that reason; with CI=true they fail.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || missing+=(fonts-noto-cjk)

if [ ${#missing[@]} -eq 0 ]; then
  echo "system deps: postgresql, chromium and CJK fonts present"
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null; then
  echo "system deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
  echo "system deps: installed ${missing[*]}"
else
  echo "system deps: missing ${missing[*]} (install them as root: apt-get install ${missing[*]});"
  echo "the tests that need them will skip outside CI and fail in CI."
fi
