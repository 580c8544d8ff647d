"""The Kiswahili catalogue (locale/, docs/i18n.md) is complete and sound.

Every string marked for translation in the guest's site — templates and Python of the apps,
collected by `makemessages` exactly as a developer runs it — must have a Kiswahili
translation that is not fuzzy, whose placeholders and HTML tags match the English, and the
committed .mo (what Django reads) must say the same as the .po (what people edit).

Not collected (they stay English on purpose, see docs/i18n.md): the Wagtail admin's own
templates and panels (staff and hosts work in the admin, whose language is English only:
templates/backoffice, templates/wagtailusers, the admin panels under mpesa/templates/mpesa/
money_out and templates/mpesa's admin pages, the admin dashboard panel), and the M-Pesa
simulator's virtual phone (a development stand-in for Safaricom's own screens).
"""

import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)

# What `makemessages` reads: the project's code and templates (not the virtualenv, tests,
# benchmarks, build output or runtime data); docs/ only because the settings read a page of it.
SOURCES = ["accounts", "core", "listings", "mpesa", "reservations", "nexus", "templates", "locale", "docs", "manage.py"]
# The exact command is in docs/i18n.md; these are its --ignore patterns.
IGNORE = [
    ".venv",
    "var",
    "tests",
    "bench",
    "staticfiles",
    "node_modules",
    "test-artifacts",
    # An app's own locale/ would take that app's strings away from the project catalogue.
    "*/locale",
    "mpesa/simulator/*",
    "templates/backoffice/*",
    "templates/wagtailusers/*",
    "mpesa/templates/mpesa/money_out/*",
    "templates/mpesa/unmatched_panel.html",
    "templates/mpesa/callback_inspect.html",
    "templates/accounts/dashboard_personal_data.html",
]

PLACEHOLDER = re.compile(r"%\(\w+\)[sdfi]|%[sdfi]|%%|\{\w*\}")
TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)")


# --- A small .po reader (no third-party dependency) -----------------------------------------


def _unquote(literal: str) -> str:
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr {index: text}, flags."""
    entries, entry, key = [], None, None

    def fresh():
        return {"msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": {}, "flags": set(), "where": ""}

    entry = fresh()
    for line in path.read_text(encoding="utf-8").split("\n") + [""]:
        if not line.strip():
            if entry["msgid"] is not None:
                entries.append(entry)
            entry, key = fresh(), None
        elif line.startswith("#~"):
            entry["obsolete"] = True
        elif line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#:"):
            entry["where"] = entry["where"] or line[2:].split()[0]
        elif line.startswith("#"):
            continue
        elif match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line):
            name, index, text = match.group(1), match.group(2), _unquote(match.group(3))
            if name.startswith("msgstr"):
                key = ("msgstr", int(index or 0))
                entry["msgstr"][key[1]] = text
            else:
                key = (name, None)
                entry[name] = text
        elif line.startswith('"'):
            if key[0] == "msgstr":
                entry["msgstr"][key[1]] += _unquote(line)
            else:
                entry[key[0]] += _unquote(line)
    return [e for e in entries if not e.get("obsolete")]


def _label(entry) -> str:
    context = f"[{entry['msgctxt']}] " if entry["msgctxt"] else ""
    return f"{context}{entry['msgid']!r} ({entry['where']})"


def _catalogues(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("locale/sw/LC_MESSAGES/django.po") if ".venv" not in p.parts)


# --- The collected strings are all translated -------------------------------------------------


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> list[dict]:
    """Run makemessages for "sw" on a copy of the project, so the tree is never touched:
    msgmerge keeps the committed translations, and leaves new strings empty (or fuzzy)."""
    root = tmp_path_factory.mktemp("catalogue")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo")
    for name in SOURCES:
        source = BASE_DIR / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=skip)
        elif source.exists():
            shutil.copy2(source, root / name)
    command = [sys.executable, "manage.py", "makemessages", "-l", "sw", "--no-obsolete", "--no-location"]
    command += [f"--ignore={pattern}" for pattern in IGNORE]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # --no-location keeps the copy small; the committed catalogues give the locations back.
    entries = []
    for path in _catalogues(root):
        entries += read_po(path)
    assert len(entries) > 100, "makemessages collected almost nothing: is the copy complete?"
    return entries


def test_every_collected_string_has_a_kiswahili_translation(collected):
    committed = {(e["msgctxt"], e["msgid"]): e["where"] for path in _catalogues(BASE_DIR) for e in read_po(path)}
    missing = []
    for entry in collected:
        if entry["msgid"] == "":
            continue
        entry["where"] = committed.get((entry["msgctxt"], entry["msgid"])) or "new string"
        translations = entry["msgstr"]
        expected = 2 if entry["msgid_plural"] is not None else 1
        if "fuzzy" in entry["flags"] or len(translations) < expected or not all(translations.values()):
            missing.append(_label(entry))
    assert not missing, (
        f"{len(missing)} string(s) without a Kiswahili translation in locale/sw/LC_MESSAGES/django.po "
        "(run the makemessages command in docs/i18n.md, translate, then msgfmt):\n  " + "\n  ".join(missing)
    )


def test_translations_keep_the_placeholders_and_tags():
    wrong = []
    for path in _catalogues(BASE_DIR):
        for entry in read_po(path):
            if not entry["msgid"] or "fuzzy" in entry["flags"]:
                continue
            for index, text in entry["msgstr"].items():
                if not text:
                    continue
                source = entry["msgid_plural"] if index > 0 and entry["msgid_plural"] is not None else entry["msgid"]
                if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(source)):
                    wrong.append(f"{_label(entry)} placeholders {sorted(PLACEHOLDER.findall(text))}")
                if sorted(TAG.findall(text)) != sorted(TAG.findall(source)):
                    wrong.append(f"{_label(entry)} HTML tags {sorted(TAG.findall(text))}")
    assert not wrong, "Translations that would break on the page:\n  " + "\n  ".join(wrong)


def test_the_catalogue_header_is_kiswahili_with_two_plural_forms():
    header = read_po(BASE_DIR / "locale/sw/LC_MESSAGES/django.po")[0]
    assert header["msgid"] == "" and "fuzzy" not in header["flags"]
    assert "Language: sw\n" in header["msgstr"][0]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header["msgstr"][0]


# --- The compiled .mo says what the .po says ---------------------------------------------------


def _expected_catalog(po_path: Path) -> dict:
    expected = {}
    for entry in read_po(po_path):
        if not entry["msgid"] or "fuzzy" in entry["flags"]:
            continue
        msgid = f"{entry['msgctxt']}\x04{entry['msgid']}" if entry["msgctxt"] else entry["msgid"]
        if entry["msgid_plural"] is not None:
            if all(entry["msgstr"].values()):
                for index, text in entry["msgstr"].items():
                    expected[(msgid, index)] = text
        elif entry["msgstr"].get(0):
            expected[msgid] = entry["msgstr"][0]
    return expected


@pytest.mark.parametrize("po_path", _catalogues(BASE_DIR), ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_the_committed_mo_matches_the_po(po_path):
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path.relative_to(BASE_DIR)} is missing: msgfmt -o {mo_path.name} {po_path.name}"
    with mo_path.open("rb") as handle:
        compiled = dict(gettext.GNUTranslations(handle)._catalog)
    compiled.pop("", None)
    expected = _expected_catalog(po_path)
    stale = sorted(str(key) for key in set(expected) ^ set(compiled))
    stale += sorted(str(key) for key in set(expected) & set(compiled) if expected[key] != compiled[key])
    assert not stale, (
        f"{mo_path.relative_to(BASE_DIR)} is stale; run msgfmt --check -o {mo_path} {po_path}:\n  "
        + "\n  ".join(stale[:50])
    )


def test_msgfmt_accepts_the_catalogue(tmp_path):
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.fail("msgfmt (GNU gettext) is needed to compile the catalogue: apt-get install gettext")
    for po_path in _catalogues(BASE_DIR):
        result = subprocess.run(
            [msgfmt, "--check", "-o", str(tmp_path / "check.mo"), str(po_path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
