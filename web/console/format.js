// format.js - money and dates for people, shared by the console and the portal.
//
// Money is an integer count of minor units plus an ISO 4217 code (API.md). It is never
// turned into a binary float: the amount becomes a BigInt, the decimal string is cut
// from its digits with the currency's exponent (the same table as src/util/money.c),
// and Intl.NumberFormat formats that decimal string exactly (strings are decimals to it).

const EXPONENT = {
  BHD: 3, BIF: 0, CLF: 4, CLP: 0, DJF: 0, GNF: 0, IQD: 3, ISK: 0, JOD: 3, JPY: 0, KMF: 0,
  KRW: 0, KWD: 3, LYD: 3, OMR: 3, POINT: 0, PYG: 0, RWF: 0, TND: 3, UGX: 0, UYI: 0, UYW: 4,
  VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
};

export function exponent(currency) {
  return EXPONENT[currency] ?? 2;
}

function toBig(amount) {
  if (typeof amount === 'bigint') return amount;
  if (typeof amount === 'number') {
    if (!Number.isSafeInteger(amount)) throw new RangeError('money amounts are integers: ' + amount);
    return BigInt(amount);
  }
  if (typeof amount === 'string' && /^-?\d+$/.test(amount)) return BigInt(amount);
  throw new RangeError('not an amount of minor units: ' + amount);
}

// "2000", "USD" -> "20.00"; "-5", "BHD" -> "-0.005"; "500", "JPY" -> "500".
export function decimalString(amount, currency) {
  const n = toBig(amount);
  const exp = exponent(currency);
  const neg = n < 0n;
  const digits = (neg ? -n : n).toString().padStart(exp + 1, '0');
  const whole = digits.slice(0, digits.length - exp);
  const frac = exp ? '.' + digits.slice(digits.length - exp) : '';
  return (neg ? '-' : '') + whole + frac;
}

const formatters = new Map();

function formatter(currency, locale) {
  const k = currency + '|' + (locale || '');
  if (!formatters.has(k)) {
    const exp = exponent(currency);
    let f = null;
    try {
      f = currency === 'POINT'
        ? new Intl.NumberFormat(locale, { maximumFractionDigits: 0 })
        : new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: exp,
          maximumFractionDigits: exp });
    } catch {
      f = null; // a code Intl does not know: plain decimal + code below
    }
    formatters.set(k, f);
  }
  return formatters.get(k);
}

// 2000 USD -> "$20.00" (in the user's locale); 500 JPY -> "¥500"; 12 POINT -> "12 points".
export function formatMoney(amount, currency, locale) {
  if (amount === null || amount === undefined) return '—';
  if (!currency) return String(amount);
  const dec = decimalString(amount, currency);
  const f = formatter(currency, locale);
  if (currency === 'POINT') return (f ? f.format(dec) : dec) + ' points';
  return f ? f.format(dec) : dec + ' ' + currency;
}

// Sum [{amount, currency}] per currency, exactly: [{currency, amount: BigInt}] by code.
export function sumByCurrency(items) {
  const sums = new Map();
  for (const it of items) {
    if (it.amount === null || it.amount === undefined || !it.currency) continue;
    sums.set(it.currency, (sums.get(it.currency) ?? 0n) + toBig(it.amount));
  }
  return [...sums.entries()].sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, amount]) => ({ currency, amount }));
}

// A decimal typed by a person, as an integer string scaled by 10^digits, cut on its
// digits: "600.00", 2 -> "60000"; "2.9", 2 -> "290". null when it is not a plain decimal
// with at most `digits` fraction digits (no sign, no exponent).
export function scaleDecimal(text, digits) {
  const m = /^\s*(\d+)(?:\.(\d*))?\s*$/.exec(text);
  if (!m || (m[2] || '').length > digits) return null;
  return BigInt(m[1] + (m[2] || '').padEnd(digits, '0')).toString();
}

// "600.00", "USD" -> "60000" minor units; null when it is not an amount of the currency.
export function toMinorUnits(text, currency) {
  return scaleDecimal(text, exponent(currency));
}

// Basis points as a percent with two decimals, and back: 290 <-> "2.90".
export const percentFromBp = (bp) => decimalString(bp, 'USD');
export const bpFromPercent = (text) => scaleDecimal(text, 2);

export function formatPercentBp(bp) {
  if (bp === null || bp === undefined) return '—';
  return percentFromBp(bp) + '%';
}

// A reward's value: money, a percent discount, or goods.
export function formatRewardValue(r) {
  if (r.amount !== null && r.amount !== undefined && r.currency) return formatMoney(r.amount, r.currency);
  if (r.percent_bp !== null && r.percent_bp !== undefined) {
    return formatPercentBp(r.percent_bp) + ' off' + (r.months ? ` for ${r.months} months` : '');
  }
  if (r.sku) return `${r.quantity ?? 1} × ${r.sku}`;
  return r.type || '—';
}

// RFC 3339 -> the user's locale, date and time.
export function formatDateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(undefined, { dateStyle: 'medium' });
}
