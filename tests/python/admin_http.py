"""A tiny client of the broker's admin REST API (urllib only), for tests."""

import json
import urllib.error
import urllib.request


class AdminError(Exception):
    """A non-2xx answer: `status` and the decoded `reason`."""

    def __init__(self, status, reason):
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


def request(admin_url, method, path, body=None):
    """Sends one request; returns the decoded JSON body (or text, or None for 204)."""
    data = None
    headers = {}
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(admin_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as e:
        raw = e.read().decode()
        try:
            reason = json.loads(raw).get("reason", raw)
        except ValueError:
            reason = raw
        raise AdminError(e.code, reason) from None
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
