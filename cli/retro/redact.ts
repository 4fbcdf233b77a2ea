import { redact } from '../../activities/ssh/redact';

// Runbook inputs never hold secrets by design (the worker reads keys from files), but a retro is
// shared widely and outlives the run: anything under a secret-sounding key, or that looks like a key
// or token, is shown as ***.

const SECRET_KEY = /(pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|credential|auth)/i;

export function redactValue(value: unknown, key?: string): unknown {
  if (key !== undefined && SECRET_KEY.test(key) && value !== null && value !== undefined && typeof value !== 'boolean') return '***';
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, k)]));
  return value;
}

export { redact as redactText };
