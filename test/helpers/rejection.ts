/**
 * The error a promise rejects with, for assertions on its code and context; a promise that resolves
 * fails the test.
 */
import { expect } from 'vitest';
import { OtslakeError } from '../../common/errors.js';

export async function rejectionOf<E = unknown>(p: Promise<unknown>): Promise<E> {
  try {
    await p;
  } catch (err) {
    return err as E;
  }
  throw new Error('expected a rejection');
}

/** rejectionOf, and the error must be one of ours (typed, with a code and context). */
export async function otslakeRejectionOf(p: Promise<unknown>): Promise<OtslakeError> {
  const err = await rejectionOf(p);
  expect(err).toBeInstanceOf(OtslakeError);
  return err as OtslakeError;
}
