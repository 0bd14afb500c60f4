import { describe, expect, it } from 'vitest';
import { formatNic } from '../../../cli/format.js';

const base = { index: 0, netdev: 'hn0', mac: '52:54:00:12:34:56', proxied: true, objects: [] };

describe('formatNic', () => {
  it('shows the proxy state and, where colo-compare runs, its figures', () => {
    expect(formatNic({ ...base, proxy: 'primary', packetsCompared: 40, miscompares: 2, miscompareCheckpoints: 1 })).toBe(
      'nic 0 (hn0, 52:54:00:12:34:56): proxy primary, 40 compared, 2 miscompares, 1 checkpoints forced',
    );
    expect(formatNic({ ...base, proxy: 'secondary', packetsCompared: null, miscompares: null, miscompareCheckpoints: null })).toBe('nic 0 (hn0, 52:54:00:12:34:56): proxy secondary');
    expect(formatNic({ ...base, proxied: false, proxy: 'none', packetsCompared: null, miscompares: null, miscompareCheckpoints: null })).toBe('nic 0 (hn0, 52:54:00:12:34:56): not proxied');
  });
});
