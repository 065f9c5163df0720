"""Error messages by stable code, in the request's language.

English answers keep the specific message the code raised ("No form 'rss2'
is published here..."). Other languages answer with the catalogue's
translation of the code's message below, and keep the specific English text
in ``details.message_en`` (API) so nothing is lost. Every code registered in
any package (server, OpenRosa, forms, scoring, sync) has a message here; a
test holds that, and that each has its French translation.
"""

from __future__ import annotations

from server.i18n import DEFAULT, N_, current_language, translations

MESSAGES: dict[str, str] = {
    # server.errors
    "bad_request": N_("The request is malformed: check its parameters against docs/API.md."),
    "json_invalid": N_("Send a JSON object body with Content-Type application/json."),
    "validation_failed": N_("Some values are invalid: fix the fields listed in details."),
    "auth_required": N_("Sign in first: this needs an account."),
    "token_invalid": N_("The bearer token is unknown or revoked; ask an admin for a new one."),
    "forbidden": N_("Your role may not do this; ask an admin if you need it."),
    "not_found": N_("There is nothing at this address."),
    "form_unknown": N_("No form with this id is published here."),
    "form_version_unknown": N_("This form has no such version; publish it first."),
    "submission_unknown": N_("No submission with this instance id is held here."),
    "method_not_allowed": N_("This method is not allowed at this address."),
    "form_version_conflict": N_("This form version is already published with different "
                                "content; raise the version and publish again."),
    "user_exists": N_("A user with this name already exists."),
    "payload_too_large": N_("The upload is larger than the server accepts."),
    "unsupported_media_type": N_("The server cannot read this kind of content."),
    "file_missing": N_("Choose a file to upload."),
    "role_unknown": N_("Unknown role; use admin, supervisor, enumerator, analyst or peer."),
    "user_unknown": N_("No user with this name."),
    "password_too_short": N_("The password needs at least 8 characters."),
    "form_state_invalid": N_("Unknown form state; use open, closing or closed."),
    "attachment_hash_mismatch": N_("The attachment was cut or changed on the way; send it "
                                   "again."),
    "attachment_unknown": N_("No such attachment is held here."),
    "body_too_large": N_("The body is too large once inflated; send smaller batches."),
    "encoding_unsupported": N_("Send the body plain or gzip-encoded."),
    "internal_error": N_("The server failed to handle this request; it has been logged."),
    "scoring_spec_conflict": N_("A scoring spec with this version already exists with "
                                "different content."),
    "match_unknown": N_("No such probable-duplicate match."),
    "match_resolved": N_("This match was already resolved; nothing was changed."),
    "csrf_failed": N_("This form has expired or did not come from this console: reload the "
                      "page and send it again."),
    "auth_failed": N_("Unknown user or wrong password."),
    "account_disabled": N_("This account is disabled; ask an admin to enable it."),
    "login_throttled": N_("Too many failed sign-ins for this account or from this address; "
                          "wait a few minutes and try again."),
    "throttle_unknown": N_("No sign-in throttle with this key; list the throttles first."),
    # server.openrosa.errors
    "submission_missing": N_("The submission has no xml_submission_file part."),
    "instance_id_invalid": N_("The instance id must look like uuid:..."),
    "submission_form_unknown": N_("The submission names no form published here."),
    "submission_conflict": N_("A submission with this instance id but other content is "
                              "already held; both are kept and flagged."),
    "digest_invalid": N_("The Digest credentials are malformed or wrong."),
    "nonce_stale": N_("The Digest nonce expired; send the request again."),
    "basic_invalid": N_("The user name or password is wrong."),
    "media_name_invalid": N_("This media file name is not allowed; use letters, digits, "
                             "dots, dashes and underscores."),
    "media_conflict": N_("A media file of this name already holds other content."),
    "media_unknown": N_("No such media file."),
    # forms.errors
    "xml_invalid": N_("The XML cannot be read."),
    "xml_forbidden": N_("The XML uses features refused for safety (entities, DTDs)."),
    "xlsform_invalid": N_("The XLSForm has errors: fix the rows listed."),
    "xlsform_unreadable": N_("The XLSForm file cannot be read; save it again as .xlsx."),
    "xlsform_type_unsupported": N_("Upload the XLSForm as .xlsx, .xls, .csv or .md."),
    "xlsform_expression_unsupported": N_("The form uses an expression fieldsync cannot "
                                         "evaluate; see the field named."),
    "submission_invalid": N_("The submission cannot be read as a record of this form."),
    # scoring.errors
    "scoring_spec_invalid": N_("The scoring spec is malformed: fix the rows listed."),
    "scoring_spec_form_mismatch": N_("The scoring spec names a field or choice the form "
                                     "lacks."),
    "scoring_spec_unknown": N_("No scoring spec with this version is installed."),
    "scoring_input_invalid": N_("The file to score cannot be read."),
    # sync.errors
    "batch_invalid": N_("The batch is malformed: fix the fields listed in details."),
    "record_invalid": N_("A record of the batch is malformed."),
    "batch_too_large": N_("The batch is too large; send fewer records at a time."),
    "device_not_initialised": N_("This device is not set up yet; run `fieldsync device "
                                 "init`."),
    "server_unreachable": N_("The server cannot be reached; try again when connected."),
    "server_refused": N_("The server refused the request."),
    "collect_folder_invalid": N_("This is not an ODK Collect instances folder."),
    "form_not_cached": N_("This form is not on the device; pull it first."),
    "record_conflict": N_("The record conflicts with one already held."),
    "device_store_failed": N_("The device's store failed; nothing was lost, try again."),
    "fill_aborted": N_("Filling the form was stopped."),
    # forms.errors
    "timezone_invalid": N_("The time zone setting names no known zone; use a name such "
                           "as Africa/Conakry or UTC."),
    # server.entities.errors
    "list_unknown": N_("No entity list of this name is held here."),
    "list_name_invalid": N_("This is not a usable list name; use letters, digits, _ and -."),
    "entity_unknown": N_("No entity with this id is in the list."),
    "entity_conflict_unknown": N_("No entity conflict with this id."),
    "entity_conflict_resolved": N_("This entity conflict was already resolved; nothing "
                                   "was changed."),
    "import_invalid": N_("The CSV cannot be imported and nothing was: fix the rows and "
                         "columns listed in details."),
    "property_invalid": N_("This property name is reserved or not a name."),
    "schedule_invalid": N_("This due schedule cannot be used; the details say which part."),
    "team_invalid": N_("This team name or member list cannot be used."),
    # server.central.errors
    "credentials_invalid": N_("The user name, password or session is wrong."),
    "session_unknown": N_("No such session of yours."),
    "project_unknown": N_("No such project: fieldsync has one project, 1."),
    "submission_xml_invalid": N_("The body is not a submission instance of this form."),
    "submission_form_mismatch": N_("The submission names another form than the address."),
    "review_state_invalid": N_("Unknown review state; use hasIssues, approved or rejected."),
    "comment_invalid": N_("Send the comment as JSON with its text in \"body\"."),
    "submission_edit_stale": N_("An edit must replace the current version: set its deprecatedID to the current instanceID."),
    "attachment_not_expected": N_("The submission names no attachment of this name."),
    "odata_query_invalid": N_("The OData query is malformed: check $filter, $select, "
                              "$top and the other options."),
    "odata_property_unknown": N_("The table has no property of this name."),
    "odata_unsupported": N_("This OData feature is not served by fieldsync."),
    "odata_format_unacceptable": N_("Ask for JSON (or XML for $metadata)."),
    "odata_table_unknown": N_("This form has no such table."),
    # server.enketo.errors
    "enketo_not_configured": N_("Enketo is not set up on this server: set its address, its "
                                "API key and this server's address (docs/enketo.md)."),
    "enketo_unreachable": N_("Enketo did not answer; check its address and that it runs."),
    "enketo_refused": N_("Enketo refused the request; the details say why."),
    "enketo_edit_busy": N_("This record was opened for editing in Enketo less than a minute "
                           "ago; wait a minute and try again."),
    "enketo_form_not_open": N_("The form is not open: its web forms are switched off."),
    "enketo_record_not_current": N_("This record has no current version to edit; resolve "
                                    "it first."),
    "media_link_invalid": N_("This attachment link was altered or is not for this record."),
    "media_link_expired": N_("This attachment link has expired; open the edit again."),
    "public_link_unknown": N_("This link is unknown or was revoked; ask the survey's "
                              "organisers for a current link."),
    "public_link_closed": N_("This survey is closed and takes no more answers."),
    "public_link_form_mismatch": N_("This link accepts records of its own form only."),
    "public_link_edit_refused": N_("A public link adds new records; it cannot change one "
                                   "already sent."),
    "public_link_throttled": N_("Too many submissions from this address; try again later."),
    "public_link_label_invalid": N_("A link's label is at most 100 printable characters."),
}


def error_message(code: str, message: str, lang: str | None = None) -> str:
    """``message`` in English; in another language, the code's translated message
    (the English ``message`` when the code has none)."""
    lang = lang or current_language()
    template = MESSAGES.get(code)
    if lang == DEFAULT or template is None:
        return message
    return translations(lang).ugettext(template)


def localise(code: str, message: str, details: dict) -> tuple[str, dict]:
    """(message, details) for a JSON error body in the request's language."""
    text = error_message(code, message)
    if text != message:
        details = {**details, "message_en": message}
    return text, details
