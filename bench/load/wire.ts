import type { Socket } from 'node:net';
import { now } from '../lib/clock.ts';

/**
 * HTTP/1.1 over raw node:net for the load processes: requests written as text, responses read off
 * a keep-alive socket one at a time. No per-connection parser objects, so one process can hold
 * thousands of connections or send thousands of requests a second.
 */
export interface Target {
  host: string;
  port: number;
}
export interface Req {
  path: string;
  token?: string;
}

export const requestText = (t: Target, r: Req, accept: string): string =>
  `GET ${r.path} HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\nAccept: ${accept}\r\n${
    r.token ? `Authorization: Bearer ${r.token}\r\n` : ''
  }\r\n`;

export const postText = (t: Target, r: Req, json: string): string =>
  `POST ${r.path} HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n${
    r.token ? `Authorization: Bearer ${r.token}\r\n` : ''
  }\r\n${json}`;

export interface Response {
  status: number;
  body: string;
  at: number;
}

/** Reads one HTTP/1.1 response (Content-Length or chunked) at a time from a keep-alive socket. */
export function responses(socket: Socket, onResponse: (r: Response) => void): void {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = buf.slice(0, end);
      const length = /\r\ncontent-length: *(\d+)/i.exec(headers);
      let body: string;
      let rest: string;
      if (length) {
        // Bodies here are ASCII JSON, so characters equal bytes.
        const n = Number(length[1]);
        if (buf.length < end + 4 + n) return;
        body = buf.slice(end + 4, end + 4 + n);
        rest = buf.slice(end + 4 + n);
      } else {
        const term = buf.indexOf('\r\n0\r\n\r\n', end);
        if (term < 0) return;
        body = buf.slice(end + 4, term).replace(/(^|\r\n)[0-9a-f]+\r\n/gi, '');
        rest = buf.slice(term + 7);
      }
      buf = rest;
      onResponse({ status: Number(headers.slice(9, 12)), body, at: now() });
    }
  });
}

/**
 * Counts occurrences of `needle` in a stream read chunk by chunk: `scan` takes each chunk and
 * returns how many new occurrences it completed (one split across two chunks counts once).
 */
export function occurrences(needle: string): (chunk: string) => number {
  let tail = '';
  return (chunk) => {
    const text = tail + chunk;
    let n = 0;
    for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
    // Shorter than the needle, so an occurrence counted before can never be counted again.
    tail = text.slice(-(needle.length - 1));
    return n;
  };
}
