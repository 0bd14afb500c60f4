import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  ColoError,
  ConfigError,
  describeError,
  isErrorKind,
  LockConflictError,
  NatsUnavailableError,
  PeerTimeoutError,
  QmpCommandError,
  QmpTimeoutError,
  recoveryOf,
} from '../../../shared/errors.js';

const named = (name: string, message = 'boom'): Error => Object.assign(new Error(message), { name });

describe('isErrorKind', () => {
  it('matches by class, subclasses included', () => {
    const e = new LockConflictError('vm1.lease');
    expect(isErrorKind(e, LockConflictError)).toBe(true);
    expect(isErrorKind(e, ColoError)).toBe(true);
    expect(isErrorKind(e, Error)).toBe(true);
    expect(isErrorKind(e, NatsUnavailableError)).toBe(false);
  });

  it('matches an error that lost its class across a boundary by its name', () => {
    expect(isErrorKind(named('LockConflictError'), LockConflictError)).toBe(true);
    expect(isErrorKind({ name: 'LockConflictError', message: 'plain object' }, LockConflictError)).toBe(true);
    expect(isErrorKind(named('NatsUnavailableError'), LockConflictError)).toBe(false);
  });

  it('the name fallback is exact: a subclass name is not its parent', () => {
    expect(isErrorKind(named('LockConflictError'), ColoError)).toBe(false);
  });

  it.each([undefined, null, 'LockConflictError', 42])('is false for a non-object (%s)', (v) => {
    expect(isErrorKind(v, LockConflictError)).toBe(false);
  });
});

describe('recoveryOf', () => {
  it.each([
    [new QmpTimeoutError('query-status', 100), 'transient'],
    [new PeerTimeoutError('colo.vm1.rpc.ready', 100), 'transient'],
    [new NatsUnavailableError('reconnecting'), 'transient'],
    [new QmpCommandError('cont', 'GenericError', 'nope'), 'local'],
    [new LockConflictError('vm1.lease'), 'local'],
    [new AbortedError('wait'), 'local'],
    [new ConfigError([{ path: 'pair', message: 'bad' }]), 'fatal'],
  ])('reads the class recovery of %s', (e, recovery) => {
    expect(recoveryOf(e)).toBe(recovery);
  });

  it('reads a valid recovery carried by an object from across a boundary', () => {
    expect(recoveryOf(Object.assign(new Error('x'), { recovery: 'fatal' }))).toBe('fatal');
    expect(recoveryOf({ recovery: 'transient' })).toBe('transient');
  });

  it.each([new Error('plain'), { recovery: 'sometimes' }, { recovery: 3 }, 'transient', undefined, null])(
    'is undefined when nobody said (%s)',
    (e) => {
      expect(recoveryOf(e)).toBeUndefined();
    },
  );
});

describe('describeError', () => {
  it('gives the message of an error, or of an error-like object', () => {
    expect(describeError(new LockConflictError('vm1.lease'))).toBe('compare-and-set on vm1.lease lost to another writer');
    expect(describeError(new Error(''))).toBe('');
    expect(describeError({ message: 'from a fake' })).toBe('from a fake');
  });

  it.each([
    ['plain string', 'plain string'],
    [undefined, 'undefined'],
    [null, 'null'],
    [7, '7'],
    [{ message: 7 }, '[object Object]'],
  ])('gives anything else as a string (%s)', (v, text) => {
    expect(describeError(v)).toBe(text);
  });
});
