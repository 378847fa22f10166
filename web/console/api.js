// api.js - the HTTP API client shared by the console and the portal.
//
// The API key lives in sessionStorage only (gone when the tab closes; never in
// localStorage, a cookie or the URL) and goes out as "Authorization: Bearer". Every
// non-2xx answer becomes an ApiError carrying API.md's error shape
// {"error": {"code", "message", "param"}} plus the HTTP status and Retry-After.

const STORE = 'fulfill.api_key';

export class ApiError extends Error {
  constructor(status, code, message, param, retryAfter) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.param = param || null;
    this.retryAfter = retryAfter;
  }
}

let onUnauthorized = null;

export const session = {
  get key() {
    return sessionStorage.getItem(STORE);
  },
  set(key) {
    sessionStorage.setItem(STORE, key);
  },
  clear() {
    sessionStorage.removeItem(STORE);
  },
  // called with the ApiError when a request with the stored key answers 401
  onUnauthorized(fn) {
    onUnauthorized = fn;
  },
};

// A query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// A new Idempotency-Key for one action: 128 random bits in hex (crypto.getRandomValues
// works on plain http too, where crypto.randomUUID does not).
function newIdempotencyKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'web-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// Waits before sending a change again with the same Idempotency-Key (API.md: the server
// either acted and stored its answer, which the retry gets back, or stored nothing).
const RETRY_DELAYS_MS = [400, 1500];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Worth sending again with the same key: the connection was lost (the server may or may
// not have acted), the same key is still in flight, or the server was briefly unavailable.
const retryable = (status, code) =>
  status === 0 || status === 502 || status === 503 || status === 504 ||
  (status === 409 && code === 'idempotency_key_in_use');

// One request. `opts.body` is sent as JSON, `opts.csv` as text/csv; `opts.key` overrides
// the stored key (sign-in); `opts.text` returns the body as text (CSV reports). Every
// change (POST, PUT, DELETE) carries an Idempotency-Key of its own and is sent up to
// twice more with that key when retryable() says so: a click acts at most once even when
// the answer is lost on the way back.
export async function api(method, path, opts = {}) {
  const key = opts.key ?? session.key;
  const headers = { Accept: opts.text ? 'text/csv' : 'application/json' };
  if (key) headers.Authorization = 'Bearer ' + key;
  let body;
  if (opts.csv !== undefined) {
    headers['Content-Type'] = 'text/csv';
    body = opts.csv;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  } else if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    body = '{}';
  }
  const change = method !== 'GET' && method !== 'HEAD';
  if (change) headers['Idempotency-Key'] = newIdempotencyKey();
  for (let attempt = 0; ; attempt++) {
    let resp, text;
    try {
      resp = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
      text = await resp.text();
    } catch (e) {
      if (change && attempt < RETRY_DELAYS_MS.length) {
        await sleep(RETRY_DELAYS_MS[attempt]);
        continue;
      }
      throw new ApiError(0, 'network_error', 'The server could not be reached (' + e.message + ').');
    }
    if (resp.ok && opts.text) return text;
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (resp.ok) return data;
    const e = (data && data.error) || {};
    if (change && attempt < RETRY_DELAYS_MS.length && retryable(resp.status, e.code)) {
      await sleep(RETRY_DELAYS_MS[attempt]);
      continue;
    }
    const err = new ApiError(resp.status, e.code || 'http_' + resp.status,
      e.message || `The server answered ${resp.status} ${resp.statusText}.`, e.param,
      resp.headers.get('Retry-After'));
    if (resp.status === 401 && opts.key === undefined && onUnauthorized) onUnauthorized(err);
    throw err;
  }
}

export const get = (path, params, opts) => api('GET', path + query(params), opts);
export const post = (path, body, opts = {}) => api('POST', path, { ...opts, body });

// The caller's key: {role, prefix, participant, fulfiller} (GET /v1/me).
export const whoami = (key) => api('GET', '/v1/me', { key });

