/**
 * Kong's default messages for locally generated errors (kong.response.error), so clients that
 * parse Kong's bodies keep working when the gateway answers on its own.
 */
const DEFAULT_MESSAGES: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  408: 'Request timeout',
  409: 'Conflict',
  411: 'Length required',
  413: 'Request size limit exceeded',
  414: 'URI too long',
  429: 'API rate limit exceeded',
  431: 'Request header fields too large',
  500: 'An unexpected error occurred',
  502: 'An invalid response was received from the upstream server',
  503: 'The upstream server is currently unavailable',
  504: 'The upstream server is timing out',
};

export function defaultMessage(status: number): string {
  return DEFAULT_MESSAGES[status] ?? `The upstream server responded with ${status}`;
}

/** `{"message":"..."}` exactly as Kong writes it. */
export function messageBody(message: string): string {
  return JSON.stringify({ message });
}
