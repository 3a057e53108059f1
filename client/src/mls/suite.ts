import { type CiphersuiteImpl, getCiphersuiteFromName, getCiphersuiteImpl } from 'ts-mls';

/**
 * The one cipher suite Parley's reference client speaks (RFC 9420 §17.1, suite 1): X25519 key
 * exchange, AES-128-GCM, SHA-256 and Ed25519 signatures — the mandatory-to-implement suite, so any
 * other MLS client can join the same groups.
 */
export const CIPHER_SUITE_NAME = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';
/** Its IANA code point, as `PUT /devices/{id}/keys` takes it. */
export const CIPHER_SUITE_ID = 1;

let impl: Promise<CiphersuiteImpl> | undefined;

/** The suite's implementation (ts-mls on WebCrypto and @noble), built once per process. */
export function cipherSuite(): Promise<CiphersuiteImpl> {
  impl ??= getCiphersuiteImpl(getCiphersuiteFromName(CIPHER_SUITE_NAME));
  return impl;
}
