"""Every console page checks the caller's role with the same permission as the
JSON route that shows the same data (one table, server.accounts.auth.PERMISSIONS).
What each role gets on each page (a 403 page, the sign-in page without a
session) is the hand-written matrix of tests/server/accounts/test_roles.py."""

from __future__ import annotations

from server.app import create_app

# console endpoint -> the JSON API endpoint that shows or does the same
TWINS = {
    "console.overview": "office.overview", "console.devices": "office.devices",
    "console.forms": "forms.list_forms", "console.publish": "forms.publish",
    "console.form": "forms.get_form", "console.form_state": "forms.set_state",
    "console.form_media": "openrosa.media.upload_media",
    "console.submissions": "office.records", "console.export": "exports.export",
    "console.record": "sync.get_submission", "console.record_review": "review.set_review",
    "console.attachment": "sync.get_attachment", "console.review": "review.queue",
    "console.duplicates": "review.duplicates", "console.duplicate": "review.duplicate",
    "console.resolve": "review.resolve", "console.scores": "scores.trends",
    "console.scores_csv": "scores.trends", "console.users": "admin.list_users",
    "console.user_add": "admin.add_user", "console.token_create": "admin.create_token",
    "console.token_revoke": "admin.revoke_tokens", "console.outbox": "outbox.status",
    "console.outbox_retry": "outbox.retry",
    "console.enketo_refresh": "enketo.refresh_links",
    "console.enketo_edit": "enketo.edit_link",
    "console.public_link_create": "enketo.create_public_link",
    "console.public_link_revoke": "enketo.revoke_public_link",
    "console.user_disable": "admin.disable_user", "console.user_enable": "admin.enable_user",
    "console.user_delete_confirm": "admin.delete_user", "console.user_delete": "admin.delete_user",
    "console.password_reset": "admin.reset_password",
    "console.throttle_clear": "admin.clear_throttle",
    "console.account": "admin.change_own_password",
    "console.account_password": "admin.change_own_password",
}


def console_rules():
    app = create_app({"DATABASE": ":memory:"})
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console.") and rule.endpoint != "console.static":
            view = app.view_functions[rule.endpoint]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.append((rule.endpoint, method, rule.rule, getattr(view, "permission", None)))
    return app, out


APP, RULES = console_rules()


def test_every_console_page_declares_the_permission_of_its_json_twin():
    for endpoint, _method, _rule, permission in RULES:
        assert permission is not None, endpoint
        if endpoint in TWINS:
            assert permission == APP.view_functions[TWINS[endpoint]].permission, endpoint
    # sign-in, the QR code with an account and the duplicate rules (CLI only) have no twin
    assert {e for e, *_ in RULES} - set(TWINS) == {"console.login", "console.logout",
                                                  "console.collect_qr_for",
                                                  "console.form_rules"}


def test_the_403_page_says_so_in_the_users_language(console):
    client = console.client("enumerator")
    r = client.get("/?lang=fr")
    assert r.status_code == 403
    assert "Votre rôle ne permet pas cela".encode() in r.data
