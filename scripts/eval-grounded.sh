#!/usr/bin/env bash
# npm run eval:grounded [-- --n 100 --seed 1]: the sources of answers measured on four repositories the
# model never trained on, one per language family: cobra (Go) and rack (Ruby), from Debian's packaged
# sources (installed with apt-get when missing and run as root), commander (JavaScript, from node_modules)
# and Python's http package. Each is copied to a temporary directory first (nothing is written next to the
# installed sources) and evaluated on its own: `e2code eval --repo <dir> --grounded`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cobra=/usr/share/gocode/src/github.com/spf13/cobra
if [ ! -d "$cobra" ] || ! ls -d /usr/share/rubygems-integration/all/gems/rack-* >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-github-spf13-cobra-dev ruby-rack >/dev/null
  else
    echo "eval-grounded: install the held-out sources first: sudo apt-get install golang-github-spf13-cobra-dev ruby-rack" >&2
    exit 2
  fi
fi
rack=$(ls -d /usr/share/rubygems-integration/all/gems/rack-* | sort -V | tail -1)
pyhttp=$(python3 -c 'import http, os; print(os.path.dirname(http.__file__))')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$cobra" "$work/cobra"; cp -r "$rack" "$work/rack"; cp -r "$root/node_modules/commander" "$work/commander"; cp -r "$pyhttp" "$work/http"
cd "$root"
for repo in cobra rack commander http; do
  echo "=== $repo" >&2
  node --import tsx src/cli/main.ts eval --repo "$work/$repo" --grounded "$@"
done
