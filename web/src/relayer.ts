// The relayer's API (relayer/src/api): POST /v1/requests, GET /v1/requests/{id}.

/** `GET /v1/requests/{id}`. */
export interface RequestState {
  id: string;
  kind: string;
  status: 'queued' | 'sending' | 'sent' | 'confirmed' | 'rejected' | 'failed';
  signer: string;
  digest: string;
  txHash: string | null;
  error: string | null;
}

const FINAL = new Set(['confirmed', 'rejected', 'failed']);

/** An answer of the API that is an error: its code and message. */
export class RelayerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RelayerError';
  }
}

async function json(response: Response): Promise<Record<string, unknown>> {
  try {
    return (await response.json()) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Submits a signed request; returns its id. */
export async function submitRequest(base: string, body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${base}/v1/requests`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await json(response);
  if (response.status !== 200 && response.status !== 202) {
    const error = (answer.error ?? {}) as { code?: string; message?: string };
    throw new RelayerError(
      response.status,
      error.code ?? 'http_error',
      error.message ?? `the relayer answered ${response.status}`,
    );
  }
  return String(answer.id);
}

/** Polls a request until it is confirmed, rejected or failed, reporting every change. */
export async function followRequest(
  base: string,
  id: string,
  onChange: (state: RequestState) => void,
  { intervalMs = 1000, timeoutMs = 15 * 60 * 1000 } = {},
): Promise<RequestState> {
  const started = Date.now();
  let last = '';
  for (;;) {
    const response = await fetch(`${base}/v1/requests/${id}`);
    const answer = await json(response);
    if (!response.ok) {
      const error = (answer.error ?? {}) as { code?: string; message?: string };
      throw new RelayerError(response.status, error.code ?? 'http_error', error.message ?? `status ${response.status}`);
    }
    const state = answer as unknown as RequestState;
    const key = `${state.status}:${state.txHash ?? ''}`;
    if (key !== last) {
      last = key;
      onChange(state);
    }
    if (FINAL.has(state.status)) return state;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`request ${id} is still ${state.status} after ${Math.round(timeoutMs / 60000)} minutes; it may still go through`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
