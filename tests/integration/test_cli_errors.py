"""Every command of `m2c`, given a missing file or a bad value: one line `error: CODE: message` on
stderr and exit 2 - never a traceback. The walk covers every command the parser knows."""
import re
import shlex

import pytest

from meter2cash.cli import build_parser, main
from tests.services import drop_fresh, fresh_settings

pytestmark = pytest.mark.integration
LINE = re.compile(r"^error: [a-z_]+: .+")
MISTAKES = [
    'services restart',
    'migrate validate /nope',
    'migrate load /nope',
    'migrate parallel-run /nope',
    'migrate parallel-run /tmp --periods x',
    'migrate make-extract',
    'topics extra',
    'worker --metrics-port abc',
    'cycles create --count x',
    'cycles close-due --date notadate',
    'tariff validate',
    'tariff validate /nope.toml',
    'tariff convert /nope.json',
    'tariff publish /nope.toml',
    'tariff show NOPE',
    'tariff diff NOPE NOPE2',
    'rate quote --tariff /nope.toml --usage /nope.csv --start 2026-01-01 --end 2026-02-01',
    'rate quote --tariff rating/tariffs/residential_electric.toml --usage /nope.csv --start 2026-01-01 --end 2026-02-01',
    'rate quote --tariff /nope.toml --usage /nope.csv --start yesterday --end 2026-02-01',
    'rate impact --current /nope --proposed /nope --period-start 2026-01-01 --period-end 2026-02-01',
    'rate impact --current NOPE --proposed NOPE --period-start x --period-end 2026-02-01',
    'exceptions show x',
    'exceptions show 999',
    'exceptions accept 999 --why test',
    'exceptions override 999 --set x --why test',
    'account show NOPE',
    'bills show abc',
    'bills show 999',
    'payments import /nope.csv',
    'payments post --account NOPE --amount x',
    'ledger adjust --account NOPE --amount x --why y',
    'collections run --date bad',
    'autopay run --date bad',
    'arrangements create --account NOPE',
    'import cmep /nope.txt',
    'import csv /nope.csv --meter-map /nope-map.csv',
    'import greenbutton /tmp',
    'push token',
    'push serve --port x',
    'portal user x --role king',
    'portal user nobody --disable',
    'vee thresholds set water spike_ratio abc --from x --why y',
    'vee thresholds set lava spike_ratio 1 --from 2026-01-01 --why y',
    'dlq show x/y',
    'seed --meters x',
    'simulate --meters x',
    'bill-run --cycle NOPE',
    'bill-run --period-start notadate',
    'estimates wipe',
    'status --worker-metrics-port x',
    'demo --meters x',
    'accounts open --name Bo --cycle NOPE',
    'accounts close --name Bo --cycle C01',
    'premises add --address "1 Main St" --zone Nowhere/At_All',
    'premises add --address " "',
    'meters install M1 --premise 999 --service electric --unit Wh --interval-s 900 --at 2026-11-01T00:00:00-05:00',
    'meters install M1 --premise 1 --service water --unit Wh --interval-s 7 --at 2026-11-01T00:00:00-05:00',
    'meters install M1 --premise 1 --service electric --unit Wh --interval-s 900 --at 2026-11-01T00:00',
    'meters install M1 --at tomorrow',
    'meters exchange NOPE NEW --at 2026-11-01T00:00:00-05:00',
    'meters remove NOPE --at 2026-11-01T00:00:00-05:00',
    'service start --account NOPE --premise 1 --service gas --tariff G-RES --on 2026-11-01',
    'service start --account NOPE --premise 1 --service gas --on 2026-11-01',
    'service stop --account NOPE --premise 1 --service gas --on 2026-11-31',
    'service transfer --account NOPE --premise 1 --service gas --on 2026-11-01',
    'deposits review --date someday',
    'service stop --account NOPE --premise 999 --service gas --on 2026-11-01 --final-read lots',
    'orders show 999',
    'orders approve 999 --why "looks right"',
    'orders schedule 1',
    'orders create --kind connect --premise 999 --why "new build"',
    'orders complete 999 --at yesterday --why done',
    'orders protect --account NOPE --until 2027-01-01 --why certificate',
    'orders list --kind lava',
    'cases open --account NOPE --kind high_bill --summary "too high"',
    'cases show 999',
    'cases close 999',
    'cases update 999 --why "a note"',
    'contacts log --account NOPE',
    'contacts list --account NOPE --channel pigeon',
]


@pytest.fixture(scope="module")
def walked(base_settings):
    """One fresh database for the whole walk: the commands change nothing in it."""
    settings = fresh_settings(base_settings, "cli")
    yield settings
    drop_fresh(base_settings, settings)


def run(argv: list[str], capsys) -> tuple[int, list[str]]:
    try:
        status = main(argv)
    except SystemExit as stopped:  # the parser's own exit, after its one line
        status = stopped.code
    return status, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_the_walk_covers_every_command():
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert {shlex.split(m)[0] for m in MISTAKES} == set(commands)


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_gets_one_line_with_a_code_and_exit_2(mistake, walked, monkeypatch, capsys):
    for name, value in walked.to_env().items():
        monkeypatch.setenv(name, value)
    status, lines = run(shlex.split(mistake), capsys)
    assert status == 2 and len(lines) == 1 and LINE.match(lines[0]), (mistake, status, lines)
