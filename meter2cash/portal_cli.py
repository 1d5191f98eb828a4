"""``m2c portal serve|user``: the portal server, wired to the streams' file import, and its users."""
from __future__ import annotations

import getpass
import sys

from config.settings import Settings


def services(settings: Settings):
    """The portal's collaborators it may not import itself (the streams' file import)."""
    from portal.app import Services

    def import_green_button(conn, data: bytes, meter_no: str) -> dict:
        import tempfile

        from streams.file_import import import_file

        with tempfile.NamedTemporaryFile(suffix=".xml") as upload:
            upload.write(data)
            upload.flush()
            summary = import_file(conn, settings.kafka_bootstrap, settings.topic_raw, "greenbutton", upload.name,
                                  meter=meter_no, snap_seconds=1)
        summary.file = "upload.xml"
        return summary.as_dict()

    return Services(import_green_button=import_green_button)


def make_app():
    """The application for uvicorn (``factory=True``), configured from the environment."""
    import os

    from portal.app import create_app

    settings = Settings.from_env()
    return create_app(settings, services(settings), production=os.environ.get("M2C_PORTAL_PRODUCTION") == "1")


def cmd_portal(args, settings: Settings) -> int:
    if args.action == "serve":
        import os

        import uvicorn

        if args.production:
            os.environ["M2C_PORTAL_PRODUCTION"] = "1"
        uvicorn.run("meter2cash.portal_cli:make_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=args.loglevel, access_log=False, proxy_headers=args.production)
        return 0
    import psycopg

    from portal.auth import PasswordPolicy, create_user
    from storage.db_errors import first_line

    if not args.username:
        print("error: username_required: m2c portal user NAME: give the user name", file=sys.stderr)
        return 2
    if args.disable or args.enable:
        return _set_disabled(settings, args.username, disabled=args.disable)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            user_id = create_user(conn, args.username, password, args.role, args.account or [])
    except (PasswordPolicy, ValueError, psycopg.errors.UniqueViolation) as error:
        code = "user_exists" if isinstance(error, psycopg.errors.UniqueViolation) else "bad_user"
        print(f"error: {code}: {first_line(error)}", file=sys.stderr)
        return 2
    print(f"user {args.username} ({args.role}) created: id {user_id}")
    return 0


def _set_disabled(settings, username: str, disabled: bool) -> int:
    import psycopg

    from portal.auth import set_disabled
    from portal.session_cache import announce_ended

    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            ended = set_disabled(conn, username, disabled)
    except ValueError as error:
        print(f"error: no_such_user: {error}", file=sys.stderr)
        return 2
    announce_ended(settings.redis_url, ended)
    print(f"user {username} {'disabled' if disabled else 'enabled'}"
          + (f"; {len(ended)} session(s) ended" if disabled else ""))
    return 0


def register(sub) -> None:
    p = sub.add_parser("portal", help="the customer portal and staff API (serve), or add a user")
    p.add_argument("action", choices=["serve", "user"])
    p.add_argument("username", nargs="?")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--loglevel", default="warning")
    p.add_argument("--production", action="store_true",
                   help="secure cookies, proxy headers; no demo users exist unless created")
    p.add_argument("--role", choices=["customer", "clerk", "supervisor", "admin"], default="customer")
    p.add_argument("--account", action="append", help="user: an account the customer sees (repeat)")
    p.add_argument("--password-stdin", action="store_true", help="user: read the password from standard input")
    p.add_argument("--disable", action="store_true",
                   help="user: disable an existing user and end their sessions in every portal process")
    p.add_argument("--enable", action="store_true", help="user: enable a disabled user again")
    p.set_defaults(func=cmd_portal)
