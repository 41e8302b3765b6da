import { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import * as openpgp from 'openpgp';
import { FailureType } from '../common/failures.js';
import { decryptionKeyOf, encryptionKeyOf } from '../common/pgp-keys.js';

/**
 * OpenPGP on files as they stream (openpgp.js): a source connection's private key decrypts what
 * is read from it, a destination connection's public key encrypts what is delivered to it. Memory
 * holds a chunk at a time whatever the file's size.
 *
 * Decrypted data is released before the message's integrity check at its end has run (openpgp's
 * `allowUnauthenticatedStream`): it only ever reaches a temporary name on a destination or rows
 * not yet loaded, and a message that fails the check fails the step before anything is renamed or
 * loaded. Failures name the step, never openpgp's words, which may quote the data.
 */

const ARMOR = Buffer.from('-----BEGIN PGP MESSAGE-----');

/** Iterates `chunks` as a web stream for openpgp, remembering a failure of its own. */
function sourceOf(chunks: AsyncIterable<Uint8Array>) {
  const state: { failure?: unknown } = {};
  const tracked = async function* () {
    try {
      yield* chunks;
    } catch (error) {
      state.failure = error;
      throw error;
    }
  };
  return { stream: Readable.toWeb(Readable.from(tracked())) as ReadableStream<Uint8Array>, state };
}

/** The chunks of openpgp's output; a failure of the input is thrown as it was, one of openpgp as `failure()`. */
async function* outputOf(
  make: (input: ReadableStream<Uint8Array>) => Promise<ReadableStream<Uint8Array>>,
  chunks: AsyncIterable<Uint8Array>,
  failure: (error: unknown) => Error,
): AsyncGenerator<Uint8Array> {
  const source = sourceOf(chunks);
  try {
    for await (const chunk of await make(source.stream)) yield chunk;
  } catch (error) {
    throw source.state.failure ?? failure(error);
  }
}

/** The plaintext of a PGP message (armored or binary) arriving in chunks. */
export async function* decrypted(
  chunks: AsyncIterable<Uint8Array>,
  key: openpgp.PrivateKey,
  step: string,
): AsyncGenerator<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]();
  const head = await iterator.next();
  // An armored message is text, and openpgp reads it as text.
  const armored = !head.done && Buffer.from(head.value.subarray(0, ARMOR.length)).equals(ARMOR);
  const all = async function* () {
    if (head.done) return;
    yield head.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  };
  yield* outputOf(
    async (input) => {
      const message = armored
        ? await openpgp.readMessage({ armoredMessage: input.pipeThrough(new TextDecoderStream()) })
        : await openpgp.readMessage({ binaryMessage: input });
      const { data } = await openpgp.decrypt({
        message,
        decryptionKeys: key,
        format: 'binary',
        config: { allowUnauthenticatedStream: true },
      });
      return data as ReadableStream<Uint8Array>;
    },
    all(),
    (error) => {
      const forAnotherKey = /decryption key packets|session key decryption failed/i.test(
        error instanceof Error ? error.message : '',
      );
      return ApplicationFailure.nonRetryable(
        `${step}: ${
          forAnotherKey
            ? "the file is a PGP message for another key than the connection's"
            : 'the file is not a PGP message, or it is corrupt or truncated'
        }`,
        FailureType.PgpDecryptFailed,
      );
    },
  );
}

/** A binary PGP message of the chunks, for `key`. */
export function encrypted(chunks: AsyncIterable<Uint8Array>, key: openpgp.Key, step: string) {
  return outputOf(
    async (input) =>
      (await openpgp.encrypt({
        message: await openpgp.createMessage({ binary: input }),
        encryptionKeys: key,
        format: 'binary',
      })) as ReadableStream<Uint8Array>,
    chunks,
    () =>
      ApplicationFailure.nonRetryable(
        `${step}: the file could not be encrypted`,
        FailureType.PgpEncryptFailed,
      ),
  );
}

/** The plaintext of a file read from a connection that holds a PGP private key. */
export async function decryptedWith(
  connection: { pgpPrivateKey?: string; pgpPassphrase?: string },
  chunks: AsyncIterable<Uint8Array>,
  step: string,
): Promise<AsyncIterable<Uint8Array>> {
  const key = await decryptionKeyOf(connection.pgpPrivateKey!, connection.pgpPassphrase).catch(() => {
    throw ApplicationFailure.nonRetryable(
      `${step}: the connection's PGP private key cannot be opened`,
      FailureType.PgpDecryptFailed,
    );
  });
  return decrypted(chunks, key, step);
}

/** A file encrypted for a connection that holds a PGP public key. */
export async function encryptedFor(
  connection: { pgpPublicKey?: string },
  chunks: AsyncIterable<Uint8Array>,
  step: string,
): Promise<AsyncIterable<Uint8Array>> {
  const key = await encryptionKeyOf(connection.pgpPublicKey!).catch(() => {
    throw ApplicationFailure.nonRetryable(
      `${step}: the connection's PGP public key cannot encrypt`,
      FailureType.PgpEncryptFailed,
    );
  });
  return encrypted(chunks, key, step);
}
