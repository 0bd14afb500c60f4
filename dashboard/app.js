// colo-ft dashboard: follows /events (SSE, one VM status per message) and
// renders one card per VM. Many VMs: updates are batched per animation frame
// and only changed cards are redrawn; the list is sorted and filterable.
import { pauseChart } from './chart.js';

const vms = new Map(); // key -> latest status
const dirty = new Set(); // keys whose card must be redrawn
const cards = new Map(); // key -> element
let orderDirty = true;
let frame = 0;

const $ = (id) => document.getElementById(id);
const keyOf = (v) => `${v.pair}/${v.vm}`;
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const ms = (v) => (v === null || v === undefined ? '-' : `${v >= 100 ? Math.round(v) : Math.round(v * 10) / 10} ms`);
const time = (at) => new Date(at).toLocaleTimeString([], { hour12: false });
const byName = (a, b) => a.localeCompare(b, 'en', { numeric: true });

/** protected | failing-over | unprotected, from the feed's own fields and the event timeline. */
export function stateOf(v) {
  if (v.protected) return 'protected';
  const decisive = v.events.filter((e) => e.kind !== 'resync-started' && e.kind !== 'resync-done');
  const last = decisive[decisive.length - 1];
  return last && last.kind === 'failover-started' ? 'failing-over' : 'unprotected';
}

/** What the node's VM is doing, in plain words: a COLO secondary is "paused" to qemu but follows the primary. */
export function vmStateWords(n) {
  if (n.qemuPid === null && n.runState === null) return 'no qemu running';
  if (n.coloMode === 'primary') return 'COLO primary: serving, replicated to the secondary';
  if (n.coloMode === 'secondary') return 'COLO secondary: following the primary';
  if (n.runState === 'inmigrate') return 'waiting for the COLO stream';
  if (n.runState === 'running') return 'serving alone, not replicated';
  return `qemu ${n.runState ?? 'state unknown'}`;
}

/** Why a node took over, said as what happened to its peer rather than in qemu's words. */
export function takeoverWords(trigger, peer) {
  const t = trigger ?? '';
  if (/reports its qemu is gone|qemu (died|exited|is gone)/.test(t)) return `${peer}'s qemu died`;
  if (/left COLO (primary|secondary) mode|COLO_EXIT|COLO failed/.test(t)) return `the COLO stream with ${peer} broke`;
  if (/heartbeat|silent/i.test(t)) return `${peer} went silent (no heartbeat)`;
  if (/lease/i.test(t)) return `${peer} lost the lease`;
  return t || 'unknown';
}

function nodeLine(n) {
  if (!n.reachable) return `<li class="node down"><b>${esc(n.node)}</b> unreachable <span class="why">${esc(n.reason)}</span></li>`;
  const hb = n.heartbeatAgeMs === null ? '' : ` · peer heartbeat ${ms(n.heartbeatAgeMs)} ago`;
  const nats = n.natsConnected === false ? ' · <span class="warn">NATS down</span>' : '';
  const tls = n.dataTls === false ? ' · <span class="warn" title="replication.tls is off: the NBD export and the COLO stream accept anyone who can reach their ports">no TLS on the data channels</span>' : '';
  return (
    `<li class="node"><b>${esc(n.node)}</b> <span class="role role-${esc(n.role)}">${esc(n.role)}</span> ` +
    `${esc(n.phase)} · <span class="vm-state" title="qemu run state ${esc(n.runState ?? '-')}, COLO mode ${esc(n.coloMode ?? '-')}">${esc(vmStateWords(n))}</span>${hb}${nats}${tls}${diskLines(n)}${nicLines(n)}</li>`
  );
}

/** Replication per disk, as the node's last audit of qemu's block graph found it; a degraded disk shows red with its reason. */
function diskLines(n) {
  const disks = n.disks ?? [];
  if (!disks.length) return n.replication ? ` · <span class="repl repl-${esc(n.replication.state)}">${esc(n.replication.state)}</span>` : '';
  const items = disks.map((d) => {
    const r = d.replication;
    const why = r.state === 'replicating' ? '' : ` <span class="why">${esc(r.reason)}</span>`;
    return `<span class="disk repl-${esc(r.state)}" data-disk="${d.index}">disk ${d.index}: ${esc(r.state)}${why}</span>`;
  });
  return `<div class="disks">${items.join('')}</div>`;
}

/** Each NIC's COLO proxy as qemu holds it, and colo-compare's figures on the node running it. */
function nicLines(n) {
  const nics = n.nics ?? [];
  if (!nics.length) return '';
  const items = nics.map((c) => {
    const state = c.proxied ? c.proxy ?? 'unknown' : 'not proxied';
    const figures = c.packetsCompared === null ? '' : ` · ${c.packetsCompared} compared, ${c.miscompares} miscompares, ${c.miscompareCheckpoints} forced checkpoints`;
    return `<span class="nic proxy-${esc(state)}" data-nic="${c.index}">nic ${c.index}: proxy ${esc(state)}${figures}</span>`;
  });
  return `<div class="nics">${items.join('')}</div>`;
}

function resyncBlock(r) {
  if (!r) return '';
  const pct = r.bytesTotal ? Math.min(100, (100 * r.bytesDone) / r.bytesTotal) : null;
  const mib = (b) => (b / 1048576).toFixed(1);
  const eta = r.doneAt === null && r.etaMs !== null ? `, ${Math.ceil(r.etaMs / 1000)} s left` : '';
  const phase = /^resync/.test(r.phase) ? r.phase : `resync ${r.phase}`;
  const label = `${esc(phase)} ${esc(r.node)} -> ${esc(r.peer)}: ${mib(r.bytesDone)} / ${mib(r.bytesTotal)} MiB at ${mib(r.rateBytesPerSec)} MiB/s${eta}`;
  return `<div class="resync"><progress max="100" ${pct === null ? '' : `value="${pct.toFixed(1)}"`}></progress> <span>${label}</span></div>`;
}

function leaseLine(l) {
  if (!l) return '';
  const left = Math.round((l.expiresAtMs - Date.now()) / 100) / 10;
  return `<span class="lease">lease ${esc(l.holder ?? 'released')}${l.holder ? `, ${left > 0 ? `expires in ${left} s` : 'expired'}` : ''}</span>`;
}

function timeline(events) {
  if (!events.length) return '<ol class="timeline"><li class="none">no events yet</li></ol>';
  const items = events
    .slice(-8)
    .reverse()
    .map((e) => `<li class="ev ev-${esc(e.kind)}" title="${esc(e.reason)}"><time>${time(e.at)}</time> <b>${esc(e.kind)}</b> ${esc(e.node)} · epoch ${e.epoch}</li>`);
  return `<ol class="timeline">${items.join('')}</ol>`;
}

function pct(f) {
  return f === null ? '-' : `${(f * 100).toFixed(1)} %`;
}

function cardHtml(v) {
  const state = stateOf(v);
  const badge = { protected: 'PROTECTED', 'failing-over': 'FAILING OVER', unprotected: 'NOT PROTECTED' }[state];
  const c = v.checkpoints;
  const peer = v.failover ? v.nodes.find((n) => n.node !== v.failover.node)?.node ?? 'the peer' : '';
  const fo = v.failover && v.failover.takeoverAt ? `<div class="failover" title="${esc(v.failover.trigger ?? '')}">took over on ${esc(v.failover.node)} at ${time(v.failover.takeoverAt)}: ${esc(takeoverWords(v.failover.trigger, peer))}</div>` : '';
  // Unprotected, the figures are those of the last checkpoint: greyed, with their age.
  const stale = !v.protected && c.lastAgeMs !== null;
  const age = stale ? ` <span class="age">(last checkpoint ${Math.round(c.lastAgeMs / 1000)} s ago)</span>` : '';
  return (
    `<header><h2><span class="pair">${esc(v.pair)} /</span> ${esc(v.vm)}</h2>` +
    `<span class="badge" data-state="${state}">${badge}</span><span class="epoch">epoch <b class="epoch-value">${v.epoch}</b></span></header>` +
    `<p class="reason">${esc(v.reason)}</p>` +
    `<ul class="nodes">${v.nodes.map(nodeLine).join('')}</ul>` +
    fo +
    `<div class="figures${stale ? ' stale' : ''}">checkpoints ${c.count} (${c.ratePerSec}/s) · last pause ${ms(c.lastPauseMs)} · <span class="pause-stats">pause p50 ${ms(c.pauseMsP50 ?? null)}, p99 ${ms(c.pauseMsP99 ?? null)}, stopped ${pct(c.pausedFraction ?? null)} of the last minute</span>${age} · ${leaseLine(v.lease)}</div>` +
    pauseChart(v.lastPausesMs) +
    resyncBlock(v.resync) +
    timeline(v.events)
  );
}

function matches(v, filter, text) {
  const st = stateOf(v);
  if (filter === 'protected' && st !== 'protected') return false;
  if (filter === 'problem' && st === 'protected') return false;
  if (filter === 'failing-over' && st !== 'failing-over') return false;
  return !text || keyOf(v).toLowerCase().includes(text);
}

const RANK = { 'failing-over': 0, unprotected: 1, protected: 2 };

function sorted(list, how) {
  const name = (a, b) => byName(a.pair, b.pair) || byName(a.vm, b.vm);
  if (how === 'name') return list.sort(name);
  if (how === 'epoch') return list.sort((a, b) => b.epoch - a.epoch || name(a, b));
  return list.sort((a, b) => RANK[stateOf(a)] - RANK[stateOf(b)] || name(a, b));
}

function render() {
  frame = 0;
  for (const key of dirty) {
    const v = vms.get(key);
    let el = cards.get(key);
    if (!el) {
      el = document.createElement('article');
      el.className = 'vm';
      el.dataset.key = key;
      cards.set(key, el);
      orderDirty = true;
    }
    const state = stateOf(v);
    if (el.dataset.state !== state) orderDirty = true;
    el.dataset.state = state;
    el.innerHTML = cardHtml(v);
  }
  dirty.clear();
  if (orderDirty) reorder();
  summarize();
}

function reorder() {
  orderDirty = false;
  const filter = $('state-filter').value;
  const text = $('search').value.trim().toLowerCase();
  const shown = sorted([...vms.values()].filter((v) => matches(v, filter, text)), $('sort').value);
  const main = $('vms');
  const wanted = shown.map((v) => cards.get(keyOf(v)));
  // Only touch the DOM where the order differs, so 200 cards stay cheap.
  wanted.forEach((el, i) => {
    if (main.children[i] !== el) main.insertBefore(el, main.children[i] ?? null);
  });
  while (main.children.length > wanted.length) main.lastElementChild.remove();
  $('shown').textContent = `${shown.length} of ${vms.size} shown`;
}

function summarize() {
  const all = [...vms.values()];
  const prot = all.filter((v) => v.protected).length;
  const fo = all.filter((v) => stateOf(v) === 'failing-over').length;
  $('summary').textContent = `${all.length} VMs · ${prot} protected · ${all.length - prot} not protected${fo ? ` · ${fo} failing over` : ''}`;
  $('empty').hidden = all.length > 0;
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(render);
}

function connect() {
  const es = new EventSource('/events');
  const conn = $('conn');
  es.onopen = () => {
    conn.dataset.state = 'live';
    conn.textContent = 'live';
  };
  es.onerror = () => {
    conn.dataset.state = 'reconnecting';
    conn.textContent = 'reconnecting';
  };
  es.onmessage = (m) => {
    const v = JSON.parse(m.data);
    const key = keyOf(v);
    vms.set(key, v);
    dirty.add(key);
    schedule();
  };
}

for (const id of ['state-filter', 'sort', 'search']) {
  $(id).addEventListener('input', () => {
    orderDirty = true;
    schedule();
  });
}
connect();
