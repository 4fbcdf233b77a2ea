// MAAS's error answers (domain-apis.md C2): state violations are 409 text/plain, validation 400 JSON
// {"field":["msg"]}, permission 403 text, missing objects 404 text.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string | Record<string, string[]>,
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
  }
}

export const conflict = (msg: string) => new ApiError(409, msg);
export const badRequest = (field: string, ...msgs: string[]) => new ApiError(400, { [field]: msgs });
export const forbidden = (msg: string) => new ApiError(403, msg);
export const notFound = (what = 'Machine') => new ApiError(404, `No ${what} matches the given query.`);
