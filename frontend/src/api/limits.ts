// Generated from openapi.json by scripts/gen-api.mjs: do not edit. After an API change run
// `pflow openapi --output frontend/openapi.json`, then `npm run build` (or `npm run gen:api`).

/** TicketInput.title.maxLength */
export const TITLE_MAX = 200;

/** CompleteTask.comment.maxLength */
export const COMMENT_MAX = 2000;
