"""The registry of stable error codes: every `code` a client can receive, with its meaning.

Raise sites name a member (`Code.SPACE_CLOSED`), never a string, so a code cannot be
misspelt, the OpenAPI document lists exactly these (with `MEANING`), and the web client has a
Swedish and an English text for each (tests/e2e/test_web_error_texts.py). The values are wire
contract: never change one; add a member instead.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    # generic, one per error class (domain/errors.py) and the HTTP fallbacks (api/problems.py)
    ERROR = "error"
    VALIDATION_FAILED = "validation_failed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    INTEGRITY_FAILURE = "integrity_failure"
    AUTHENTICATION_FAILED = "authentication_failed"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BAD_REQUEST = "bad_request"
    BODY_TOO_LARGE = "body_too_large"
    HTTP_ERROR = "http_error"
    INTERNAL_ERROR = "internal_error"
    # request shape (api/endpoint.py, api/schemas.py)
    MALFORMED_JSON = "malformed_json"
    DUPLICATE_FIELD = "duplicate_field"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    UNKNOWN_PARAMETER = "unknown_parameter"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_VALUE = "unknown_value"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    BLANK = "blank"
    INVISIBLE_CHARACTER = "invisible_character"
    DUPLICATE_ITEM = "duplicate_item"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INVALID_TIME = "invalid_time"
    INVALID_TIME_RANGE = "invalid_time_range"
    INVALID_SEARCH = "invalid_search"
    # signing in and sessions
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_REFRESH_TOKEN = "invalid_refresh_token"
    TOKEN_MISSING = "token_missing"
    TOKEN_INVALID = "token_invalid"
    TOKEN_EXPIRED = "token_expired"
    SESSION_REVOKED = "session_revoked"
    ACCOUNT_INACTIVE = "account_inactive"
    NO_SESSION = "no_session"
    CSRF_FAILED = "csrf_failed"
    AUTH_REQUIRED = "auth_required"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    # actors, users, passwords, contact points
    ACTOR_EXISTS = "actor_exists"
    USERNAME_TAKEN = "username_taken"
    INVALID_USERNAME = "invalid_username"
    INVALID_SHORT_NAME = "invalid_short_name"
    INVALID_EMAIL = "invalid_email"
    INVALID_PHONE = "invalid_phone"
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_TOO_LONG = "password_too_long"
    PASSWORD_COMMON = "password_common"
    PASSWORD_REPETITIVE = "password_repetitive"
    NOT_ACTOR_ADMIN = "not_actor_admin"
    NOT_AUDIT_READER = "not_audit_reader"
    SELF_CHANGE = "self_change"
    SYSTEM_ADMIN_PROTECTED = "system_admin_protected"
    ROLE_NOT_GRANTABLE = "role_not_grantable"
    CLEARANCE_ABOVE_CEILING = "clearance_above_ceiling"
    CLEARANCE_ABOVE_OWN = "clearance_above_own"
    # spaces
    ROLE_MAY_NOT_CREATE_SPACE = "role_may_not_create_space"
    CEILING_ABOVE_CLEARANCE = "ceiling_above_clearance"
    OWNER_MUST_PARTICIPATE = "owner_must_participate"
    OWNER_CANNOT_BE_CAPPED = "owner_cannot_be_capped"
    DUPLICATE_PARTICIPANT = "duplicate_participant"
    UNKNOWN_ACTOR = "unknown_actor"
    NOT_SPACE_OWNER = "not_space_owner"
    SPACE_ROLE_TOO_LOW = "space_role_too_low"
    SPACE_CLOSED = "space_closed"
    # entries and situation reports
    CLASSIFICATION_ABOVE_CEILING = "classification_above_ceiling"
    CLASSIFICATION_ABOVE_CLEARANCE = "classification_above_clearance"
    INVALID_AUDIENCE = "invalid_audience"
    AUDIENCE_BELOW_LEVEL = "audience_below_level"
    NOT_AUTHOR_ACTOR = "not_author_actor"
    NOTICE_VIA_NOTICES = "notice_via_notices"
    DUPLICATE_SECTION = "duplicate_section"
    EMPTY_REPORT = "empty_report"
    SECTION_NOT_READABLE = "section_not_readable"
    # call-outs (aktivering) and their acknowledgement links
    ACTORS_OR_LIST = "actors_or_list"
    NO_ACTORS = "no_actors"
    TOO_MANY_ACTORS = "too_many_actors"
    ACTOR_NOT_PARTICIPANT = "actor_not_participant"
    NOT_SUMMONED = "not_summoned"
    NOT_CALLOUT_OWNER = "not_callout_owner"
    CALLOUT_CLOSED = "callout_closed"
    CODE_INVALID = "code_invalid"
    LINK_INVALID = "link_invalid"
    LINK_EXPIRED = "link_expired"
    LIST_NAME_TAKEN = "list_name_taken"
    ROLE_MAY_NOT_KEEP_LISTS = "role_may_not_keep_lists"
    # notices and notification preferences
    NOT_NOTICE_SENDER = "not_notice_sender"
    NOT_SYSTEM_ADMIN = "not_system_admin"
    DUPLICATE_CHANNEL = "duplicate_channel"
    SPACE_IDS_WITHOUT_CHOSEN = "space_ids_without_chosen"
    UNKNOWN_TIMEZONE = "unknown_timezone"
    EMPTY_QUIET_HOURS = "empty_quiet_hours"
    NOT_YOUR_SPACE = "not_your_space"
    MALFORMED_FORM = "malformed_form"
    INVALID_RAKEL_SSI = "invalid_rakel_ssi"
    INVALID_CONTACT_PRIORITY = "invalid_contact_priority"
    RAKEL_GSSI_TAKEN = "rakel_gssi_taken"
    # Web Push subscriptions
    INVALID_PUSH_KEY = "invalid_push_key"
    INVALID_PUSH_ENDPOINT = "invalid_push_endpoint"
    PUSH_DISABLED = "push_disabled"
    TOO_MANY_PUSH_SUBSCRIPTIONS = "too_many_push_subscriptions"
    PUSH_SUBSCRIPTION_NOT_FOUND = "push_subscription_not_found"
    # inbound SMS webhooks (answered to the SMS provider, channels/sms_webhooks.py)
    SMS_WEBHOOK_MISSING_FIELD = "sms_webhook_missing_field"
    SMS_WEBHOOK_FIELD_TOO_LONG = "sms_webhook_field_too_long"
    SMS_WEBHOOK_INVALID_TIME = "sms_webhook_invalid_time"
    SMS_WEBHOOK_INVALID_NUMBER = "sms_webhook_invalid_number"
    SMS_WEBHOOK_INVALID_STATUS = "sms_webhook_invalid_status"
    SYNC_CURSOR_INVALID = "sync_cursor_invalid"
    # phone conferences (channels/phone, services/phone)
    PHONE_SIGNATURE_INVALID = "phone_signature_invalid"
    PHONE_WEBHOOK_MISSING_FIELD = "phone_webhook_missing_field"
    PHONE_WEBHOOK_FIELD_TOO_LONG = "phone_webhook_field_too_long"
    PHONE_WEBHOOK_INVALID_FIELD = "phone_webhook_invalid_field"
    PHONE_DISABLED = "phone_disabled"
    NO_FREE_CONFERENCE_LINE = "no_free_conference_line"
    CONFERENCE_ENDED = "conference_ended"
    # websocket `error` frames only (docs/realtime.md), never a problem+json answer
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"


STREAM_ONLY = frozenset({Code.BAD_MESSAGE, Code.UNKNOWN_TYPE, Code.TOO_MANY_SUBSCRIPTIONS})
"""Codes carried only by websocket `error` frames; every other code is a problem+json code."""

STREAM_FRAME_CODES = STREAM_ONLY | {Code.NOT_FOUND}
"""Every code a websocket `error` frame can carry (documented in docs/realtime.md)."""

MEANING: dict[Code, str] = {
    Code.ERROR: "an error without a more specific code",
    Code.VALIDATION_FAILED: "the input was refused (a more specific code usually says why)",
    Code.UNSUPPORTED_MEDIA_TYPE: "send the body as application/json",
    Code.NOT_FOUND: "no such resource — or one you may not see (they look the same)",
    Code.FORBIDDEN: "you can see it but may not do this",
    Code.CONFLICT: "it conflicts with something that exists",
    Code.INTEGRITY_FAILURE: "stored content failed its integrity check and is withheld",
    Code.AUTHENTICATION_FAILED: "not signed in, or the credentials were refused",
    Code.TOO_MANY_ATTEMPTS: "throttled: wait Retry-After seconds",
    Code.METHOD_NOT_ALLOWED: "the resource does not support this method",
    Code.BAD_REQUEST: "the request could not be understood",
    Code.BODY_TOO_LARGE: "the body is larger than the server accepts",
    Code.HTTP_ERROR: "another HTTP-level error",
    Code.INTERNAL_ERROR: "the server failed; the request id is in X-Request-ID",
    Code.MALFORMED_JSON: "the body is not valid JSON (or nested too deeply)",
    Code.DUPLICATE_FIELD: "a field appears twice in the body",
    Code.UNKNOWN_FIELD: "the body has a field the operation does not take",
    Code.MISSING_FIELD: "a required field is missing",
    Code.UNKNOWN_PARAMETER: "a query parameter the operation does not take",
    Code.WRONG_TYPE: "a value has the wrong JSON type (or a number is not plain digits)",
    Code.OUT_OF_RANGE: "a number is outside the allowed range",
    Code.INVALID_FIELD: "a value is not allowed (e.g. contains NUL)",
    Code.UNKNOWN_VALUE: "a value is not one of the allowed ones",
    Code.TOO_SHORT: "a text or list is shorter than allowed",
    Code.TOO_LONG: "a text or list is longer than allowed",
    Code.BLANK: "a text is empty or only white space",
    Code.INVISIBLE_CHARACTER: "a name contains an invisible or control character",
    Code.DUPLICATE_ITEM: "a list repeats an item",
    Code.INVALID_IDEMPOTENCY_KEY: "Idempotency-Key must be 1-200 visible ASCII characters",
    Code.IDEMPOTENCY_KEY_REUSED: "the Idempotency-Key was used for a different request",
    Code.INVALID_TIME: "a time must be ISO 8601 with a UTC offset or Z",
    Code.INVALID_TIME_RANGE: "since must be before until",
    Code.INVALID_SEARCH: "q must be 1-200 non-blank characters",
    Code.INVALID_CREDENTIALS: "wrong username or password (or the account is disabled)",
    Code.INVALID_REFRESH_TOKEN: "the refresh token is invalid or expired",
    Code.TOKEN_MISSING: "no bearer token",
    Code.TOKEN_INVALID: "the access token is malformed, not ours or not an access token",
    Code.TOKEN_EXPIRED: "the access token has expired; refresh it",
    Code.SESSION_REVOKED: "the session has ended (signed out, or revoked); sign in again",
    Code.ACCOUNT_INACTIVE: "the account is disabled or removed",
    Code.NO_SESSION: "no session cookie (browser sign-in)",
    Code.CSRF_FAILED: "the CSRF token is missing or wrong",
    Code.AUTH_REQUIRED: "the stream's first message must authenticate",
    Code.TOO_MANY_CONNECTIONS: "too many open stream connections for this user",
    Code.ACTOR_EXISTS: "an actor with that name or short name exists",
    Code.USERNAME_TAKEN: "that username is taken",
    Code.INVALID_USERNAME: "usernames are 3-80 characters: letters, digits and . _ - @",
    Code.INVALID_SHORT_NAME: "a short name has only letters, digits and '-'",
    Code.INVALID_EMAIL: "not a valid e-mail address",
    Code.INVALID_PHONE: "not a valid phone number (E.164, or a Swedish number)",
    Code.PASSWORD_TOO_SHORT: "the password is shorter than the minimum",
    Code.PASSWORD_TOO_LONG: "the password is too long",
    Code.PASSWORD_COMMON: "the password is among the most common ones",
    Code.PASSWORD_REPETITIVE: "the password is one repeated character",
    Code.NOT_ACTOR_ADMIN: "only that actor's administrators may do this",
    Code.NOT_AUDIT_READER: "only administrators read the audit trail (actor admins: their own)",
    Code.SELF_CHANGE: "you may not disable yourself or change your own role or clearance",
    Code.SYSTEM_ADMIN_PROTECTED: "only system administrators change a system administrator",
    Code.ROLE_NOT_GRANTABLE: "only system administrators grant that role",
    Code.CLEARANCE_ABOVE_CEILING: "a clearance above the actor's ceiling",
    Code.CLEARANCE_ABOVE_OWN: "an account or ceiling cleared above your own clearance",
    Code.ROLE_MAY_NOT_CREATE_SPACE: "only editors create spaces",
    Code.CEILING_ABOVE_CLEARANCE: "a space ceiling above your clearance",
    Code.OWNER_MUST_PARTICIPATE: "the owning actor cannot leave its space",
    Code.OWNER_CANNOT_BE_CAPPED: "the owning actor's role in its space cannot be capped",
    Code.DUPLICATE_PARTICIPANT: "an actor is named twice among the participants",
    Code.UNKNOWN_ACTOR: "an unknown actor among the participants",
    Code.NOT_SPACE_OWNER: "only the owning actor's editors may do this",
    Code.SPACE_ROLE_TOO_LOW: "your role in the space does not allow this",
    Code.SPACE_CLOSED: "the space is closed: nothing new is published in it",
    Code.CLASSIFICATION_ABOVE_CEILING: "the item's classification is above the space's ceiling",
    Code.CLASSIFICATION_ABOVE_CLEARANCE: "the item's classification is above your clearance",
    Code.INVALID_AUDIENCE: "the audience must name participating actors, your own included",
    Code.AUDIENCE_BELOW_LEVEL: "an actor in the audience has a ceiling below the item's level",
    Code.NOT_AUTHOR_ACTOR: "only the author's actor changes an entry's read right",
    Code.NOTICE_VIA_NOTICES: "notices are posted to the space's notices, which deliver them",
    Code.DUPLICATE_SECTION: "a report section appears twice",
    Code.EMPTY_REPORT: "a situation report needs at least one section",
    Code.SECTION_NOT_READABLE: "the current version has that section at a level you may not "
                               "read; only someone who can read it may change or remove it",
    Code.ACTORS_OR_LIST: "give either actor_ids or list_id",
    Code.NO_ACTORS: "a call-out summons at least one actor",
    Code.TOO_MANY_ACTORS: "a call-out summons too many actors",
    Code.ACTOR_NOT_PARTICIPANT: "only actors participating in the space can be called out",
    Code.NOT_SUMMONED: "your actor is not summoned by this call-out",
    Code.NOT_CALLOUT_OWNER: "only the calling actor's editors change a call-out",
    Code.CALLOUT_CLOSED: "the call-out is closed",
    Code.CODE_INVALID: "that acknowledgement code does not answer this call-out",
    Code.LINK_INVALID: "no such acknowledgement link",
    Code.LINK_EXPIRED: "the acknowledgement link has expired",
    Code.LIST_NAME_TAKEN: "your actor already has a call-out list with that name",
    Code.ROLE_MAY_NOT_KEEP_LISTS: "only an actor's editors keep call-out lists",
    Code.NOT_NOTICE_SENDER: "only the sender and the space's editors see a notice's deliveries",
    Code.NOT_SYSTEM_ADMIN: "system administrators only",
    Code.DUPLICATE_CHANNEL: "a channel is named twice",
    Code.SPACE_IDS_WITHOUT_CHOSEN: "space_ids are given only with the 'chosen' spaces choice",
    Code.UNKNOWN_TIMEZONE: "unknown time zone (an IANA name, e.g. Europe/Stockholm)",
    Code.EMPTY_QUIET_HOURS: "quiet hours must not start when they end",
    Code.NOT_YOUR_SPACE: "only spaces your actor takes part in can be chosen",
    Code.MALFORMED_FORM: "the form body could not be read",
    Code.INVALID_RAKEL_SSI: "not a Rakel ISSI/GSSI (a number from 1 to 16777215)",
    Code.INVALID_CONTACT_PRIORITY: "a contact point's priority is a whole number from 1 to 99",
    Code.RAKEL_GSSI_TAKEN: "that Rakel talkgroup is already linked to another open space",
    Code.INVALID_PUSH_KEY: "a push subscription key is not valid base64url of the right size",
    Code.INVALID_PUSH_ENDPOINT: "a push endpoint that may not be stored (https, a public host)",
    Code.PUSH_DISABLED: "Web Push is not enabled on this server",
    Code.TOO_MANY_PUSH_SUBSCRIPTIONS: "too many push subscriptions for one user",
    Code.PUSH_SUBSCRIPTION_NOT_FOUND: "no such push subscription",
    Code.SMS_WEBHOOK_MISSING_FIELD: "an SMS webhook call lacks a required field",
    Code.SMS_WEBHOOK_FIELD_TOO_LONG: "an SMS webhook field is too long",
    Code.SMS_WEBHOOK_INVALID_TIME: "an SMS webhook timestamp is invalid",
    Code.SMS_WEBHOOK_INVALID_NUMBER: "an SMS webhook sender is not a phone number",
    Code.SMS_WEBHOOK_INVALID_STATUS: "an SMS delivery report has an unknown status",
    Code.SYNC_CURSOR_INVALID: "the sync cursor is not one this server issued to you; start "
                              "again without one",
    Code.PHONE_SIGNATURE_INVALID: "a phone provider webhook whose signature (or key) is not "
                                  "valid for this URL and body",
    Code.PHONE_WEBHOOK_MISSING_FIELD: "a phone provider webhook lacks a required field",
    Code.PHONE_WEBHOOK_FIELD_TOO_LONG: "a phone provider webhook field is too long",
    Code.PHONE_WEBHOOK_INVALID_FIELD: "a phone provider webhook field has an invalid value",
    Code.PHONE_DISABLED: "phone conferences are not enabled on this server "
                         "(WIS_PHONE_PROVIDER)",
    Code.NO_FREE_CONFERENCE_LINE: "every conference line is held by an active conference; "
                                  "end one first",
    Code.CONFERENCE_ENDED: "the conference has ended",
    Code.BAD_MESSAGE: "a stream message was not understood",
    Code.UNKNOWN_TYPE: "a stream message of an unknown (or repeated) type",
    Code.TOO_MANY_SUBSCRIPTIONS: "too many spaces subscribed on one stream connection",
}
