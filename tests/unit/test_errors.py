"""One error tree: every error the project raises on purpose derives from ``config.errors.M2CError``,
each class with a code of its own and an HTTP status; no stand-alone exception classes, no bare
built-in exceptions raised for a caller's mistake."""
import ast
import importlib
from pathlib import Path

from config.errors import M2CError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "rating", "meterdata", "simulators", "storage", "vee", "cis", "billing", "streams", "portal",
            "migration", "scenarios", "meter2cash")
ERROR_MODULES = ("rating.errors", "rating.csv_usage", "billing.errors", "meterdata.errors", "meterdata.codec",
                 "cis.errors", "storage.errors", "vee.errors", "streams.errors", "portal.errors", "migration.errors",
                 "meter2cash.arguments")
BUILTIN = {"Exception", "ValueError", "RuntimeError", "LookupError", "KeyError", "TypeError", "ArithmeticError"}
# built-in exceptions raised and caught inside one function, never reaching a caller
RAISED_AND_CAUGHT_HERE = {"rating/csv_usage.py", "scenarios/harness.py"}


def every_error() -> list[type]:
    for name in ERROR_MODULES:
        importlib.import_module(name)
    found, todo = [], [M2CError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_has_a_code_of_its_own_and_a_status():
    classes = every_error()
    assert len(classes) > 40
    codes: dict[str, type] = {}
    for cls in classes:
        assert "code" in vars(cls), f"{cls.__module__}.{cls.__name__} has no code of its own"
        assert 400 <= cls.status <= 599, cls
        assert cls.code not in codes, f"{cls.code} is the code of {codes[cls.code].__name__} and {cls.__name__}"
        codes[cls.code] = cls


def test_no_exception_class_outside_the_tree_and_no_bare_builtin_raised():
    wrong = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(), where)):
                if isinstance(node, ast.ClassDef) and node.name != "M2CError" and {getattr(b, "id", None) for b in node.bases} & BUILTIN \
                        and not {getattr(b, "id", None) for b in node.bases} - BUILTIN - {None}:
                    wrong.append(f"{where}:{node.lineno}: class {node.name} stands outside the error tree")
                if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                        and getattr(node.exc.func, "id", None) in BUILTIN - {"Exception"} \
                        and where not in RAISED_AND_CAUGHT_HERE:
                    wrong.append(f"{where}:{node.lineno}: raises a bare {node.exc.func.id}")
    assert not wrong, "\n".join(wrong)


def test_an_error_keeps_a_code_given_to_one_instance_only_on_that_instance():
    from meterdata.codec import DecodeError

    error = DecodeError("bad_magic", "not a meter2cash message")
    assert error.code == "bad_magic" and DecodeError.code == "undecodable" and isinstance(error, ValueError)
