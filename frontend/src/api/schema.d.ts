// Generated from openapi.json by scripts/gen-api.mjs: do not edit. After an API change run
// `pflow openapi --output frontend/openapi.json`, then `npm run build` (or `npm run gen:api`).
export interface paths {
    "/api/admin/preferences": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The defaults: what everyone receives where they chose nothing. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Preferences"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can see and set the defaults */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        /** Replace the defaults (what is left out is on; e-mails one by one). 422 names the field. */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["PreferencesInput"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Preferences"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can see and set the defaults */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/approvals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Tickets with a decision step you may take now, oldest first (the older form of /api/tasks). */
        get: {
            parameters: {
                query?: {
                    /** @description 1 to 100000 */
                    page?: number;
                    /** @description 1 to 100 */
                    page_size?: number;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["TicketPage"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/demo-users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The demo accounts (password = username), so the login screen can offer them; 404 when they are off. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["User"][];
                    };
                };
                /** @description Demo users are off (a users file is configured) */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Exchange a username and password for a bearer token.
         * @description After too many failed logins for a username or from an address, logins for it are refused with 429
         *     (key `auth.locked`, `Retry-After` in seconds) until the lockout ends, without looking at the password.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["Login"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["LoginResult"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Wrong username or password */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description Too many failed logins for this username or address: locked for a while (`Retry-After`) */
                429: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Too many logins are being checked at once, or the database is down; retry after Retry-After */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sign out: revoke every token issued so far for the caller (on every device) and clear the session
         *     cookies. A user who signed in through the identity provider then goes to ``GET /api/auth/oidc/logout``
         *     to end the provider's session too.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description No Content */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/oidc/callback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Where the identity provider sends the browser back: validates everything, signs the user in (session
         *     cookies) and redirects to the page the sign-in started from; on any failure to ``/login?sso_error=<key>``.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Found */
                302: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Single sign-on is not configured (OIDC_ISSUER, OIDC_CLIENT_ID) */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/oidc/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Start single sign-on: redirects to the identity provider's login page. ``next``: the page to come back to. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Found */
                302: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Single sign-on is not configured (OIDC_ISSUER, OIDC_CLIENT_ID) */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/oidc/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * End the identity provider's session too (RP-initiated logout), then back to PFlow's login page. Call it
         *     after ``POST /api/auth/logout``, which revokes PFlow's own session.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Found */
                302: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Single sign-on is not configured (OIDC_ISSUER, OIDC_CLIENT_ID) */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/providers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** How to sign in here: with a password (always, for local users) and, when configured, single sign-on. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Providers"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/incidents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Tickets whose automated step failed (or whose process stopped), the latest first, with the full error
         *     and the retries left; retry one with POST /api/tickets/<id>/retry.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["IncidentPage"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can see incidents */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The logged-in user. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Me"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/me/preferences": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * What you receive, per channel (in_app, email) and kind (new_task, decision, reminder, failure): your
         *     choices (``own``) over the admins' defaults.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["MyPreferences"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        /**
         * Replace your choices: what you leave out takes the defaults. 422 names the field
         *     (e.g. channels.email.bogus).
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["PreferencesInput"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["MyPreferences"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/me/substitute": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The substitute you named, and whom you stand in for now. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubstituteState"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        /**
         * Name who acts for you from ``starts`` (now when left out) until ``ends``: they see your steps and decide
         *     them on your behalf, each decision recorded as theirs on your behalf; separation of duties holds for both of
         *     you. Replaces a substitute named before. 422 names the field: an unknown user, yourself, an end before the
         *     start or in the past.
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["SubstituteInput"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubstituteState"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        post?: never;
        /** End your substitution now (nothing happens when there is none). */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description No Content */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Your notifications, newest first, with the number still unread. */
        get: {
            parameters: {
                query?: {
                    /** @description 1 to 100000 */
                    page?: number;
                    /** @description 1 to 100 */
                    page_size?: number;
                    unread_only?: boolean;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["NotificationPage"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/notifications/{notification_id}/read": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                notification_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Mark one of your notifications read (again is fine: the first time counts). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    notification_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Notification"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such notification of yours */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/notifications/read-all": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Mark all your notifications read. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["UnreadCount"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The dashboard: open steps per group and age, time to decide per type and per step, tickets created and
         *     decided per week, and the share rejected, over the last ``weeks`` weeks (this one included).
         */
        get: {
            parameters: {
                query?: {
                    /** @description how many weeks back, this one included (1 to 52) */
                    weeks?: number;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Stats"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only admins and members of a group can see the dashboard */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Your inbox: open steps you may complete now (assigned to you, offered to you or to a group of yours). */
        get: {
            parameters: {
                query?: {
                    group?: string;
                    /** @description true: only steps past their due time; false: only the others */
                    overdue?: boolean;
                    /** @description 1 to 100000 */
                    page?: number;
                    /** @description 1 to 100 */
                    page_size?: number;
                    /** @description text in the step's name, or its ticket's title, fields or results (the fulfilment reference), or #id (up to 200 characters) */
                    q?: string;
                    sort?: "created" | "-created" | "due" | "-due";
                    status?: "draft" | "in_progress" | "needs_attention" | "completed" | "rejected" | "withdrawn";
                    step?: string;
                    type?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["TaskPage"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{task_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                task_id: string;
            };
            cookie?: never;
        };
        /** One open step with its ticket. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    task_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Task"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{task_id}/assignee": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                task_id: string;
            };
            cookie?: never;
        };
        get?: never;
        /**
         * Give a step to someone (admins): a known user whom separation of duties lets complete it; null gives it
         *     back to its candidates. Audited.
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    task_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["Assignee"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can reassign a step */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{task_id}/claim": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                task_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Claim a step offered to you or your group (or, as a substitute, to the one you stand in for), so the other
         *     candidates no longer see it; 409 naming who, when someone holds it already.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    task_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{task_id}/complete": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                task_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Complete a step with its form values (and a comment, required for a rejection). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    task_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["CompleteTask"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tasks/{task_id}/unclaim": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                task_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Give a step you hold (or the one you stand in for holds) back to its candidates; admins may for anyone. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    task_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/ticket-types": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What can be asked for: each type's name, description, process and form (a JSON Schema). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["TicketType"][];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tickets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List tickets, newest first. Requesters see only their own. */
        get: {
            parameters: {
                query?: {
                    /** @description 1 to 100000 */
                    page?: number;
                    /** @description 1 to 100 */
                    page_size?: number;
                    /** @description text in the title, the fields or the results (the fulfilment reference), or #id (up to 200 characters) */
                    q?: string;
                    requester?: string;
                    sort?: "created" | "-created" | "updated" | "-updated" | "title" | "-title";
                    status?: "draft" | "in_progress" | "needs_attention" | "completed" | "rejected" | "withdrawn";
                    type?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["TicketPage"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        /** Create a draft ticket of a type (the default type when none is named); the caller is its requester. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["TicketInput"];
                };
            };
            responses: {
                /** @description Created */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tickets/{ticket_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                ticket_id: string;
            };
            cookie?: never;
        };
        /** One ticket, with its open steps and what the caller may do on each. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        /** Delete a draft (requester or admin). */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description No Content */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        options?: never;
        head?: never;
        /** Edit a draft (requester or admin). Send ``version`` to be told (409) if it changed meanwhile. */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["TicketUpdate"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        trace?: never;
    };
    "/api/tickets/{ticket_id}/approve": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                ticket_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Approve the one decision step open for you on this ticket (a shortcut for completing its task). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["Comment"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tickets/{ticket_id}/history": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                ticket_id: string;
            };
            cookie?: never;
        };
        /** The audit trail: who did what, when, with which values, and why. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["HistoryEntry"][];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tickets/{ticket_id}/process": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                ticket_id: string;
            };
            cookie?: never;
        };
        /** The BPMN of the ticket's process and which steps are done and open, from the running engine. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Process"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tickets/{ticket_id}/reconcile": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                ticket_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Repair: bring the ticket in line with its process instance now (admins; also runs periodically). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can repair a ticket */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tickets/{ticket_id}/reject": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                ticket_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Reject, saying why, on the one decision step open for you on this ticket. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["Reject"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tickets/{ticket_id}/resubmit": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                ticket_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A new draft pre-filled from a rejected or withdrawn ticket. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Created */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tickets/{ticket_id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                ticket_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Retry the failed automated step of a ticket that needs attention (admins); audited. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["Comment"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tickets/{ticket_id}/submit": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                ticket_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Start the ticket's process (its type names it), with its fields as process variables. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tickets/{ticket_id}/withdraw": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                ticket_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Take back a ticket in progress (requester or admin): its process is cancelled. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    ticket_id: string;
                };
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": components["schemas"]["Comment"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not allowed in the ticket's current status, or the ticket changed meanwhile */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The users and groups of the user directory (read-only). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Directory"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can see the users */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/users/{username}/revoke": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Admins: revoke every token issued so far for a user (they must log in again). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    username: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description No Content */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Your role may not do this (or it is your own ticket) */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such ticket, or not one you may see */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every webhook endpoint, oldest first (without their secrets). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["WebhookList"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can manage webhooks */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        /**
         * Register an endpoint for the event types it wants. Each call is signed with its secret
         *     (X-PFlow-Signature: sha256=HMAC of "<X-PFlow-Timestamp>.<body>"); the answer shows the secret, made by
         *     PFlow when none is given, this once only. 422 names the field.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["WebhookInput"];
                };
            };
            responses: {
                /** @description Created */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["WebhookCreated"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can manage webhooks */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/webhooks/{webhook_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                webhook_id: string;
            };
            cookie?: never;
        };
        /** One endpoint (without its secret). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhook_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Webhook"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can manage webhooks */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such webhook */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        /** Remove the endpoint: nothing more is sent to it. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhook_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description No Content */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can manage webhooks */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such webhook */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        options?: never;
        head?: never;
        /**
         * Change what is given. ``active: true`` enables an endpoint PFlow disabled after failed deliveries
         *     (or an admin paused) again, its failure count from zero: the deliveries still waiting go out at their
         *     next attempt. ``active: false`` pauses it. 422 names the field.
         */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhook_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["WebhookUpdate"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Webhook"];
                    };
                };
                /** @description The body is not valid JSON (malformed, nested too deeply, or a number with too many digits) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can manage webhooks */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such webhook */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        trace?: never;
    };
    "/api/webhooks/{webhook_id}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                webhook_id: string;
            };
            cookie?: never;
        };
        /**
         * The endpoint's delivery log, newest first: each event sent (or still being tried), its attempts and
         *     the last answer.
         */
        get: {
            parameters: {
                query?: {
                    /** @description 1 to 200 */
                    limit?: number;
                };
                header?: never;
                path: {
                    webhook_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["WebhookDeliveryList"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can manage webhooks */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such webhook */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                422: components["responses"]["UNPROCESSABLE_ENTITY"];
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/webhooks/{webhook_id}/test": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                webhook_id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a ``ping`` event to the endpoint now (also while it is disabled) and answer how it went; the call is
         *     in the delivery log. A failed test is not retried.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    webhook_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["WebhookTestResult"];
                    };
                };
                /** @description Not logged in, or the token is invalid or expired */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description Only an admin can manage webhooks */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description No such webhook */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description A dependency (database, workflow engine or event broker) is unavailable; details.dependency names it. Retry after Retry-After seconds */
                503: {
                    headers: {
                        /** @description seconds to wait before retrying */
                        "Retry-After"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                default: components["responses"]["DEFAULT_ERROR"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        AgeCount: {
            /**
             * @description how long the steps have been open
             * @enum {string}
             */
            bucket: "lt_1d" | "d1_3" | "d3_7" | "gt_7d";
            count: number;
        };
        Assignee: {
            /** @description the username to give the step to; null gives it back to its candidates */
            assignee: string | null;
        };
        ChosenChannels: {
            email?: components["schemas"]["ChosenKinds"];
            in_app?: components["schemas"]["ChosenKinds"];
        };
        ChosenKinds: {
            decision?: boolean | null;
            failure?: boolean | null;
            new_task?: boolean | null;
            reminder?: boolean | null;
        };
        ChosenPreferences: {
            channels: components["schemas"]["ChosenChannels"];
            /** @description null: not chosen */
            digest: boolean | null;
        };
        Comment: {
            /**
             * @description up to 2000 characters
             * @default null
             */
            comment?: string | null;
        };
        CompleteTask: {
            /**
             * @description up to 2000 characters; required when the decision is a rejection
             * @default null
             */
            comment?: string | null;
            /** @description the step's form values by field id */
            variables?: {
                [key: string]: (string | null) | number | boolean;
            };
        };
        CycleTime: {
            /** @description from a step's opening to its completion, steps completed in the period */
            by_step: components["schemas"]["StepDuration"][];
            /** @description from submission to the end (completed or rejected), tickets ended in the period */
            by_type: components["schemas"]["TypeDuration"][];
        };
        Directory: {
            groups: components["schemas"]["DirectoryGroup"][];
            users: components["schemas"]["DirectoryUser"][];
        };
        DirectoryGroup: {
            /** @description usernames, sorted */
            members: string[];
            name: string;
        };
        DirectoryUser: {
            groups: string[];
            /** @description the display name */
            name: string;
            roles: string[];
            username: string;
        };
        Error: {
            error: components["schemas"]["ErrorBody"];
        };
        ErrorBody: {
            /** @description machine-readable, e.g. validation_error */
            code: string;
            /** @description per field for validation errors (field name to messages); otherwise facts such as the dependency that is down */
            details: {
                [key: string]: unknown;
            };
            /** @description 422 only: per dotted field path, each problem as {key, params} (the same fields as details) */
            fields?: {
                [key: string]: components["schemas"]["FieldError"][];
            };
            /** @description stable dotted name of the error, e.g. ticket.not_editable, to word it in the reader's language (the UI: serverError.<key>); message is its English text */
            key: string;
            /** @description what went wrong, in English */
            message: string;
            /** @description the values the key is worded with (status: a ticket status code) */
            params: {
                [key: string]: unknown;
            };
        };
        FieldError: {
            /** @description e.g. field.required, field.max_length */
            key: string;
            /** @description e.g. {"max": "200"} */
            params: {
                [key: string]: unknown;
            };
        };
        FormField: {
            /** @description a decision (boolean, or enum with approve/reject) */
            decision: boolean;
            default: ((string | null) | number | boolean) | null;
            id: string;
            label: string;
            required: boolean;
            /** @enum {string} */
            type: "string" | "long" | "boolean" | "date" | "enum";
            values: components["schemas"]["FormFieldValue"][];
        };
        FormFieldValue: {
            id: string;
            name: string;
        };
        HistoryEntry: {
            action: string;
            actor: string;
            /** Format: date-time */
            at: string;
            /** @description what the actor wrote */
            comment: string | null;
            /** @description facts the system recorded: changed (field names), reference (fulfilment reference), results (what an automated step returned, on a step_results entry), error (why an automated step failed, admins only; others get error_key, e.g. attention.step_failed), step/step_name (the step), opened_at (when a completed step was opened), recorded_from ('engine': found in the workflow engine rather than made through PFlow), reason (why PFlow refused something it found there); empty for entries from before they were kept */
            details: {
                [key: string]: unknown;
            };
            from_status: string | null;
            to_status: string;
        };
        Incident: {
            /** @description the full error of the failed step (admins only) */
            error: string;
            /** Format: date-time */
            failed_at: string;
            requester: string;
            /** @description as the engine has it now; null when it cannot say or no step failed */
            retries_left: number | null;
            /** @description the failed step's name (or process_stopped/process_missing) */
            step: string;
            /** @description the failed step's id in the BPMN */
            step_id: string | null;
            ticket_id: string;
            title: string;
            type: string;
        };
        IncidentPage: {
            items: components["schemas"]["Incident"][];
            total: number;
        };
        Login: {
            password: string;
            username: string;
        };
        LoginResult: {
            /** @description seconds */
            expires_in: number;
            token: string;
            user: components["schemas"]["User"];
        };
        Me: {
            display_name: string;
            /** @description the groups processes offer steps to */
            groups: string[];
            /** @description PFlow permissions (admin; manager) */
            roles: string[];
            /** @description signed in through the identity provider (sign out there too: GET /api/auth/oidc/logout) */
            sso: boolean;
            username: string;
        };
        MyPreferences: {
            /** @description what you receive, your choices over the defaults */
            channels: components["schemas"]["PreferenceChannels"];
            digest: boolean;
            /** @description where your e-mails go; null: none known */
            email: string | null;
            /** @description whether PFlow sends e-mail at all (SMTP_HOST) */
            email_enabled: boolean;
            /** @description what you chose (missing or null: the default) */
            own: components["schemas"]["ChosenPreferences"];
        };
        Notification: {
            /** Format: date-time */
            created_at: string;
            id: string;
            /** @description the event type, e.g. ticket.submitted */
            kind: string;
            /** @description the text in English */
            message: string;
            /** @description the values the message is made from (title, actor, amount, comment, reference, error; those that apply), to word it in the reader's language; empty for older notifications */
            params: {
                [key: string]: string;
            };
            /**
             * Format: date-time
             * @description null while unread
             */
            read_at: string | null;
            ticket_id: string;
        };
        NotificationPage: {
            items: components["schemas"]["Notification"][];
            page: number;
            page_size: number;
            /** @description how many are listed in all (all, or unread only) */
            total: number;
            unread: number;
        };
        OpenTasks: {
            by_age: components["schemas"]["AgeCount"][];
            /** @description a candidate group (a step offered to two counts in each) */
            group: string;
            /** @description open steps offered to the group, those of unknown age included */
            total: number;
        };
        PaginationMetadata: {
            /** @description First available page number. */
            first_page?: number;
            /** @description Last available page number. */
            last_page?: number;
            /** @description Next page number. */
            next_page?: number;
            /** @description Current page number. */
            page?: number;
            /** @description Previous page number. */
            previous_page?: number;
            /** @description Total number of items. */
            total?: number;
            /** @description Total number of pages. */
            total_pages?: number;
        };
        PreferenceChannels: {
            email: components["schemas"]["PreferenceKinds"];
            in_app: components["schemas"]["PreferenceKinds"];
        };
        PreferenceChannelsInput: {
            email?: components["schemas"]["PreferenceKindsInput"];
            in_app?: components["schemas"]["PreferenceKindsInput"];
        };
        PreferenceKinds: {
            decision: boolean;
            failure: boolean;
            new_task: boolean;
            reminder: boolean;
        };
        PreferenceKindsInput: {
            decision?: boolean;
            failure?: boolean;
            new_task?: boolean;
            reminder?: boolean;
        };
        Preferences: {
            /** @description what you receive, your choices over the defaults */
            channels: components["schemas"]["PreferenceChannels"];
            digest: boolean;
        };
        PreferencesInput: {
            /** @description channel -> kind -> true|false; what is left out takes the defaults */
            channels?: components["schemas"]["PreferenceChannelsInput"];
            /**
             * @description true: e-mails gathered in one a day; null: the default
             * @default null
             */
            digest?: boolean | null;
        };
        Process: {
            active_activity_ids: string[];
            completed_activity_ids: string[];
            /** @description BPMN 2.0 XML of the deployed definition */
            definition_xml: string;
            incidents: string[];
            /** @description active, completed, terminated, incident */
            state: string | null;
            ticket_id: string;
        };
        Providers: {
            /** @description local users sign in with a password */
            password: boolean;
            /** @description single sign-on through the identity provider; null when off */
            sso: components["schemas"]["SsoProvider"] | (Record<string, never> | null);
        };
        Reject: {
            /** @description required: why (1-2000 characters) */
            comment: string;
        };
        RejectionRate: {
            by_type: components["schemas"]["TypeRate"][];
            /** @description tickets ended completed or rejected in the period */
            decided: number;
            /** @description rejected / decided; null when none was decided */
            rate: number | null;
            rejected: number;
        };
        Sla: {
            /** @description types with a step completed in the period with a due time, or an open step overdue */
            by_type: components["schemas"]["TypeSla"][];
            on_time: number;
            open_overdue: number;
            /** @description on_time / with_due; null when with_due is 0 */
            share: number | null;
            with_due: number;
        };
        SsoProvider: {
            /** @description open it in the browser to sign in (redirects to the provider) */
            login_url?: string;
            /** @description what the login page's button says */
            name?: string;
        };
        Stats: {
            cycle_time: components["schemas"]["CycleTime"];
            /** Format: date-time */
            generated_at: string;
            open_tasks: components["schemas"]["OpenTasks"][];
            rejection_rate: components["schemas"]["RejectionRate"];
            /** @description steps done before their due time, per ticket type */
            sla: components["schemas"]["Sla"];
            /** @description every week of the period, oldest first */
            throughput: components["schemas"]["Week"][];
        };
        Step: {
            assignee: string | null;
            /** @description whether the caller may claim it now (POST /api/tasks/<id>/claim): nobody holds it and they may complete it */
            can_claim: boolean;
            /** @description whether the caller may complete it now */
            can_complete: boolean;
            /** @description whether the caller may give it back to its candidates (POST /api/tasks/<id>/unclaim): they hold it, the one they stand in for does, or they are an admin */
            can_unclaim: boolean;
            candidate_groups: string[];
            candidate_users: string[];
            /** Format: date-time */
            created_at: string | null;
            /**
             * Format: date-time
             * @description when the step is due: its BPMN's camunda:dueDate, else its ticket type's default; null: none
             */
            due: string | null;
            form: components["schemas"]["FormField"][];
            /** @description the task id (POST /api/tasks/<id>/complete) */
            id: string;
            name: string;
            /** @description whose step it is when the caller acts on it as their substitute (null: the caller's own) */
            on_behalf_of: string | null;
            /** @description whether its due time has passed */
            overdue: boolean;
            /**
             * @description why not: not_a_candidate, own_ticket, last_editor, second_decision
             * @enum {string|null}
             */
            refusal: "not_a_candidate" | "own_ticket" | "last_editor" | "second_decision" | null;
            /** @description the task's id in the BPMN */
            step: string;
        };
        StepDuration: {
            count: number;
            /** @description seconds */
            median_s: number;
            /** @description seconds (nearest-rank 90th percentile) */
            p90_s: number;
            /** @description the step's name in the BPMN */
            step: string;
            /** @description the step's id in the BPMN */
            step_id: string;
            /** @description ticket type key */
            type: string;
        };
        SubstituteInput: {
            /**
             * Format: date-time
             * @description until when (ISO 8601 with a time zone): after the start, in the future, at most 366 days on
             */
            ends: string;
            /**
             * Format: date-time
             * @description from when (ISO 8601 with a time zone); now when left out
             * @default null
             */
            starts?: string | null;
            /** @description the username of who acts for you (not yourself) */
            substitute: string;
        };
        SubstituteState: {
            /** @description whom you stand in for now: their steps are in your inbox */
            standing_in_for: components["schemas"]["Substitution"][];
            /** @description the substitute you named (running, upcoming or over); null when none */
            substitute: components["schemas"]["Substitution"] | (Record<string, never> | null);
        };
        Substitution: {
            /** @description whether it runs now */
            active: boolean;
            /** Format: date-time */
            created: string;
            /** Format: date-time */
            ends: string;
            /** Format: date-time */
            starts: string;
            /** @description who acts for them */
            substitute: string;
            /** @description who is away */
            user: string;
        };
        Task: {
            assignee: string | null;
            /** @description whether the caller may claim it now (POST /api/tasks/<id>/claim): nobody holds it and they may complete it */
            can_claim: boolean;
            /** @description whether the caller may complete it now */
            can_complete: boolean;
            /** @description whether the caller may give it back to its candidates (POST /api/tasks/<id>/unclaim): they hold it, the one they stand in for does, or they are an admin */
            can_unclaim: boolean;
            candidate_groups: string[];
            candidate_users: string[];
            /** Format: date-time */
            created_at: string | null;
            /**
             * Format: date-time
             * @description when the step is due: its BPMN's camunda:dueDate, else its ticket type's default; null: none
             */
            due: string | null;
            form: components["schemas"]["FormField"][];
            /** @description the task id (POST /api/tasks/<id>/complete) */
            id: string;
            name: string;
            /** @description whose step it is when the caller acts on it as their substitute (null: the caller's own) */
            on_behalf_of: string | null;
            /** @description whether its due time has passed */
            overdue: boolean;
            /**
             * @description why not: not_a_candidate, own_ticket, last_editor, second_decision
             * @enum {string|null}
             */
            refusal: "not_a_candidate" | "own_ticket" | "last_editor" | "second_decision" | null;
            /** @description the task's id in the BPMN */
            step: string;
            ticket: components["schemas"]["TaskTicket"];
        };
        TaskPage: {
            items: components["schemas"]["Task"][];
            page: number;
            page_size: number;
            total: number;
        };
        TaskTicket: {
            /** Format: date-time */
            created_at: string;
            fields: {
                [key: string]: (string | null) | number | boolean;
            };
            id: string;
            requester: string;
            /** @enum {string} */
            status: "draft" | "in_progress" | "needs_attention" | "completed" | "rejected" | "withdrawn";
            title: string;
            type: string;
            type_name: string;
        };
        Ticket: {
            /** @description what the caller may do now */
            allowed_actions: string[];
            /** @description why it needs attention: for admins the failed step's full error (or process_stopped, process_missing); for everyone else only the code step_failed, process_stopped or process_missing */
            attention: string | null;
            /** @description the same as an error key (serverError.<key> in the UI): attention.step_failed, attention.process_stopped or attention.process_missing; null when all is well */
            attention_key: string | null;
            /** Format: date-time */
            created_at: string;
            /** @description names of the open steps */
            current_steps: string[];
            /** @description the ticket's own fields (its type's form) */
            fields: {
                [key: string]: (string | null) | number | boolean;
            };
            id: string;
            requester: string;
            /** @description what its automated steps returned, by variable name: fulfilment_reference (the reference the built-in provisioning step got for the request) and whatever a team's own steps return; text search (q) looks in the text ones */
            results: {
                [key: string]: string | number | boolean;
            };
            /** @enum {string} */
            status: "draft" | "in_progress" | "needs_attention" | "completed" | "rejected" | "withdrawn";
            steps: components["schemas"]["Step"][];
            title: string;
            type: string;
            type_name: string;
            /** Format: date-time */
            updated_at: string;
            version: number;
        };
        TicketInput: {
            /** @description older form of fields.amount (the default type): a number or a decimal string */
            amount?: (number | string) | null;
            /** @description older form of fields.description (the default type) */
            description?: string | null;
            /** @description the ticket's own fields, as its type's form declares them */
            fields?: {
                [key: string]: (string | null) | number | boolean;
            };
            /** @description older form of fields.priority (the default type) */
            priority?: string | null;
            /** @description 1-200 characters, not only spaces */
            title: string;
            /** @description a ticket type key (GET /api/ticket-types); the default type when left out */
            type?: string;
        };
        TicketPage: {
            items: components["schemas"]["Ticket"][];
            page: number;
            page_size: number;
            total: number;
        };
        TicketType: {
            default: boolean;
            description: string;
            descriptions: {
                [key: string]: string;
            };
            /** @description JSON Schema of the ticket's fields */
            form: {
                [key: string]: unknown;
            };
            key: string;
            name: string;
            names: {
                [key: string]: string;
            };
            process_key: string;
            summary_fields: string[];
        };
        TicketUpdate: {
            /** @description older form of fields.amount (the default type): a number or a decimal string */
            amount?: (number | string) | null;
            /** @description older form of fields.description (the default type) */
            description?: string | null;
            /** @description the ticket's own fields, as its type's form declares them */
            fields?: {
                [key: string]: (string | null) | number | boolean;
            };
            /** @description older form of fields.priority (the default type) */
            priority?: string | null;
            /** @description 1-200 characters, not only spaces */
            title?: string;
            /** @description a ticket type key (GET /api/ticket-types); the default type when left out */
            type?: string;
            /**
             * @description the version you edited; 409 if stale
             * @default null
             */
            version?: number | null;
        };
        TypeDuration: {
            count: number;
            /** @description seconds */
            median_s: number;
            /** @description seconds (nearest-rank 90th percentile) */
            p90_s: number;
            /** @description ticket type key */
            type: string;
        };
        TypeRate: {
            decided: number;
            /** @description rejected / decided; null when none was decided */
            rate: number | null;
            rejected: number;
            type: string;
        };
        TypeSla: {
            /** @description of those, completed at or before their due time */
            on_time: number;
            /** @description open steps past their due time now */
            open_overdue: number;
            /** @description on_time / with_due; null when with_due is 0 */
            share: number | null;
            /** @description ticket type key */
            type: string;
            /** @description steps completed in the period that had a due time */
            with_due: number;
        };
        UnreadCount: {
            unread: number;
        };
        User: {
            display_name: string;
            /** @description the groups processes offer steps to */
            groups: string[];
            /** @description PFlow permissions (admin; manager) */
            roles: string[];
            username: string;
        };
        Webhook: {
            /** @description false: paused by an admin, or disabled after failures (disabled_reason) */
            active: boolean;
            /** @description failed deliveries in a row */
            consecutive_failures: number;
            /** Format: date-time */
            created_at: string;
            created_by: string;
            description: string;
            /** @description why PFlow disabled the endpoint; null when active or paused by an admin */
            disabled_reason: string | null;
            event_types: string[];
            /** @description json, slack or teams */
            format: string;
            id: string;
            url: string;
        };
        WebhookCreated: {
            /** @description false: paused by an admin, or disabled after failures (disabled_reason) */
            active: boolean;
            /** @description failed deliveries in a row */
            consecutive_failures: number;
            /** Format: date-time */
            created_at: string;
            created_by: string;
            description: string;
            /** @description why PFlow disabled the endpoint; null when active or paused by an admin */
            disabled_reason: string | null;
            event_types: string[];
            /** @description json, slack or teams */
            format: string;
            id: string;
            /** @description the signing secret; shown this once only */
            secret: string;
            url: string;
        };
        WebhookDelivery: {
            attempts: number;
            /** Format: date-time */
            created_at: string;
            event_id: string;
            event_type: string;
            /** @description the X-PFlow-Delivery header of its calls */
            id: string;
            last_error: string | null;
            latency_ms: number | null;
            /** Format: date-time */
            next_attempt_at: string;
            /** @description the HTTP status of the last attempt; null when none came */
            response_code: number | null;
            /** Format: date-time */
            sent_at: string | null;
            /** @description pending (to be tried again at next_attempt_at), sent, failed (given up) */
            status: string;
        };
        WebhookDeliveryList: {
            /** @description newest first */
            items: components["schemas"]["WebhookDelivery"][];
        };
        WebhookInput: {
            /**
             * @description what the endpoint is for
             * @default
             */
            description?: string;
            /** @description the event types the endpoint receives: names (task.created) or patterns (ticket.*, task.*, * for all) */
            event_types: string[];
            /**
             * @description json: PFlow's event (docs/events.md); slack: a Block Kit message; teams: a MessageCard
             * @default json
             * @enum {string}
             */
            format?: "json" | "slack" | "teams";
            /**
             * @description signs each call (HMAC-SHA256, 16-200 characters); made by PFlow when left out
             * @default null
             */
            secret?: string | null;
            /** @description where PFlow POSTs each event: an http:// or https:// URL */
            url: string;
        };
        WebhookList: {
            items: components["schemas"]["Webhook"][];
        };
        WebhookTestResult: {
            error: string | null;
            latency_ms: number | null;
            response_code: number | null;
            /** @description sent or failed */
            status: string;
        };
        WebhookUpdate: {
            /** @description true enables the endpoint again (its failure count starts from zero); false pauses it */
            active?: boolean;
            /** @description what the endpoint is for */
            description?: string;
            /** @description the event types the endpoint receives: names (task.created) or patterns (ticket.*, task.*, * for all) */
            event_types?: string[];
            /**
             * @description json: PFlow's event (docs/events.md); slack: a Block Kit message; teams: a MessageCard
             * @enum {string}
             */
            format?: "json" | "slack" | "teams";
            /** @description where PFlow POSTs each event: an http:// or https:// URL */
            url?: string;
        };
        Week: {
            completed: number;
            created: number;
            rejected: number;
            /** @description the week's Monday (UTC), YYYY-MM-DD */
            week_start: string;
        };
    };
    responses: {
        /** @description Default error response */
        DEFAULT_ERROR: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Unprocessable Entity */
        UNPROCESSABLE_ENTITY: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
    };
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
