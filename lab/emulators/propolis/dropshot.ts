import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

// What dropshot (propolis-server's HTTP framework) does around every handler, as the emulator's
// clients see it: the `api-version` header rule, JSON bodies, and the error body
// `{"request_id","error_code"?,"message"}` (error_code is left out when there is none).

export const API_VERSION = '5.0.0';
export const VERSION_HEADER = 'api-version';

/** An error a handler returns; `message` is what dropshot sends (its "external message"). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, errorCode?: string) => new HttpError(400, errorCode, message);
/** dropshot's for_unavail: the client sees the canonical reason only. */
export const unavailable = () => new HttpError(503, undefined, 'Service Unavailable');
/** dropshot's for_client_error_with_status(FORBIDDEN): the reason goes in error_code, the message is canonical. */
export const forbiddenStateChange = (reason: string) => new HttpError(403, `instance state change not allowed: ${reason}`, 'Forbidden');
export const noInstance = () => new HttpError(424, 'NoInstance', 'Server not initialized (no instance)');
export const alreadyInitialized = () => new HttpError(409, 'AlreadyInitialized', 'instance already initialized');
export const notFound = () => new HttpError(404, undefined, 'Not Found');
export const methodNotAllowed = () => new HttpError(405, undefined, 'Method Not Allowed');
export const internal = () => new HttpError(500, 'Internal', 'Internal Server Error');

export function errorBody(err: HttpError, requestId: string): Record<string, string> {
  const body: Record<string, string> = { request_id: requestId };
  if (err.errorCode !== undefined) body.error_code = err.errorCode;
  body.message = err.message;
  return body;
}

export function newRequestId(): string {
  return randomUUID();
}

interface Semver {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

function parseSemver(text: string): Semver | string {
  const m = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(text);
  if (!m) {
    if (text === '') return 'empty string, expected a semver version';
    if (!/^\d/.test(text)) return `unexpected character ${JSON.stringify(text[0])} while parsing major version number`;
    if (text.split('.').length < 3) return 'unexpected end of input while parsing minor version number';
    return 'unexpected character after version number';
  }
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text };
}

function newer(a: Semver, b: Semver): boolean {
  if (a.major !== b.major) return a.major > b.major;
  if (a.minor !== b.minor) return a.minor > b.minor;
  return a.patch > b.patch;
}

/**
 * ClientSpecifiesVersionInHeader without on_missing: a missing header, an unparseable one, or a
 * version newer than the server's → 400 with dropshot's messages. Returns the version asked for.
 */
export function checkVersionHeader(req: IncomingMessage): string {
  const raw = req.headers[VERSION_HEADER];
  if (raw === undefined) throw badRequest(`missing expected header "${VERSION_HEADER}"`);
  const text = Array.isArray(raw) ? raw[0] : raw;
  const v = parseSemver(text);
  if (typeof v === 'string') throw badRequest(`bad value for header "${VERSION_HEADER}": ${v}: ${text}`);
  const max = parseSemver(API_VERSION) as Semver;
  if (newer(v, max)) throw badRequest(`server does not support this API version: ${v.text}`);
  return v.text;
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A typed JSON body as dropshot reads it: bad JSON or a shape the type rejects → 400. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`unable to parse JSON body: ${(err as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, requestId: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': requestId });
  res.end(text);
}

export function sendNoContent(res: ServerResponse, requestId: string): void {
  res.writeHead(204, { 'x-request-id': requestId });
  res.end();
}

export function sendError(res: ServerResponse, err: HttpError, requestId: string): void {
  sendJson(res, err.status, errorBody(err, requestId), requestId);
}
