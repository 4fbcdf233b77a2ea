import type { DataConverter } from '@temporalio/common';
import { HistoryDecoder } from '../history/decode';
import type { History } from '../history/load';
import { buildRetro } from './build';
import { renderHtml } from './html';
import { renderMarkdown } from './markdown';
import type { Retro } from './model';

export type { Retro } from './model';
export { buildRetro, renderHtml, renderMarkdown };

/** History → retrospective, decoding payloads with the workers' data converter. */
export async function retroFromHistory(history: History, source: string, dataConverter: DataConverter, opts: { asOf?: string } = {}): Promise<Retro> {
  const events = await new HistoryDecoder(dataConverter).history(history);
  return buildRetro(events, source, opts);
}

export function renderRetro(retro: Retro, format: 'md' | 'html'): string {
  return format === 'html' ? renderHtml(retro) : renderMarkdown(retro);
}
