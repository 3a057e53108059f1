import {
  decodeMlsMessage,
  encodeMlsMessage,
  type GroupInfo,
  type KeyPackage,
  type MLSMessage,
  type MlsPrivateMessage,
  type MlsPublicMessage,
  type PrivateMessage,
  type PublicMessage,
  type Welcome,
} from 'ts-mls';
import { fromBase64, toBase64 } from './bytes.ts';

/**
 * Every MLS object crosses Parley as an MLSMessage (RFC 9420 §6), TLS-serialised by ts-mls and
 * written in base64: key packages, welcomes, GroupInfos, commits and application messages alike.
 */
export class MlsWireError extends Error {
  override name = 'MlsWireError';
}

const wrap = (content: MLSMessage): string => toBase64(encodeMlsMessage(content));

export const encodeKeyPackageMessage = (keyPackage: KeyPackage): string =>
  wrap({ version: 'mls10', wireformat: 'mls_key_package', keyPackage });
export const encodeWelcomeMessage = (welcome: Welcome): string =>
  wrap({ version: 'mls10', wireformat: 'mls_welcome', welcome });
export const encodeGroupInfoMessage = (groupInfo: GroupInfo): string =>
  wrap({ version: 'mls10', wireformat: 'mls_group_info', groupInfo });
export const encodePrivateMessage = (privateMessage: PrivateMessage): string =>
  wrap({ version: 'mls10', wireformat: 'mls_private_message', privateMessage });
export const encodePublicMessage = (publicMessage: PublicMessage): string =>
  wrap({ version: 'mls10', wireformat: 'mls_public_message', publicMessage });
export const encodeMessage = wrap;

/** Reads one MLSMessage from base64; throws MlsWireError when it is not one, or not the whole input. */
export function decodeMessage(base64: string): MLSMessage {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(base64);
  } catch {
    throw new MlsWireError('not base64');
  }
  const decoded = decodeMlsMessage(bytes, 0);
  if (!decoded) throw new MlsWireError('not an MLSMessage');
  const [message, length] = decoded;
  if (length !== bytes.length) throw new MlsWireError('trailing bytes after the MLSMessage');
  return message;
}

export function decodeKeyPackageMessage(base64: string): KeyPackage {
  const message = decodeMessage(base64);
  if (message.wireformat !== 'mls_key_package')
    throw new MlsWireError(`expected a key package, got ${message.wireformat}`);
  return message.keyPackage;
}

export function decodeWelcomeMessage(base64: string): Welcome {
  const message = decodeMessage(base64);
  if (message.wireformat !== 'mls_welcome')
    throw new MlsWireError(`expected a welcome, got ${message.wireformat}`);
  return message.welcome;
}

export function decodeGroupInfoMessage(base64: string): GroupInfo {
  const message = decodeMessage(base64);
  if (message.wireformat !== 'mls_group_info')
    throw new MlsWireError(`expected a GroupInfo, got ${message.wireformat}`);
  return message.groupInfo;
}

/** A handshake or application message of a group: what commits and Parley messages carry. */
export function decodeGroupMessage(base64: string): MlsPrivateMessage | MlsPublicMessage {
  const message = decodeMessage(base64);
  if (message.wireformat !== 'mls_private_message' && message.wireformat !== 'mls_public_message') {
    throw new MlsWireError(`expected a group message, got ${message.wireformat}`);
  }
  return message;
}
