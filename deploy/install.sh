#!/usr/bin/env bash
# Installs colo-ft from this checkout: the package into /opt/colo-ft, the
# systemd units into /etc/systemd/system, the config directory /etc/colo-ft
# (example config, node.env), the qemu scope launcher, the polkit rule, and
# the system user colo-ft. Idempotent: run it again to upgrade; existing
# configs are never overwritten, and a running VM is never touched (the agent
# picks up the new code on `systemctl restart colo-ft-agent@PAIR`, adopting
# its qemu).
#
#   deploy/install.sh [--root DIR] [--prefix /opt/colo-ft] [--node NAME]
#                     [--agent-user colo-ft|root] [--skip-deps] [--node-bin PATH]
#
# --root DIR (or DESTDIR=DIR) installs below DIR and touches nothing else on
# this system: no user or group is created, systemctl is not called. This is
# how packaging and the tests use it. Without systemd as PID 1 (containers),
# the files are installed and systemctl is skipped.
set -euo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

root="${DESTDIR:-}"
prefix=/opt/colo-ft
sysconfdir=/etc/colo-ft
unitdir=/etc/systemd/system
node_name=""
agent_user=colo-ft
skip_deps=0
node_bin=""

while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#*=}"; shift ;;
    --prefix) prefix="${2:?}"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --node) node_name="${2:?}"; shift 2 ;;
    --node=*) node_name="${1#*=}"; shift ;;
    --agent-user) agent_user="${2:?}"; shift 2 ;;
    --agent-user=*) agent_user="${1#*=}"; shift ;;
    --node-bin) node_bin="${2:?}"; shift 2 ;;
    --node-bin=*) node_bin="${1#*=}"; shift ;;
    --skip-deps) skip_deps=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$agent_user" in colo-ft|root) ;; *) echo "install.sh: --agent-user must be colo-ft or root" >&2; exit 2 ;; esac
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be absolute" >&2; exit 2 ;; esac
if [ -n "$root" ]; then
  mkdir -p "$root"
  root="$(cd "$root" && pwd)"
fi

src="$(cd "$(dirname "$0")/.." && pwd)"
say() { echo "install: $*"; }

# Which node binary the units run: /usr/bin/node unless told or only found elsewhere.
if [ -z "$node_bin" ]; then
  if [ -x /usr/bin/node ]; then node_bin=/usr/bin/node; else node_bin="$(command -v node || true)"; fi
fi
[ -n "$node_bin" ] || { echo "install.sh: node not found (install nodejs 20, or pass --node-bin)" >&2; exit 1; }

# 1. The build. A checkout without dist/ is built first.
if [ ! -f "$src/dist/cli/main.js" ]; then
  say "building in $src"
  (cd "$src" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
fi

# Write a file only when its content changes; report what happened.
put() { # put MODE SOURCE DEST
  local mode="$1" from="$2" to="$3"
  mkdir -p "$(dirname "$to")"
  if [ -f "$to" ] && cmp -s "$from" "$to"; then
    chmod "$mode" "$to"
    return 0
  fi
  install -m "$mode" "$from" "$to"
  say "wrote ${to#"$root"}"
}

render() { # render SOURCE: the shipped text with this install's paths
  sed -e "s#/opt/colo-ft#${prefix}#g" \
      -e "s#^ExecStart=/usr/bin/node #ExecStart=${node_bin} #" \
      "$1" | if [ "$agent_user" = root ]; then
        # root agent: no polkit grant needed to create the qemu scopes
        sed -e 's/^User=colo-ft$/User=root/' -e 's/^Group=colo-ft$/Group=root/' -e 's/^CapabilityBoundingSet=$/CapabilityBoundingSet=~CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_BOOT CAP_SYS_TIME/'
      else cat; fi
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# 2. The package: dist/, package metadata, README and deploy/ for reference.
dest="$root$prefix"
mkdir -p "$dest"
stage="$dest/.dist.new"
rm -rf "$stage"
cp -a "$src/dist" "$stage"
if [ -d "$dest/dist" ] && diff -rq "$stage" "$dest/dist" >/dev/null 2>&1; then
  rm -rf "$stage"
else
  # Swap in one rename: a running agent keeps the code it loaded.
  rm -rf "$dest/dist.old"
  [ -d "$dest/dist" ] && mv "$dest/dist" "$dest/dist.old"
  mv "$stage" "$dest/dist"
  rm -rf "$dest/dist.old"
  say "wrote ${prefix}/dist"
fi
for f in package.json package-lock.json README.md; do
  [ -f "$src/$f" ] && put 0644 "$src/$f" "$dest/$f"
done
for f in "$src"/deploy/example-pair.yaml "$src"/deploy/agent-node.env "$src"/deploy/nats/*; do
  [ -f "$f" ] || continue
  mode=0644; [ -x "$f" ] && mode=0755
  put "$mode" "$f" "$dest/deploy/${f#"$src/deploy/"}"
done
put 0755 "$src/deploy/libexec/qemu-system-x86_64" "$dest/libexec/qemu-system-x86_64"
put 0755 "$src/deploy/libexec/socat" "$dest/libexec/socat"

# 3. Production dependencies, only when the lock file changed since the last install.
if [ "$skip_deps" = 1 ]; then
  say "skipping npm ci --omit=dev (--skip-deps)"
else
  stamp="$dest/node_modules/.colo-ft-lock.sha256"
  want="$(sha256sum "$dest/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "npm ci --omit=dev in ${prefix}"
    (cd "$dest" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
fi

# 4. systemd units, rendered for this prefix and node binary.
for u in "$src"/deploy/systemd/*; do
  render "$u" > "$tmp/unit"
  put 0644 "$tmp/unit" "$root$unitdir/$(basename "$u")"
done

# 5. polkit: lets user colo-ft create the qemu scopes (see the rule's comment).
if [ "$agent_user" = colo-ft ]; then
  put 0644 "$src/deploy/polkit/50-colo-ft.rules" "$root/etc/polkit-1/rules.d/50-colo-ft.rules"
fi

# 6. The config directory; configs already there are left alone.
conf="$root$sysconfdir"
mkdir -p "$conf"
chmod 0750 "$conf"
put 0644 "$src/deploy/example-pair.yaml" "$conf/example-pair.yaml.example"
if [ ! -f "$conf/node.env" ]; then
  [ -n "$node_name" ] || node_name="$(hostname -s 2>/dev/null || echo node)"
  printf '# Which node of the pair configs this host is (the agent unit passes it as --node).\nCOLO_FT_NODE=%s\n' "$node_name" > "$conf/node.env"
  chmod 0644 "$conf/node.env"
  say "wrote ${sysconfdir}/node.env (COLO_FT_NODE=${node_name})"
fi

# 7. The system user, the kvm group and ownership; never in --root mode.
if [ -n "$root" ]; then
  say "--root mode: no user, group or systemctl changes"
else
  if [ "$(id -u)" -ne 0 ]; then echo "install.sh: run as root (or use --root DIR)" >&2; exit 1; fi
  getent group kvm >/dev/null || { groupadd --system kvm; say "created group kvm"; }
  if ! id -u colo-ft >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/colo-ft --no-create-home --shell /usr/sbin/nologin --comment "colo-ft agent" colo-ft
    say "created system user colo-ft"
  fi
  chgrp colo-ft "$conf"
  for f in "$conf"/*.yaml; do [ -f "$f" ] && chgrp colo-ft "$f" && chmod 0640 "$f"; done
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    say "systemctl daemon-reload done"
  else
    say "systemd is not PID 1 here: skipped systemctl daemon-reload"
  fi
fi

cat <<EOF
install: done. Next, on each host of the pair:
  1. write ${sysconfdir}/PAIR.yaml (start from example-pair.yaml.example; nats user/password from gen-nats-config)
  2. check ${sysconfdir}/node.env names this host's node, then: colo-ft config check ${sysconfdir}/PAIR.yaml
  3. systemctl enable --now colo-ft-agent@PAIR.service
EOF
