/** What an id the API handed out looks like: a positive integer without leading zeros. */
export const ID_PATTERN = /^[1-9]\d{0,14}$/;

/** An id as a client sent it; anything that is not one of ours becomes 0, which matches nothing. */
export const toId = (s: string): number => (ID_PATTERN.test(s) ? Number(s) : 0);
