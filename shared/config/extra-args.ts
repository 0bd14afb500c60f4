/**
 * The deny list for a VM's `extraArgs`: what colo-ft owns on qemu's command
 * line. Pure; each refusal names the argument and why.
 */

/** Flags colo-ft sets itself, or that would let something else run or stop the VM behind its back. */
const OWNED_FLAGS: Readonly<Record<string, string>> = {
  incoming: 'colo-ft starts the secondary with its own -incoming',
  pidfile: "colo-ft tracks qemu by its own -pidfile",
  daemonize: 'colo-ft supervises qemu in the foreground',
  name: 'colo-ft finds its qemu again after a restart by -name',
  accel: 'the accelerator comes from machine.accelerator',
  'enable-kvm': 'the accelerator comes from machine.accelerator',
  qmp: 'colo-ft owns the monitors; a second QMP monitor could stop or migrate the VM behind its back',
  'qmp-pretty': 'colo-ft owns the monitors; a second QMP monitor could stop or migrate the VM behind its back',
  S: 'colo-ft decides when the guest runs',
  snapshot: 'a -snapshot disk is thrown away: it would lose what replication kept',
  'no-shutdown': 'colo-ft reads a guest shutdown from qemu exiting',
};

/** Ids (id=, node-name=, chardev=) colo-ft gives its own drives, nodes, chardevs, netdevs and devices. */
const OWNED_ID = /^(colo-.*|qmp-oob|(colo-disk|parent|childs|replication|replnbd|resync|hn|hp|nic|m|comp|iothread|mirror|compare|rew|smirror|scompare)\d+|s?redire\d+[ab]|(primin|compout)\d+c?)$/;

/** The option list's key=value pairs, where a doubled comma is a literal comma. */
function optionPairs(value: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const item of value.replaceAll(',,', '\u0000').split(',')) {
    const eq = item.indexOf('=');
    if (eq > 0) pairs.set(item.slice(0, eq), item.slice(eq + 1).replaceAll('\u0000', ','));
  }
  return pairs;
}

function ownedIdIn(flag: string, value: string): string | null {
  const pairs = optionPairs(value);
  const keys = flag === 'mon' ? ['chardev'] : ['id', 'node-name'];
  for (const key of keys) {
    const id = pairs.get(key);
    if (id !== undefined && OWNED_ID.test(id)) return `${key}=${id}`;
  }
  if (flag === 'machine' || flag === 'M') {
    if (pairs.has('accel') || value.split(',').includes('accel')) return 'accel';
  }
  return null;
}

const FLAGS_WITH_IDS = new Set(['drive', 'blockdev', 'chardev', 'mon', 'netdev', 'device', 'object', 'machine', 'M']);

/** Why each refused argument is refused, as `extraArgs[i]: ...`; empty when all are allowed. */
export function refusedExtraArgs(args: readonly string[]): Array<{ index: number; message: string }> {
  const refused: Array<{ index: number; message: string }> = [];
  args.forEach((arg, index) => {
    if (!arg.startsWith('-')) return;
    const flag = arg.replace(/^--?/, '');
    const owned = OWNED_FLAGS[flag];
    if (owned !== undefined) {
      refused.push({ index, message: `${arg} is not allowed in extraArgs: ${owned}` });
      return;
    }
    const value = args[index + 1];
    if (!FLAGS_WITH_IDS.has(flag) || value === undefined) return;
    const id = ownedIdIn(flag, value);
    if (id !== null) {
      const what = id === 'accel' ? 'the accelerator comes from machine.accelerator' : `${id} is an id colo-ft uses itself`;
      refused.push({ index, message: `${arg} ${value} is not allowed in extraArgs: ${what}` });
    }
  });
  return refused;
}
