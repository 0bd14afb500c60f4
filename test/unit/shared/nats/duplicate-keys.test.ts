import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeWith } from '../../../../shared/nats/codec.js';
import { duplicateJsonKey } from '../../../../shared/nats/duplicate-keys.js';

describe('duplicate keys in JSON messages', () => {
  it('finds the first duplicate with its path, at any depth, and nothing in clean messages', () => {
    expect(duplicateJsonKey('{"mode":"crash","mode":"heal"}')).toBe('mode');
    expect(duplicateJsonKey('{"a":{"b":1,"c":{"d":1,"d":2}}}')).toBe('a.c.d');
    expect(duplicateJsonKey('{"a":[{"x":1},{"x":2}],"b":{"x":1}}')).toBeNull();
    expect(duplicateJsonKey('{"k":"a \\\\" , \\"k\\": 1","j":"{\\"k\\":2}"}')).toBeNull();
    expect(duplicateJsonKey('{"\\u006b":1,"k":2}')).toBe('k');
    expect(duplicateJsonKey('[1,2,{"a":1}]')).toBeNull();
    expect(duplicateJsonKey('{ "a" : 1 , "a" : 1 }')).toBe('a');
  });

  it('decodeWith refuses a duplicate instead of keeping the last', () => {
    const schema = z.object({ mode: z.string() }).strict();
    const bytes = (s: string) => new TextEncoder().encode(s);
    expect(decodeWith(schema, bytes('{"mode":"crash"}'), 'x')).toEqual({ mode: 'crash' });
    expect(() => decodeWith(schema, bytes('{"mode":"crash","mode":"heal"}'), 'colo.drill')).toThrow(/duplicate key mode/);
  });
});
