"""``m2c dlq list|show|replay``: the dead-letter topic for operators - what is there, one letter whole, and
sending a chosen set back through the normal pipeline (recorded with who and why)."""
from __future__ import annotations

import getpass
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from config.settings import Settings


def _fail(code: str, message: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": code, "message": message}))
    else:
        print(f"error: {code}: {message}", file=sys.stderr)
    return 2


def _moment(text: str | None, zone: str, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        from streams.dlq import DlqError

        raise DlqError("bad_time", f"{name} {text!r} is an ISO 8601 date or time (e.g. 2026-11-03T14:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def _letter_position(text: str) -> tuple[int, int]:
    from streams.dlq import DlqError

    partition, _, offset = text.rpartition("/")
    try:
        return int(partition or 0), int(offset)
    except ValueError:
        raise DlqError("bad_letter", f"a letter is OFFSET or PARTITION/OFFSET, not {text!r}") from None


def cmd_dlq(args, settings: Settings) -> int:
    from confluent_kafka import KafkaException

    from streams.dlq import DlqError

    try:
        return _run(args, settings)
    except DlqError as error:
        return _fail(error.code, str(error), args.json)
    except KafkaException as error:
        return _fail("kafka_unavailable", str(error.args[0] if error.args else error), args.json)


def _run(args, settings: Settings) -> int:
    from streams import dlq

    since = _moment(args.since, settings.utility_zone, "--since") if args.action != "show" else None
    until = _moment(args.until, settings.utility_zone, "--until") if args.action != "show" else None
    if args.action == "replay":
        if not (args.all or args.reason or since or until):
            raise dlq.DlqError("no_selection", "say what to replay: --reason R, --since/--until, or --all")
        if not (args.why or "").strip():
            raise dlq.DlqError("why_required", "say why with --why")
    position = _letter_position(args.letter or "") if args.action == "show" else None
    letters = dlq.read_letters(settings)
    if args.action == "show":
        letter = dlq.find(letters, *position)
        body = letter.value.decode("utf-8", "replace")
        shown = {**letter.summary(), "headers": letter.headers,
                 "value": body if len(body) <= 4096 else body[:4096] + "...",
                 "value_bytes": len(letter.value)}
        if args.json:
            print(json.dumps(shown))
        else:
            for name in ("partition", "offset", "at", "reason", "detail", "source", "size", "by_reference", "key"):
                print(f"{name:<13} {shown[name]}")
            print(f"{'value':<13} {shown['value']!r}")
        return 0
    chosen = dlq.select(letters, args.reason, since, until)
    if args.action == "list":
        return _list(letters, chosen, args)
    return _replay(settings, chosen, args)


def _list(letters: list, chosen: list, args) -> int:
    by_reason: dict[str, int] = {}
    for letter in chosen:
        by_reason[letter.reason] = by_reason.get(letter.reason, 0) + 1
    shown = chosen[-args.limit:] if args.limit else chosen
    if args.json:
        print(json.dumps({"letters_in_topic": len(letters), "selected": len(chosen), "by_reason": by_reason,
                          "letters": [letter.summary() for letter in shown]}))
        return 0
    print(f"{len(chosen):,} of {len(letters):,} dead letters"
          + (f": {', '.join(f'{r} {n:,}' for r, n in sorted(by_reason.items()))}" if by_reason else ""))
    for letter in shown:
        kept = " (by reference)" if letter.by_reference else ""
        print(f"  {letter.partition}/{letter.offset:<8} {letter.at:%Y-%m-%d %H:%M:%S}Z  {letter.reason:<18} "
              f"{letter.size:>9,} B{kept}  {letter.source}  {letter.detail[:60]}")
    if len(shown) < len(chosen):
        print(f"  ... {len(chosen) - len(shown):,} more (--limit 0 shows all)")
    return 0


def _replay(settings: Settings, chosen: list, args) -> int:
    import psycopg

    from storage import dlq_replays
    from streams import dlq

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        before = dlq_replays.replayed(conn, settings.topic_dlq)
        outcome, sent = dlq.replay(settings, chosen, set(before), again=args.again, dry_run=args.dry_run)
        if sent and not args.dry_run:
            dlq_replays.record(conn, settings.topic_dlq, sent, settings.topic_raw, args.by or getpass.getuser(),
                               args.why)
    result = {"selected": outcome.selected, "replayed": 0 if args.dry_run else outcome.replayed,
              "would_replay": len(sent) if args.dry_run else None, "already_replayed": outcome.already_replayed,
              "by_reference": outcome.by_reference, "by_reason": outcome.by_reason, "to": settings.topic_raw}
    if args.json:
        print(json.dumps(result))
        return 0
    verb = "would replay" if args.dry_run else "replayed"
    reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(outcome.by_reason.items()))
    print(f"{verb} {len(sent):,} of {outcome.selected:,} selected letters to {settings.topic_raw}"
          + (f" ({reasons})" if reasons else ""))
    if outcome.already_replayed:
        print(f"  {outcome.already_replayed:,} replayed before, left (--again sends them once more)")
    if outcome.by_reference:
        print(f"  {outcome.by_reference:,} kept by reference (message too large to republish): nothing to replay")
    return 0


def register(sub) -> None:
    p = sub.add_parser("dlq", help="the dead-letter topic: list, show a letter, replay through the pipeline")
    p.add_argument("action", choices=["list", "show", "replay"])
    p.add_argument("letter", nargs="?", help="show: OFFSET or PARTITION/OFFSET")
    p.add_argument("--reason", help="letters of this reason only (e.g. processing_error, bad_json)")
    p.add_argument("--since", help="letters dead-lettered at or after this time (ISO 8601; local if no offset)")
    p.add_argument("--until", help="letters dead-lettered before this time")
    p.add_argument("--all", action="store_true", help="replay: every letter")
    p.add_argument("--again", action="store_true", help="replay: also letters replayed before")
    p.add_argument("--dry-run", action="store_true", help="replay: say what would be sent, send nothing")
    p.add_argument("--why", help="replay: why (recorded)")
    p.add_argument("--by", help="who (default: your login)")
    p.add_argument("--limit", type=int, default=50, help="list: newest letters shown (0: all)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_dlq)
