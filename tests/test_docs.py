"""The README and docs/ stay true: links resolve inside the repository, and the tables generated from or
checked against the code (OCPP keys, feature profiles, config-file keys, the certified station's
values) match it."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest

from ocpp_station import config
from ocpp_station.features import default_features
from ocpp_station.ocpp.actions import ACTIONS, Direction

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("docs_key_table", ROOT / "scripts" / "docs_key_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


# -- links -------------------------------------------------------------------------------------

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The text without code blocks and code spans (what looks like a link there is not one)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a markdown text."""
    seen: dict[str, int] = {}
    out = set()
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", plain.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(path: Path, root: Path) -> list[str]:
    """Every link of ``path`` that leaves ``root``, names a missing file, or a missing heading."""
    text = path.read_text(encoding="utf-8")
    problems = []
    for target in _LINK.findall(_prose(text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path.resolve()
        where = f"{path.relative_to(root)}: ({target})"
        if not dest.is_relative_to(root.resolve()):
            problems.append(f"{where} points outside the repository")
        elif not dest.exists():
            problems.append(f"{where} points to a missing file")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest.read_text(encoding="utf-8")):
            problems.append(f"{where} names no heading of {dest.relative_to(root.resolve())}")
    return problems


def test_readme_and_docs_links_resolve_inside_the_repository():
    problems = [p for f in markdown_files() for p in broken_links(f, ROOT)]
    assert problems == []


def test_the_reference_indexes_every_document_and_the_readme_links_it():
    index = (DOCS / "reference.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for target in _LINK.findall(_prose(index))}
    assert {p.name for p in DOCS.glob("*.md")} - {"reference.md"} <= linked
    assert "docs/reference.md" in _LINK.findall(_prose((ROOT / "README.md").read_text(encoding="utf-8")))


def test_the_link_check_catches_outside_missing_and_dangling_links(tmp_path):
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (tmp_path / "shared.md").write_text("# Outside\n")
    (repo / "docs" / "a.md").write_text("# A title\n\n## Where `data_dir` is\n")
    readme = repo / "README.md"
    readme.write_text(
        "[ok](docs/a.md) [ok](docs/a.md#where-data_dir-is) [ok](#top) [web](https://example.com/x)\n"
        "`[code](nowhere.md)`\n```\n[block](nowhere.md)\n```\n"
        "[out](../shared.md) [gone](docs/b.md) [dangling](docs/a.md#nothing)\n# Top\n"
    )
    assert broken_links(readme, repo) == [
        "README.md: (../shared.md) points outside the repository",
        "README.md: (docs/b.md) points to a missing file",
        "README.md: (docs/a.md#nothing) names no heading of docs/a.md",
    ]


def test_anchors_follow_github():
    text = "# Control API (HTTP + JSON, on `[control].listen`)\n## The CSMS password (AuthorizationKey)\n## Reading the seed's table\n## Notes\n## Notes\n"
    assert anchors(text) == {
        "control-api-http--json-on-controllisten",
        "the-csms-password-authorizationkey",
        "reading-the-seeds-table",
        "notes",
        "notes-1",
    }


# -- the OCPP configuration keys ---------------------------------------------------------------


def test_the_key_table_is_the_registry():
    documented = GEN.documented((DOCS / "configuration.md").read_text(encoding="utf-8"))
    assert documented == GEN.render(), "docs/configuration.md is stale: run python scripts/docs_key_table.py --write"


def test_the_key_table_check_sees_a_changed_default():
    specs = GEN.registry()
    specs["HeartbeatInterval"] = dataclasses.replace(specs["HeartbeatInterval"], default="300")
    documented = GEN.documented((DOCS / "configuration.md").read_text(encoding="utf-8"))
    assert documented != GEN.render(specs)


def _table_after(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table after ``heading``, header and rule excluded."""
    lines = text[text.index(heading) :].splitlines()[1:]
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith("|"):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
        elif rows:
            break
    return rows[2:]


def test_the_seed_page_agrees_with_the_registry_where_the_certificate_is_readable():
    rows = _table_after((DOCS / "seed-station.md").read_text(encoding="utf-8"), "## Configuration table")
    seed = {key: value for key, value in rows}
    specs = GEN.registry(profiles=("Core",), security=False)  # the certified station is Core only
    assert set(specs) - set(seed) == {"AuthorizationKey"}  # every other key of the station is in the table
    for name, value in seed.items():
        if name in specs and value != "-" and not value.startswith("*damaged*"):
            assert specs[name].default.lower() == value.lower(), name


# -- the feature profiles ----------------------------------------------------------------------


def _actions(cell: str) -> set[str]:
    return set(re.findall(r"`(\w+)`", cell))


def test_the_profile_table_is_true_to_the_code():
    text = (DOCS / "reference.md").read_text(encoding="utf-8")
    block = text[text.index("<!-- profiles:begin -->") : text.index("<!-- profiles:end -->")]
    rows = _table_after(block, "<!-- profiles:begin -->")
    table = {profile: (status, _actions(to_cp), _actions(to_csms)) for profile, status, to_cp, to_csms in rows}

    profiles = {p for _d, p in ACTIONS.values()}
    assert set(table) == profiles
    for profile, (status, to_cp, to_csms) in table.items():
        # the security extension is "with `[security]`": part of a station whose config has that table
        assert status in ("implemented", "planned", "with `[security]`"), profile
        assert to_cp == {a for a, (d, p) in ACTIONS.items() if p == profile and d != Direction.CP_TO_CSMS}, profile
        assert to_csms == {a for a, (d, p) in ACTIONS.items() if p == profile and d != Direction.CSMS_TO_CP}, profile

    implemented = {p for p, (status, _c, _s) in table.items() if status == "implemented"}
    assert implemented == {"Core"} | {cls.profile for cls in default_features()}
    specs = GEN.registry()
    assert set(specs["SupportedFeatureProfiles"].default.split(",")) == implemented  # Security adds no name

    # the station answers exactly the CSMS actions of the implemented profiles, and with [security] those of the
    # extension; the two that need Firmware Management's transfers are named in the notes below the table
    assert set(GEN.station(security=False).handlers) == {a for p in implemented for a in table[p][1]}
    with_transfers = {"GetLog", "SignedUpdateFirmware"}
    assert with_transfers <= set(re.findall(r"`(\w+)`", text[text.index("<!-- profiles:end -->"):][:1500]))
    assert set(GEN.station().handlers) == {a for p in implemented for a in table[p][1]} | table["Security"][1]


# -- the station file ----------------------------------------------------------------------------


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def test_the_config_tables_name_every_key_with_its_default(tmp_path):
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    run = config.load_settings(None)
    st = run.station
    defaults = {
        "station": {
            "identity": st.identity,
            "csms_url": run.csms_url,
            "vendor": st.vendor,
            "model": st.model,
            "serial_number": st.serial_number,
            "firmware_version": st.firmware_version,
            "boot_retry_interval": st.boot_retry_interval,
            "max_frame_bytes": st.max_frame_bytes,
            "reconnect_min_delay": run.reconnect_min,
            "reconnect_max_delay": run.reconnect_max,
            "authorization_key_encoding": run.basic_auth_password_encoding,
            "meter_save_interval": st.meter_save_interval,
            "stop_grace": run.stop_grace,
            "ca_file": run.ca_file,
        },
        "hardware": {"connectors": st.connectors, "fixed_cable": st.fixed_cable, "connector_lock": st.connector_lock,
                     "meter_start_wh": run.meter_start_wh},
        "control": {},
        "logging": {"frame_log": run.frame_log, "frame_log_max_bytes": run.frame_log_max_bytes,
                    "frame_log_backups": run.frame_log_backups},
        "firmware": {"installer": run.installer, "command": run.install_command or None,
                     # whole seconds are written without ".0"
                     "install_timeout": int(run.install_timeout) if run.install_timeout.is_integer() else run.install_timeout,
                     "transfer_timeout": int(run.transfer_timeout) if run.transfer_timeout.is_integer() else run.transfer_timeout,
                     "http_upload": run.http_upload},
    }
    keys = {"station": config._STATION_KEYS, "hardware": config._HARDWARE_KEYS, "control": config._CONTROL_KEYS,
            "logging": config._LOGGING_KEYS, "firmware": config._FIRMWARE_KEYS, "security": config._SECURITY_KEYS}
    defaults["security"] = {"profile": 0, "legacy_update_firmware": False}
    for item, name in config._SECURITY_FILES.items():  # the file items default to <data_dir>/security/<name>
        rows = _table_after(text, "### `[security]`")
        assert {r[0].strip("`"): r[2] for r in rows}[item] == f"`<data_dir>/security/{name}`", item
    assert set(config._TABLES) == {*keys, "ocpp"}
    assert "### `[ocpp]`" in text
    for table, names in keys.items():
        rows = _table_after(text, f"### `[{table}]`")
        documented = {row[0].strip("`"): row[2] for row in rows}
        assert set(documented) == set(names), table
        for name, value in defaults[table].items():
            assert documented[name] == _show(value), f"{table}.{name}"
    assert run.data_dir == (Path.cwd() / "var" / st.identity).absolute()  # "var/<identity>" under the cwd


@pytest.mark.parametrize("doc", ["README.md", "docs/configuration.md"])
def test_the_example_station_files_load(doc, tmp_path):
    text = (ROOT / doc).read_text(encoding="utf-8")
    examples = re.findall(r"^```toml\n(.*?)^```", text, re.S | re.M)
    assert examples, f"{doc} has no station.toml example"
    for example in examples:
        path = tmp_path / "station.toml"
        path.write_text(example, encoding="utf-8")
        run = config.load_settings(path)  # raises ConfigError on anything the station would refuse
        assert run.station.identity == "CP001"


def test_the_measurand_list_is_the_simulated_meter():
    from ocpp_station.hardware import simulated

    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    section = text[text.index("### Measurands") : text.index("### Reading the seed's table")]
    named = set(re.findall(r"`([\w.-]+)`", section))
    assert simulated.MEASURANDS | simulated.PHASED <= named
    assert {n[1:] for n in named if n.startswith(".")} == simulated.PHASES
