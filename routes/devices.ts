import { z } from 'zod';
import {
  deleteDevice,
  getDevice,
  listDevices,
  listPublicDevices,
  renameDevice,
} from '../lib/chat/devices.ts';
import { route } from '../lib/http/route.ts';
import { Device, DeviceParams, deviceName, idParam, PublicDevice } from '../lib/http/schemas.ts';
import { problems } from './responses.ts';

const DeviceList = z.object({ devices: z.array(Device) }).meta({ id: 'DeviceList' });
const PublicDeviceList = z.object({ devices: z.array(PublicDevice) }).meta({ id: 'PublicDeviceList' });

export const deviceRoutes = [
  route({
    method: 'get',
    path: '/devices',
    operationId: 'listDevices',
    summary: 'Your devices',
    tags: ['Devices'],
    auth: true,
    responses: { 200: { description: 'Your devices, oldest first', schema: DeviceList }, ...problems(401) },
    handler: async ({ deps, session }) => ({
      status: 200,
      body: { devices: await listDevices(deps.db, session) },
    }),
  }),
  route({
    method: 'get',
    path: '/devices/{deviceId}',
    operationId: 'getDevice',
    summary: 'One of your devices',
    tags: ['Devices'],
    auth: true,
    params: DeviceParams,
    responses: { 200: { description: 'The device', schema: Device }, ...problems(401, 404) },
    handler: async ({ deps, session, params }) => ({
      status: 200,
      body: await getDevice(deps.db, session, params.deviceId),
    }),
  }),
  route({
    method: 'put',
    path: '/devices/{deviceId}',
    operationId: 'renameDevice',
    summary: 'Rename one of your devices',
    tags: ['Devices'],
    auth: true,
    params: DeviceParams,
    body: z.strictObject({ name: deviceName.nullable() }),
    responses: { 200: { description: 'The device', schema: Device }, ...problems(400, 401, 404, 413, 415) },
    handler: async ({ deps, session, params, body }) => ({
      status: 200,
      body: await renameDevice(deps.db, session, params.deviceId, body.name),
    }),
  }),
  route({
    method: 'delete',
    path: '/devices/{deviceId}',
    operationId: 'deleteDevice',
    summary: 'Sign a device out everywhere',
    description:
      "Revokes the device's sessions (their streams and polls end at once, on every node) and deletes its push subscription and the notifications owed to it. Deleting the device you are using signs you out.",
    tags: ['Devices'],
    auth: true,
    params: DeviceParams,
    responses: { 204: { description: 'Signed out and deleted' }, ...problems(401, 404) },
    handler: async ({ deps, session, params }) => {
      await deleteDevice(deps, session, params.deviceId);
      return { status: 204 };
    },
  }),
  route({
    method: 'get',
    path: '/users/{userId}/devices',
    operationId: 'listPublicDevices',
    summary: "A user's devices, as others see them",
    description: 'What others need to encrypt for a user: ids, keys and ages; no names, no activity.',
    tags: ['Devices'],
    auth: true,
    params: z.object({ userId: idParam }),
    responses: { 200: { description: 'Their devices', schema: PublicDeviceList }, ...problems(401, 404) },
    handler: async ({ deps, params }) => ({
      status: 200,
      body: { devices: await listPublicDevices(deps.db, params.userId) },
    }),
  }),
];
