/** The current time as the API shows it: ISO 8601 UTC with milliseconds. */
export const nowIso = (): string => new Date().toISOString();
