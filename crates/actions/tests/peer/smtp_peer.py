"""An SMTP server on 127.0.0.1 for SEND_EMAIL's tests, on aiosmtpd.

usage: smtp_peer.py PORT [USER PASSWORD]

Prints READY once it listens, then one JSON line per accepted message:
{"from", "to", "data", "login"}. A recipient starting with `busy` is
answered 451 the first time and accepted after; one starting with `reject`
is answered 550. With USER and PASSWORD, AUTH is required (plain text is
allowed: the tests talk over loopback). Stops when stdin closes.
"""
import json
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

PORT = int(sys.argv[1])
USER = sys.argv[2] if len(sys.argv) > 3 else None
PASSWORD = sys.argv[3] if len(sys.argv) > 3 else None


class Handler:
    def __init__(self):
        self.refused_once = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("busy") and address not in self.refused_once:
            self.refused_once.add(address)
            return "451 4.3.0 Mailbox busy, try again later"
        if address.startswith("reject"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        print(
            json.dumps(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "data": envelope.content.decode("utf-8", "replace"),
                    "login": login,
                }
            ),
            flush=True,
        )
        return "250 2.0.0 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == USER
        and auth_data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=PORT,
    authenticator=authenticator if USER else None,
    auth_required=bool(USER),
    auth_require_tls=False,
)
controller.start()
print("READY", flush=True)
try:
    sys.stdin.read()
finally:
    controller.stop()
