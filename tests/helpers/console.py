"""A console on an in-process app: a store with the RSS form and one account per
role (all with the same password); signing in and sending forms as a browser
would, with the page's CSRF token."""

from __future__ import annotations

import re
import uuid

from server.accounts.users import token_create, user_add
from server.app import create_app
from server.ingest.pipeline import ingest
from server.ops.serve import prepare_store
from server.store import open_db
from tests.helpers.forwarding import rss_version
from tests.helpers.rss_records import BEST, build

ROLES = ("admin", "supervisor", "enumerator", "analyst", "peer")
PASSWORD = "correct-horse"


class Console:
    def __init__(self, path):
        self.path = str(path)
        prepare_store(self.path)
        self.db = open_db(self.path)
        self.version = rss_version(self.db)
        self.tokens = {}
        for role in ROLES:
            user_add(self.db, f"{role}1", role, PASSWORD)
            self.tokens[role] = token_create(self.db, f"{role}1")
        self.app = create_app({"DATABASE": self.path})

    def client(self, role: str | None = None, lang: str | None = None):
        """A test client, signed in as ``<role>1`` when a role is given."""
        client = self.app.test_client()
        if role:
            assert sign_in(client, f"{role}1", PASSWORD).status_code == 302
        return client

    def api(self, role: str, path: str, **headers):
        headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return self.app.test_client().get(path, headers=headers)

    def push(self, records, device="tab-1", user="enumerator1"):
        return ingest(self.db, records, door="sync", user=user, device_id=device,
                      batch_id=str(uuid.uuid4()), office="office")

    def record(self, **changes) -> dict:
        return {"instance_id": f"uuid:{uuid.uuid4()}", "form_id": "rss",
                "form_version": self.version, "data": build(BEST, **changes),
                "attachments": []}


def csrf_of(html: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()


def sign_in(client, name: str, password: str, next_: str = "/"):
    token = csrf_of(client.get("/login").data)
    return client.post("/login", data={"username": name, "password": password,
                                       "next": next_, "csrf_token": token})


def post_form(client, page: str, action: str, data: dict, **kw):
    """Send a console form as a browser would: with the page's CSRF token."""
    token = csrf_of(client.get(page).data)
    return client.post(action, data={**data, "csrf_token": token}, **kw)
