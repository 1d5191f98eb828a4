"""``m2c import cmep|greenbutton|csv FILE``: head-end files into the stream (docs/importers.md)."""
from __future__ import annotations

import json
import sys

from config.settings import Settings

EXIT_REJECTED = 2  # imported what it could; some records were rejected (listed in the summary)


def cmd_import(args, settings: Settings) -> int:
    import psycopg

    from meter2cash.progress import ProgressBar
    from streams.file_import import import_file, read_meter_map

    try:
        meter_map = read_meter_map(args.meter_map) if args.meter_map else None
    except FileNotFoundError:
        raise  # said by m2c itself: one line with its code
    except (OSError, ValueError) as error:
        print(f"error: bad_meter_map: {error}", file=sys.stderr)
        return 2
    reading = ProgressBar(f"reading {args.file} (bytes)")
    bar = ProgressBar(f"publishing {args.file} (blocks)")

    def read_progress(done: int, total: int) -> None:
        reading.update(done, total)
        if done >= total:
            reading.close()
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            summary = import_file(conn, settings.kafka_bootstrap, settings.topic_raw, args.format, args.file,
                                  meter_map=meter_map, meter=args.meter, meter_field=args.meter_field,
                                  snap_seconds=args.snap_seconds,
                                  dry_run=args.dry_run, on_progress=bar.update, on_bytes=read_progress)
    finally:
        bar.close()
    print(json.dumps(summary.as_dict(), indent=2) if args.json else summary.text())
    return EXIT_REJECTED if summary.rejected else 0


def register(sub) -> None:
    p = sub.add_parser("import", help="import a CMEP, Green Button (ESPI XML) or CSV reads file into the stream")
    p.add_argument("format", choices=["cmep", "greenbutton", "csv"])
    p.add_argument("file")
    p.add_argument("--meter-map", help="CSV source_id,meter_id: the file's meter names to registered meters")
    p.add_argument("--meter", help="every series of the file belongs to this meter (e.g. one Green Button download)")
    p.add_argument("--meter-field", choices=["meter", "receiver-customer"], default="meter",
                   help="CMEP: the field that names the meter (default: the meter id, field 8)")
    p.add_argument("--snap-seconds", type=int, default=0, metavar="N",
                   help="move interval starts up to N seconds off the local interval grid onto it (counted)")
    p.add_argument("--dry-run", action="store_true", help="parse and match only; publish and store nothing")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_import)


def cmd_push(args, settings: Settings) -> int:
    from streams.push import new_token, parse_tokens, serve

    if args.action == "token":
        if not args.meters:
            print("error: meters_required: name the meters the head-end may write with --meters "
                  "(glob patterns joined by |, e.g. 'E00*|W00*'; '*' for any)", file=sys.stderr)
            return 2
        token, digest = new_token()
        print(f"token (give it to the head-end; it is not stored): {token}")
        print(f"add to M2C_PUSH_TOKENS: {args.name}:{digest}:{args.meters}")
        return 0
    try:
        tokens = parse_tokens(settings.push_tokens)
    except ValueError as error:
        print(f"error: bad_push_tokens: {error}", file=sys.stderr)
        return 2
    if not tokens:
        print("error: no_push_tokens: no head-end tokens configured (M2C_PUSH_TOKENS); create one with "
              "`m2c push token --name NAME --meters PATTERNS`", file=sys.stderr)
        return 2
    serve(settings.kafka_bootstrap, settings.topic_raw, tokens, args.host, args.port, args.delivery_timeout)
    return 0


def register_push(sub) -> None:
    p = sub.add_parser("push", help="HTTP endpoint for head-ends that post blocks (serve), or make a token")
    p.add_argument("action", choices=["serve", "token"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8088)
    p.add_argument("--name", default="head-end", help="token: the head-end's name (metrics label)")
    p.add_argument("--meters", help="token: the meters it may write, glob patterns joined by | ('*': any)")
    p.add_argument("--delivery-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="serve: answer 503 when Kafka has not acknowledged a request's blocks by then")
    p.set_defaults(func=cmd_push)
