#!/usr/bin/env bash
# Removes what deploy/install.sh installed: the units, the package, the qemu
# launcher, the polkit rule and the system user. Keeps /etc/colo-ft unless
# --purge. VM images under /var/lib/colo-ft are never removed.
#
#   deploy/uninstall.sh [--root DIR] [--prefix /opt/colo-ft] [--purge] [--keep-user]
#
# Agents are stopped; VMs they run keep running in their colo-ft-qemu-*
# scopes (listed at the end), unprotected: stop them yourself if you mean to.
# --root DIR (or DESTDIR=DIR) removes below DIR only, with no user or
# systemctl changes; without systemd as PID 1, systemctl is skipped.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

root="${DESTDIR:-}"
prefix=/opt/colo-ft
sysconfdir=/etc/colo-ft
unitdir=/etc/systemd/system
purge=0
keep_user=0

while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#*=}"; shift ;;
    --prefix) prefix="${2:?}"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --purge) purge=1; shift ;;
    --keep-user) keep_user=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$prefix" in /*) ;; *) echo "uninstall.sh: --prefix must be absolute" >&2; exit 2 ;; esac
[ "$prefix" != / ] || { echo "uninstall.sh: refusing --prefix /" >&2; exit 2; }
if [ -n "$root" ]; then
  [ -d "$root" ] || { echo "uninstall.sh: $root does not exist" >&2; exit 2; }
  root="$(cd "$root" && pwd)"
fi
say() { echo "uninstall: $*"; }
systemd_here=0
[ -z "$root" ] && [ -d /run/systemd/system ] && systemd_here=1

if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then echo "uninstall.sh: run as root (or use --root DIR)" >&2; exit 1; fi

units=(colo-ft-agent@.service colo-ft-serve@.service colo-ft-vms.slice)

if [ "$systemd_here" = 1 ]; then
  # Instances first; stopping an agent leaves its VM running in its scope.
  mapfile -t running < <(systemctl list-units --all --plain --no-legend 'colo-ft-agent@*' 'colo-ft-serve@*' | awk '{print $1}')
  for u in "${running[@]}"; do
    [ -n "$u" ] || continue
    systemctl disable --now "$u" >/dev/null 2>&1 || true
    say "stopped and disabled $u"
  done
fi

for u in "${units[@]}"; do
  if [ -e "$root$unitdir/$u" ]; then rm -f "$root$unitdir/$u"; say "removed ${unitdir}/$u"; fi
  rm -rf "$root$unitdir/$u.d"
done
for wants in "$root$unitdir"/*.wants; do
  [ -d "$wants" ] || continue
  find "$wants" -maxdepth 1 -name 'colo-ft-*' -type l -delete
done
if [ -e "$root/etc/polkit-1/rules.d/50-colo-ft.rules" ]; then
  rm -f "$root/etc/polkit-1/rules.d/50-colo-ft.rules"
  say "removed /etc/polkit-1/rules.d/50-colo-ft.rules"
fi
if [ -d "$root$prefix" ]; then rm -rf "${root:?}$prefix"; say "removed ${prefix}"; fi

if [ "$purge" = 1 ]; then
  if [ -d "$root$sysconfdir" ]; then rm -rf "${root:?}$sysconfdir"; say "removed ${sysconfdir} (--purge)"; fi
else
  [ -d "$root$sysconfdir" ] && say "kept ${sysconfdir} (use --purge to remove it)"
fi

if [ -z "$root" ]; then
  if [ "$keep_user" = 0 ] && id -u colo-ft >/dev/null 2>&1; then
    userdel colo-ft && say "removed system user colo-ft"
  fi
  if [ "$systemd_here" = 1 ]; then
    systemctl daemon-reload
    scopes="$(systemctl list-units --plain --no-legend 'colo-ft-qemu-*' | awk '{print $1}')"
    if [ -n "$scopes" ]; then
      say "these VMs are still running, unprotected:"
      echo "$scopes" | sed 's/^/  /'
    fi
  else
    say "systemd is not PID 1 here: skipped systemctl"
  fi
  [ -d /var/lib/colo-ft ] && say "kept /var/lib/colo-ft (VM images): remove it by hand if you mean to"
fi
say "done"
