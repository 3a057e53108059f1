import type { ParleyApi } from '../api.ts';

/**
 * The Delivery Service operations of Parley's API that the E2EE client calls, each answering its
 * data or a Problem. One place, so that the rest of the client reads as MLS.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  currentEpoch?: number;
}

export type Answer<T> = { ok: true; data: T } | { ok: false; problem: Problem; status: number };

export interface SentMessage {
  id: string;
  conversationId: string;
  senderId: string;
  clientMessageId: string | null;
  ciphertext?: string | null;
  createdAt: string;
}

export interface ClaimedKeyPackage {
  userId: string;
  deviceId: string;
  keyPackage: string;
}

export interface CommitBody {
  epoch: number;
  commit: string;
  welcome?: string;
  groupInfo?: string;
  add?: string[];
  remove?: string[];
}

// Typed loosely: these routes are newer than some servers' documents.
type Loose = (
  path: string,
  init: { params?: { path?: Record<string, string> }; body?: unknown },
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

async function call<T>(
  api: ParleyApi,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  pathParams: Record<string, string>,
  body?: unknown,
): Promise<Answer<T>> {
  const fn = api[method] as unknown as Loose;
  const { data, error, response } = await fn(path, {
    params: { path: pathParams },
    ...(body !== undefined ? { body } : {}),
  });
  if (response.ok) return { ok: true, data: data as T };
  return { ok: false, status: response.status, problem: (error ?? {}) as Problem };
}

export const delivery = {
  setKeys: (
    api: ParleyApi,
    deviceId: string,
    body: { cipherSuite: number; credential: string; signatureKey: string },
  ) => call<unknown>(api, 'PUT', '/devices/{deviceId}/keys', { deviceId }, body),
  uploadKeyPackages: (
    api: ParleyApi,
    deviceId: string,
    body: { keyPackages: string[]; lastResort?: string },
  ) => call<{ keyPackagesLeft: number }>(api, 'POST', '/devices/{deviceId}/key-packages', { deviceId }, body),
  claim: (api: ParleyApi, userIds: string[]) =>
    call<{ keyPackages: ClaimedKeyPackage[] }>(api, 'POST', '/key-packages/claim', {}, { userIds }),
  createConversation: (api: ParleyApi, body: { participantIds: string[]; title?: string; encrypted: true }) =>
    call<{ id: string; epoch: number }>(api, 'POST', '/conversations', {}, body),
  commit: (api: ParleyApi, id: string, body: CommitBody) =>
    call<{ epoch: number }>(api, 'POST', '/conversations/{id}/commits', { id }, body),
  groupInfo: (api: ParleyApi, id: string) =>
    call<{ epoch: number; groupInfo: string | null }>(api, 'GET', '/conversations/{id}/group-info', { id }),
  send: (api: ParleyApi, id: string, body: { ciphertext: string; clientMessageId: string }) =>
    call<SentMessage>(api, 'POST', '/conversations/{id}/message', { id }, body),
};

/** A failed call as an Error that keeps the problem. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${operation} answered ${status}${problem.detail ? `: ${problem.detail}` : ''}`);
  }
}

export function unwrap<T>(operation: string, answer: Answer<T>): T {
  if (answer.ok) return answer.data;
  throw new DeliveryError(operation, answer.status, answer.problem);
}
