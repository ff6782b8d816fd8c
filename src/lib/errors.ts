/**
 * The one error type of Keisan. Domain code throws a KeisanError with a stable code;
 * the HTTP layer maps the code to a status through HTTP_STATUS_BY_CODE (the only place
 * where that mapping lives) and the CLI maps it back to an exit code.
 */
export const HTTP_STATUS_BY_CODE = {
  INVALID_INPUT: 400,
  NOT_AUTHENTICATED: 401,
  TICKET_EXPIRED: 401,
  BAD_CREDENTIALS: 401,
  FORBIDDEN: 403,
  ACCOUNT_LOCKED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  /** The storage tier has no room for the bytes (WebDAV's 507 Insufficient Storage). */
  INSUFFICIENT_STORAGE: 507,
} as const;

export type ErrorCode = keyof typeof HTTP_STATUS_BY_CODE;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(HTTP_STATUS_BY_CODE, value);
}

export class KeisanError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (e.g. retryAfterSeconds); never secrets. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'KeisanError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return HTTP_STATUS_BY_CODE[this.code];
  }
}

export const invalidInput = (message: string, details?: Record<string, unknown>) =>
  new KeisanError('INVALID_INPUT', message, details);
export const notFound = (what: string, name: string | number) =>
  new KeisanError('NOT_FOUND', `${what} '${name}' does not exist`);
export const conflict = (message: string) => new KeisanError('CONFLICT', message);
export const forbidden = (message: string) => new KeisanError('FORBIDDEN', message);
