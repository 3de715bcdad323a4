/**
 * OpenAI-style error responses: `{"error": {"message", "type", "param", "code"}}` with a matching HTTP
 * status, which OpenAI clients (and SDK retry logic) understand. Both servers throw `ApiError` from
 * handlers and let one fastify error handler render it, so no route formats errors by hand.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface ApiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }

  /** 400: the request is malformed or a field has the wrong type or value. */
  static invalid(message: string, param: string | null = null, code: string | null = null): ApiError {
    return new ApiError(400, message, 'invalid_request_error', code, param);
  }

  /** 404: the model is not served here (OpenAI's `model_not_found`). */
  static unknownModel(model: string, known: readonly string[]): ApiError {
    const served = known.length > 0 ? ` (served: ${known.join(', ')})` : '';
    return new ApiError(404, `The model \`${model}\` does not exist${served}`, 'invalid_request_error', 'model_not_found', 'model');
  }

  /** 502: no upstream could give a response. */
  static badGateway(message: string, code = 'upstream_error'): ApiError {
    return new ApiError(502, message, 'upstream_error', code);
  }

  /** 504: the upstream did not answer in time. */
  static gatewayTimeout(message: string): ApiError {
    return new ApiError(504, message, 'upstream_error', 'upstream_timeout');
  }

  toJSON(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** The JSON body of an error response. */
export function errorBody(error: ApiError): string {
  return JSON.stringify(error.toJSON());
}

/**
 * Renders every error a route or fastify itself raises (bad JSON, oversized body, wrong content type,
 * unknown route) as an OpenAI-style error; anything unexpected becomes a 500 without internals.
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply) => {
    const api = toApiError(error);
    if (api.status >= 500 && !(error instanceof ApiError)) request.log.error(error);
    if (reply.sent || reply.raw.headersSent) return;
    void reply.status(api.status).type('application/json').send(errorBody(api));
  });
  app.setNotFoundHandler((request, reply) => {
    const api = new ApiError(404, `no route for ${request.method} ${request.url}`, 'invalid_request_error', 'not_found');
    void reply.status(404).type('application/json').send(errorBody(api));
  });
}

function toApiError(error: FastifyError | ApiError): ApiError {
  if (error instanceof ApiError) return error;
  const status = error.statusCode ?? 500;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'request body is too large', 'invalid_request_error', 'request_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'Content-Type must be application/json', 'invalid_request_error', 'unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return ApiError.invalid('the request body is empty; expected a JSON object', null, 'invalid_json');
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return ApiError.invalid(`the request body is not valid JSON: ${error.message}`, null, 'invalid_json');
  }
  if (status >= 400 && status < 500) return new ApiError(status, error.message, 'invalid_request_error');
  return new ApiError(500, 'internal server error', 'server_error', 'internal_error');
}
