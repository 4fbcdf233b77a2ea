import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// The workflow list in the UI can be filtered by these, e.g.
// RunbookName = "fixReadonlyData" AND RunbookTargets = "object-store" AND RunbookOutcome = "failed".
export const RunbookName = defineSearchAttributeKey('RunbookName', SearchAttributeType.KEYWORD);
export const RunbookTargets = defineSearchAttributeKey('RunbookTargets', SearchAttributeType.KEYWORD_LIST);
export const RunbookStep = defineSearchAttributeKey('RunbookStep', SearchAttributeType.KEYWORD);
export const RunbookOutcome = defineSearchAttributeKey('RunbookOutcome', SearchAttributeType.KEYWORD);

/** For the dev server's --search-attribute flags and the operator API (INDEXED_VALUE_TYPE_*: KEYWORD=2, KEYWORD_LIST=7). */
export const RUNBOOK_SEARCH_ATTRIBUTES = [
  { name: 'RunbookName', cliType: 'Keyword', indexedValueType: 2 },
  { name: 'RunbookTargets', cliType: 'KeywordList', indexedValueType: 7 },
  { name: 'RunbookStep', cliType: 'Keyword', indexedValueType: 2 },
  { name: 'RunbookOutcome', cliType: 'Keyword', indexedValueType: 2 },
] as const;
